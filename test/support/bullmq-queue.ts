// Per-test BullMQ plumbing over the file's redis-server: a fresh queue and its QueueEvents for each test, and a
// job's end as a value.
import { Queue, QueueEvents, type Job } from 'bullmq';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { redisRequired, redisServerPath, startRedis, type RedisServer } from './redis.js';

export interface QueueContext {
  readonly redis: RedisServer;
  readonly name: string;
  readonly queue: Queue;
  readonly events: QueueEvents;
  /** The job's end: its return value or its failedReason, and the worker name that ran it. */
  ending(job: Job): Promise<{ result?: unknown; failed?: string; by?: string | undefined }>;
}

/**
 * Starts a redis-server for the file (stopped after it) and a queue named `${prefix}-${n}` for each test (closed
 * after it, after `beforeClose`). Read the returned object's fields inside tests only.
 */
export function useQueue(prefix: string, beforeClose: () => Promise<void> = async () => {}): QueueContext {
  let redis: RedisServer | undefined;
  let current: { name: string; queue: Queue; events: QueueEvents } | undefined;
  let count = 0;
  beforeAll(async () => {
    if (redisServerPath === undefined && redisRequired) throw new Error('CI=true and no redis-server on this machine');
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  beforeEach(async () => {
    const name = `${prefix}-${++count}`;
    const queue = new Queue(name, { connection: redis!.connection });
    const events = new QueueEvents(name, { connection: redis!.connection });
    current = { name, queue, events };
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  });
  afterEach(async () => {
    await beforeClose();
    await Promise.all([current?.queue.close(), current?.events.close()]);
  });
  const context: QueueContext = {
    get redis() {
      return redis!;
    },
    get name() {
      return current!.name;
    },
    get queue() {
      return current!.queue;
    },
    get events() {
      return current!.events;
    },
    async ending(job) {
      const { queue, events } = current!;
      try {
        const result: unknown = await job.waitUntilFinished(events);
        return { result, by: (await queue.getJob(job.id!))?.processedBy };
      } catch (error) {
        return { failed: (error as Error).message, by: (await queue.getJob(job.id!))?.processedBy };
      }
    },
  };
  return context;
}
