import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/*
 * A throwaway Redis on the loopback interface, for tests and benchmarks: its own port, nothing
 * saved to disk, stopped with the object that started it.
 */

export interface LocalRedis {
  /** `redis://127.0.0.1:PORT/0` (`rediss://` with TLS), with the password when one was set. */
  url: string;
  port: number;
  /** The redis-server process. */
  pid: number;
  stop(): Promise<void>;
}

/** Where Debian's redis-server package installs the server; else it is looked for on the PATH. */
const DEBIAN_SERVER = '/usr/bin/redis-server';

export function redisServerPath(): string | undefined {
  if (existsSync(DEBIAN_SERVER)) return DEBIAN_SERVER;
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir !== '' && existsSync(`${dir}/redis-server`)) return `${dir}/redis-server`;
  }
  return undefined;
}

/** A port nothing listens on now (the kernel's choice). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A TLS-only server: its certificate and key, and the CA that signed it (PEM files). */
export interface LocalRedisTls {
  cert: string;
  key: string;
  ca: string;
}

async function waitUntilAnswering(port: number, password: string | undefined, tls: LocalRedisTls | undefined, child: ChildProcess, output: () => string): Promise<void> {
  const { Redis } = await import('ioredis');
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}: ${output().trim()}`);
    const client = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      ...(password !== undefined ? { password } : {}),
      ...(tls !== undefined ? { tls: { ca: readFileSync(tls.ca) } } : {}),
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within 10 s: ${output().trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      client.disconnect();
    }
  }
}

/**
 * Starts redis-server on 127.0.0.1 at a free port, without persistence (`--save ''
 * --appendonly no`), optionally with a password. Throws when redis-server is not installed.
 */
export async function startLocalRedis(options: { password?: string; port?: number; tls?: LocalRedisTls } = {}): Promise<LocalRedis> {
  const server = redisServerPath();
  if (server === undefined) throw new Error('redis-server is not installed (apt-get install redis-server)');
  const port = options.port ?? (await freePort());
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'];
  const { tls } = options;
  if (tls === undefined) args.push('--port', String(port));
  else args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no');
  if (options.password !== undefined) args.push('--requirepass', options.password);
  const child = spawn(server, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-4000)));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output = (output + chunk).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitUntilAnswering(port, options.password, tls, child, () => output);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const auth = options.password !== undefined ? `:${encodeURIComponent(options.password)}@` : '';
  return {
    url: `${tls !== undefined ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}/0`,
    port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
