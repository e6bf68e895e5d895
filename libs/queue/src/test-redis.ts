import { describe } from 'vitest';
import { redisServerPath } from './local-redis';

/**
 * `describe` for suites that start their own redis-server: skipped where it is not installed,
 * except where DLEXP_REQUIRE_REDIS=1 (CI), where they run and fail.
 */
export const describeWithRedis = redisServerPath() !== undefined || process.env['DLEXP_REQUIRE_REDIS'] === '1' ? describe : describe.skip;
