import { isIP } from 'node:net';
import type { RedisOptions } from 'bullmq';
import { ConfigError } from '@dlexp/core';
import type { QueueTarget } from './queue-url';

/** How long the first contact with Redis may take before the queue is called unreachable. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/**
 * ioredis options for a target. BullMQ's connections reconnect for ever once they are up (a
 * worker outlives a Redis restart); the first contact is checked separately, with a deadline.
 */
export function redisOptions(target: QueueTarget, extra: RedisOptions = {}): RedisOptions {
  return {
    host: target.host,
    port: target.port,
    db: target.db,
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.tls ? { tls: isIP(target.host) === 0 ? { servername: target.host } : {} } : {}),
    connectTimeout: DEFAULT_CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: null,
    ...extra,
  };
}

/** A problem with the queue the user can fix (the URL, the server, the password): exit 2 in the CLI. */
function unusable(target: QueueTarget, why: string): ConfigError {
  return new ConfigError(`--queue ${target.display}: ${why}`);
}

/** Words for what ioredis and Node said when the first contact failed. */
export function explainConnectionError(target: QueueTarget, error: unknown, timeoutMs: number): ConfigError {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  const where = `${target.host}:${target.port}`;
  if (/WRONGPASS|invalid username-password|invalid password/i.test(message)) {
    return unusable(target, `Redis refused the ${target.username !== undefined ? 'user name or password' : 'password'} (${message.trim()})`);
  }
  if (/NOAUTH/i.test(message)) return unusable(target, `Redis asks for a password, and the URL has none: redis://:PASSWORD@${where}/${target.db} (${message.trim()})`);
  if (/DB index is out of range|invalid DB index/i.test(message)) return unusable(target, `Redis has no database ${target.db} (${message.trim()})`);
  if (code === 'ECONNREFUSED') return unusable(target, `nothing accepts connections at ${where} (is redis-server running there?)`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return unusable(target, `the host ${target.host} is unknown (${message})`);
  if (code === 'ETIMEDOUT' || /timed? ?out/i.test(message)) {
    return unusable(target, `no answer from ${where} within ${(timeoutMs / 1000).toFixed(0)} s${target.tls ? ' (rediss:// speaks TLS: does the server?)' : ' (a firewall, a wrong address, or a TLS-only server that needs rediss://?)'}`);
  }
  if (/Protocol error/i.test(message)) return unusable(target, `what answers at ${where} is not Redis (${message.replace(/ Please report this\.?/, '')})`);
  if (/self.signed|unable to (get|verify)|certificate/i.test(message)) {
    return unusable(target, `the TLS handshake failed: ${message} (a server certificate from a private CA: give the CA to Node with NODE_EXTRA_CA_CERTS=ca.pem)`);
  }
  if (/SSL|TLS|EPROTO|wrong version number/i.test(message)) return unusable(target, `the TLS handshake failed: ${message}`);
  return unusable(target, `cannot use Redis at ${where}: ${message}`);
}

/**
 * Connects to the queue's Redis once, with a deadline, and checks that it answers and accepts the
 * credentials: a bad URL or a down server is a ConfigError within `timeoutMs`, not a hang. Returns
 * the server's version.
 */
export async function checkQueueConnection(target: QueueTarget, timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Promise<{ redisVersion: string }> {
  const { Redis } = await import('ioredis');
  const client = new Redis(
    redisOptions(target, {
      lazyConnect: true,
      connectTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      reconnectOnError: () => false,
    }),
  );
  let lastError: unknown;
  // ioredis reports some failures (a refused AUTH) as events besides the rejected promise.
  client.on('error', (error: unknown) => (lastError ??= error));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
  });
  try {
    const info = await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
        // ioredis selects the database in the background; a missing one must fail here.
        if (target.db !== 0) await client.select(target.db);
        return client.info('server');
      })(),
      deadline,
    ]);
    const redisVersion = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? 'unknown';
    return { redisVersion };
  } catch (error) {
    throw explainConnectionError(target, lastError !== undefined && !(error instanceof Error && /WRONGPASS|NOAUTH/.test(error.message)) ? pick(error, lastError) : error, timeoutMs);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    client.disconnect();
  }
}

/** The more telling of two errors: one with a code or a Redis reply over a generic "Connection is closed". */
function pick(error: unknown, earlier: unknown): unknown {
  const generic = (e: unknown) => e instanceof Error && /Connection is closed|Stream isn't writeable/i.test(e.message);
  return generic(error) ? earlier : error;
}
