import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConfigError } from '@dlexp/core';
import { checkQueueConnection } from './connection';
import { freePort, startLocalRedis, type LocalRedis } from './local-redis';
import { parseQueueUrl } from './queue-url';
import { describeWithRedis } from './test-redis';

describeWithRedis('the first contact with the queue', () => {
  let redis: LocalRedis;
  beforeAll(async () => {
    redis = await startLocalRedis({ password: 'pa ss' });
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('succeeds with the password, and says the server version', async () => {
    await expect(checkQueueConnection(parseQueueUrl(redis.url))).resolves.toEqual({ redisVersion: expect.stringMatching(/^\d+\.\d+/) });
  });

  it('a wrong or missing password, or a database the server lacks, is a config error that says so', async () => {
    const port = redis.port;
    await expect(checkQueueConnection(parseQueueUrl(`redis://:wrong@127.0.0.1:${port}/0`))).rejects.toThrow(
      `--queue redis://:***@127.0.0.1:${port}/0: Redis refused the password (WRONGPASS invalid username-password pair or user is disabled.)`,
    );
    await expect(checkQueueConnection(parseQueueUrl(`redis://127.0.0.1:${port}/0`))).rejects.toThrow(/Redis asks for a password, and the URL has none/);
    await expect(checkQueueConnection(parseQueueUrl(`redis://:pa%20ss@127.0.0.1:${port}/4000`))).rejects.toThrow(/Redis has no database 4000/);
  });

  it('nothing listening, or no answer, fails within the deadline', async () => {
    const closed = await freePort();
    const started = Date.now();
    const refused = checkQueueConnection(parseQueueUrl(`redis://127.0.0.1:${closed}/0`), 2000);
    await expect(refused).rejects.toThrow(ConfigError);
    await expect(refused).rejects.toThrow(`nothing accepts connections at 127.0.0.1:${closed}`);
    // TLS spoken to a plain server: the handshake never completes.
    await expect(checkQueueConnection(parseQueueUrl(`rediss://:pa%20ss@127.0.0.1:${redis.port}/0`), 1500)).rejects.toThrow(/no answer from 127\.0\.0\.1:\d+ within 2 s \(rediss:\/\/ speaks TLS/);
    expect(Date.now() - started).toBeLessThan(8000);
  });
});
