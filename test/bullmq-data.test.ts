// The data path through BullMQ, against a real redis-server: a processor's value is the job's return value (and a
// value JSON cannot hold fails the job, naming it), ctx.progress is the job's progress, and a flow's parent gets
// its children's values. Every wait is on a BullMQ event or a job's end.
import { FlowProducer, type Job } from 'bullmq';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { startConsumer, type Consumer } from 'light-task-tracker/bullmq';
import { processors } from './support/fixtures.js';
import { useQueue } from './support/bullmq-queue.js';
import { skipRedisTests } from './support/redis.js';

describe.skipIf(skipRedisTests)('BullMQ consumer: values, progress, flows', () => {
  const consumers: Consumer[] = [];
  const ctx = useQueue('data', async () => {
    await Promise.all(consumers.splice(0).map((consumer) => consumer.close({ deadlineMs: 0 })));
  });

  async function consumer(): Promise<Consumer> {
    const started = await startConsumer({
      queue: ctx.name,
      connection: ctx.redis.connection,
      runtime: { processors, maxThreads: 2, logger: pino({ level: 'silent' }) },
    });
    consumers.push(started);
    return started;
  }

  test('a processor value is the job\'s return value; with none, the result text is', { timeout: 15_000 }, async () => {
    await consumer();
    const withValue = await ctx.queue.add('v', { processor: 'data', params: { mode: 'value', value: { digest: 'abc', sizes: [1, 2], nested: { ok: true } } } });
    const withText = await ctx.queue.add('t', { processor: 'succeed', params: 'x' });
    expect(await ctx.ending(withValue)).toMatchObject({ result: { digest: 'abc', sizes: [1, 2], nested: { ok: true } } });
    expect(await ctx.ending(withText)).toMatchObject({ result: 'hello x' });
  });

  test('a value JSON cannot hold fails the job for good, naming the part: binary, a Map, NaN, a Date', { timeout: 15_000 }, async () => {
    await consumer();
    const binary = await ctx.queue.add('b', { processor: 'data', params: { mode: 'deep', size: 16, width: 4 } }, { attempts: 3 });
    const map = await ctx.queue.add('m', { processor: 'data', params: { mode: 'odd', kind: 'map' } });
    const nan = await ctx.queue.add('n', { processor: 'data', params: { mode: 'odd', kind: 'nan' } });
    const date = await ctx.queue.add('d', { processor: 'data', params: { mode: 'odd', kind: 'date' } });
    expect(await ctx.ending(binary)).toEqual(expect.objectContaining({ failed: 'ERR_JOB_VALUE: value.image is a Uint8Array (binary), which a BullMQ job\'s return value (stored as JSON) cannot hold' }));
    // Not retried: the same value would come again.
    expect((await ctx.queue.getJob(binary.id!))?.attemptsMade).toBe(1);
    expect((await ctx.ending(map)).failed).toMatch(/^ERR_JOB_VALUE: value\.counts is a Map,/);
    expect((await ctx.ending(nan)).failed).toMatch(/^ERR_JOB_VALUE: value\[1\] is NaN,/);
    expect((await ctx.ending(date)).failed).toMatch(/^ERR_JOB_VALUE: value\.when is a Date,/);
  });

  test('ctx.progress is the job\'s progress, coalesced, the latest last; RUNNING reports leave it to the processor', { timeout: 15_000 }, async () => {
    await consumer();
    const seen: unknown[] = [];
    const job = await ctx.queue.add('p', { processor: 'data', params: { mode: 'progress-async', n: 20, everyMs: 2 } });
    const onProgress = ({ jobId, data }: { jobId: string; data: unknown }): void => {
      if (jobId === job.id) seen.push(data);
    };
    ctx.events.on('progress', onProgress);
    await ctx.ending(job);
    ctx.events.off('progress', onProgress);
    const stored = await ctx.queue.getJob(job.id!);
    expect(stored?.progress).toEqual({ done: 19, of: 20 });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((value) => typeof value === 'object' && value !== null && (value as { of?: number }).of === 20)).toBe(true);
  });

  test('a flow\'s parent gets its three children\'s values (map, then reduce)', { timeout: 15_000 }, async () => {
    await consumer();
    const flows = new FlowProducer({ connection: ctx.redis.connection });
    try {
      const flow = await flows.add({
        name: 'sum',
        queueName: ctx.name,
        data: { processor: 'data', params: { mode: 'sum-children' } },
        children: [3, 4, 5].map((n) => ({ name: `square-${n}`, queueName: ctx.name, data: { processor: 'data', params: { mode: 'value', value: n * n } } })),
      });
      const parent = flow.job as Job;
      expect(await ctx.ending(parent)).toMatchObject({ result: { sum: 9 + 16 + 25, children: 3 } });
      const children = await (await ctx.queue.getJob(parent.id!))!.getChildrenValues();
      expect(Object.values(children).sort((a, b) => a - b)).toEqual([9, 16, 25]);
    } finally {
      await flows.close();
    }
  });
});
