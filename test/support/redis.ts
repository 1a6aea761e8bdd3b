// The BullMQ tests' redis-server (the cluster example's launcher): when this machine has none, the tests skip with a
// notice, except under CI=true, where they fail.
import { findRedisServer } from '../../examples/cluster/redis-server.js';

export { startRedis, type RedisServer } from '../../examples/cluster/redis-server.js';

export const redisServerPath = findRedisServer();
/** CI demands a server: without one the BullMQ tests fail instead of skipping. */
export const redisRequired = process.env.CI === 'true';
export const skipRedisTests = redisServerPath === undefined && !redisRequired;
if (skipRedisTests) {
  console.warn('NOTICE: redis-server not found on this machine: the BullMQ tests are skipped (install it with `apt-get install redis-server`; under CI=true they fail instead).');
}
