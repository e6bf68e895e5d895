import { ConfigError } from '@dlexp/core';

/** Where the queue lives: a Redis server, parsed from `redis://[user][:password@]host[:port][/db]` or `rediss://` (TLS). */
export interface QueueTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
  /** The URL as messages show it: the password replaced by `***`. */
  display: string;
}

/** The name of the queue when neither side names one: workers started with only the URL find the sweeps. */
export const DEFAULT_QUEUE_NAME = 'dlexp-trials';

const DEFAULT_PORT = 6379;
/** Redis' default number of databases is 16; servers may have more, so only the form is checked. */
const MAX_DB = 1_000_000;

function refuse(url: string, why: string): ConfigError {
  return new ConfigError(`--queue ${masked(url)}: ${why} (expected redis://[:password@]host[:port][/db] or rediss:// for TLS, e.g. redis://localhost:6379/0)`);
}

/** The URL with anything between `//` and `@` after a colon hidden, for messages about a URL that did not parse. */
function masked(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

/**
 * Parses a queue URL: scheme `redis` or `rediss` (TLS), an optional user and password (URL-encoded),
 * a host (a name, an IPv4 address or a bracketed IPv6 one), a port (default 6379) and a database
 * number as the path (default 0). Anything else — another scheme, a query, a bad port or database —
 * is a ConfigError that says what is wrong, so a typo never waits on a connection.
 */
export function parseQueueUrl(text: string): QueueTarget {
  const url = text.trim();
  if (url === '') throw refuse(text, 'the URL is empty');
  if (/^[^:/]+:\d+(\/\d*)?$/.test(url)) throw refuse(url, `the URL needs its scheme: redis://${url}`);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) throw refuse(url, 'not a URL');
  if (scheme !== 'redis' && scheme !== 'rediss') throw refuse(url, `the scheme must be redis or rediss, not '${scheme}'`);
  if (!url.slice(scheme.length + 1).startsWith('//')) throw refuse(url, 'the URL names no host');
  // The port is checked before the URL parser sees it, which would only say "Invalid URL".
  const authority = url.slice(scheme.length + 3).split(/[/?#]/)[0] ?? '';
  const hostAndPort = authority.slice(authority.lastIndexOf('@') + 1);
  const portText = /^(?:\[[^\]]*\]|[^:]*):(.*)$/.exec(hostAndPort)?.[1];
  let port = DEFAULT_PORT;
  if (portText !== undefined) {
    port = /^\d+$/.test(portText) ? Number(portText) : NaN;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw refuse(url, `the port must be a number from 1 to 65535, not '${portText}'`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw refuse(url, 'not a URL');
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw refuse(url, 'the URL names no host');
  const path = parsed.pathname.replace(/^\//, '');
  let db = 0;
  if (path !== '') {
    if (!/^\d+$/.test(path)) throw refuse(url, `the path must be a database number, not '/${path}'`);
    db = Number(path);
    if (db > MAX_DB) throw refuse(url, `database ${path} is out of range`);
  }
  if (parsed.search !== '' || parsed.hash !== '') throw refuse(url, 'options after ? or # are not understood (TLS is the rediss:// scheme, the password goes before @)');
  const decode = (part: string, what: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw refuse(url, `the ${what} is not valid URL encoding`);
    }
  };
  const username = parsed.username === '' ? undefined : decode(parsed.username, 'user name');
  const password = parsed.password === '' ? undefined : decode(parsed.password, 'password');
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const auth = username !== undefined || password !== undefined ? `${username ?? ''}${password !== undefined ? ':***' : ''}@` : '';
  return {
    host,
    port,
    db,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    tls: scheme === 'rediss',
    display: `${scheme}://${auth}${shownHost}:${port}/${db}`,
  };
}

/** A queue name: what BullMQ puts between its prefix and a job's id in Redis keys. */
export function checkQueueName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) {
    throw new ConfigError(`--queue-name '${name}': use letters, digits, '.', '_' and '-' (up to 100, starting with a letter or digit)`);
  }
  return name;
}
