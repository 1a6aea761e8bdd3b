// The BullMQ consumer in this process against a real redis-server: outcomes → job completion, data checks, retries
// on either side (never both), stops from another connection, lock renewal under a spinning thread, close().
// Every wait is on a BullMQ event, a job's end, or a processor log line: never a sleep.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Job, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { LogCapture } from './support/logs.js';
import { beforeEach, describe, expect, test } from 'vitest';
import { startConsumer, stopJob, type Consumer, type ConsumerOptions, type TaskJobProgress } from 'light-task-tracker/bullmq';
import type { ProcessorLogLine } from 'light-task-tracker';
import { fixture, processors } from './support/fixtures.js';
import { useQueue } from './support/bullmq-queue.js';
import { skipRedisTests } from './support/redis.js';

const allProcessors = { ...processors, spinFor: fixture('bullmq-spin-for'), checkpointSum: fixture('bullmq-checkpoint') };

/** 0 + 1 + … + (n - 1). */
const sumBelow = (n: number): number => (n * (n - 1)) / 2;

describe.skipIf(skipRedisTests)('BullMQ consumer (one process)', () => {
  const consumers: Consumer[] = [];
  const ctx = useQueue('consumer', async () => {
    await Promise.all(consumers.splice(0).map((consumer) => consumer.close({ deadlineMs: 0 })));
  });
  const lines: ProcessorLogLine[] = [];
  let lineWaiters: Array<{ match: (line: ProcessorLogLine) => boolean; resolve: () => void }> = [];
  let queue: Queue;
  let events: QueueEvents;
  let queueName: string;

  beforeEach(() => {
    ({ queue, events, name: queueName } = ctx);
    lines.length = 0;
    lineWaiters = [];
  });

  /** Resolves when a processor logs `msg` for the job `jobId` (any start of it, or the given one). */
  function processorLogged(jobId: string, msg: string, start?: number): Promise<void> {
    const instance = `${queueName}:${jobId}:${start ?? ''}`;
    const match = (line: ProcessorLogLine): boolean => line.msg === msg && (start === undefined ? line.instanceId.startsWith(instance) : line.instanceId === instance);
    if (lines.some(match)) return Promise.resolve();
    return new Promise((resolve) => lineWaiters.push({ match, resolve }));
  }

  async function consumer(options: Partial<ConsumerOptions['runtime']> = {}, worker: ConsumerOptions['worker'] = {}, more: Partial<ConsumerOptions> = {}): Promise<Consumer> {
    const started = await startConsumer({
      ...more,
      queue: queueName,
      connection: ctx.redis.connection,
      runtime: {
        processors: allProcessors,
        maxThreads: 2,
        logger: pino({ level: 'silent' }),
        onProcessorLog: (line) => {
          lines.push(line);
          lineWaiters = lineWaiters.filter((waiter) => (waiter.match(line) ? (waiter.resolve(), false) : true));
        },
        ...options,
      },
      worker,
    });
    consumers.push(started);
    return started;
  }

  /** Runs one command on a connection of its own, closed after it. */
  async function withClient<T>(command: (client: Redis) => Promise<T>): Promise<T> {
    const client = new Redis(ctx.redis.connection);
    try {
      return await command(client);
    } finally {
      await client.quit();
    }
  }

  async function ending(job: Job): Promise<{ result?: unknown; failed?: string }> {
    const { by: _by, ...end } = await ctx.ending(job);
    return end;
  }

  test('SUCCEED completes the job with the result; RUNNING reports are its progress, processor lines its log', { timeout: 15_000 }, async () => {
    await consumer({ statusReportIntervalMs: 20 });
    // Every job's first progress, whichever comes first (the quick job may report too on a loaded machine).
    const progress = new Map<string, unknown>();
    const progressed = new Set<(jobId: string) => void>();
    events.on('progress', ({ jobId, data }) => {
      if (!progress.has(jobId)) progress.set(jobId, data);
      for (const check of progressed) check(jobId);
    });
    const firstProgress = (jobId: string): Promise<unknown> => new Promise((resolve) => {
      const check = (id: string): void => {
        if (id !== jobId || !progress.has(jobId)) return;
        progressed.delete(check);
        resolve(progress.get(jobId));
      };
      progressed.add(check);
      check(jobId);
    });
    const slow = await queue.add('slow', { processor: 'sleep', params: { ms: 400 } });
    const slowProgress = firstProgress(slow.id!);
    const quick = await queue.add('quick', { processor: 'succeed', params: 'world' });
    expect(await ending(quick)).toEqual({ result: 'hello world' });
    expect(await slowProgress).toMatchObject({ status: 'RUNNING', instanceId: `${queueName}:${slow.id}:1`, address: expect.any(String) } satisfies Partial<TaskJobProgress>);
    expect(await ending(slow)).toEqual({ result: 'slept' });
    const { logs } = await queue.getJobLogs(quick.id!);
    expect(logs).toEqual(['INFO [attempt 0] started {"attempt":0}']);
    expect((await queue.getJob(slow.id!))?.progress).toMatchObject({ status: 'RUNNING' });
  });

  test('a chatty processor writes at most maxJobLogLines lines to the job log, then says how many it left out', { timeout: 15_000 }, async () => {
    await consumer({}, {}, { maxJobLogLines: 5 });
    const job = await queue.add('chatty', { processor: 'logMany', params: { count: 12 } });
    expect(await ending(job)).toEqual({ result: 'logged 12' });
    const { logs } = await queue.getJobLogs(job.id!);
    expect(logs).toEqual([
      ...[0, 1, 2, 3, 4].map((i) => `INFO [attempt 0] line {"i":${i}}`),
      '7 more processor log lines not written (maxJobLogLines 5)',
    ]);
    // Every line still reached onProcessorLog.
    expect(lines.filter((line) => line.instanceId.startsWith(`${queueName}:${job.id}:`) && line.msg === 'line')).toHaveLength(12);
  });

  test('FAILED fails the job with the result as its reason, and BullMQ attempts retry it', { timeout: 15_000 }, async () => {
    await consumer();
    const job = await queue.add('no', { processor: 'fail' }, { attempts: 2 });
    expect(await ending(job)).toEqual({ failed: 'the job said no' });
    const after = await queue.getJob(job.id!);
    expect(after?.attemptsMade).toBe(2);
    expect(await after?.getState()).toBe('failed');
  });

  test('checkpoints are written into the job data, and BullMQ\'s retry resumes from the last one', { timeout: 15_000 }, async () => {
    await consumer({ maxThreads: 1 });
    const job = await queue.add('sum', { processor: 'checkpointSum', params: { rows: 1000, every: 100, stopAt: 500, then: 'fail' } }, { attempts: 2 });
    expect(await ending(job)).toEqual({ result: { resumedFrom: 500, sum: sumBelow(1000) } });
    const after = await queue.getJob(job.id!);
    expect(after?.attemptsMade).toBe(2);
    // The second start's last checkpoint, kept with the job.
    expect(after?.data.checkpoint).toEqual({ row: 900, sum: sumBelow(900) });
    const { logs } = await queue.getJobLogs(job.id!);
    expect(logs).toEqual(['INFO [attempt 0] started {"from":0}', 'INFO [attempt 0] started {"from":500}']);
  });

  test('a checkpoint in the job data starts it there; one JSON cannot hold is not written, and a warning says so', { timeout: 15_000 }, async () => {
    const capture = new LogCapture('info');
    await consumer({ logger: capture.logger });
    const saved = await queue.add('saved', { processor: 'checkpointSum', params: { rows: 300, every: 100 }, checkpoint: { row: 200, sum: sumBelow(200) } });
    expect(await ending(saved)).toEqual({ result: { resumedFrom: 200, sum: sumBelow(300) } });
    expect((await queue.getJob(saved.id!))?.data.checkpoint).toEqual({ row: 200, sum: sumBelow(200) });
    const binary = await queue.add('binary', { processor: 'checkpointSum', params: { rows: 300, every: 100, binary: true } });
    expect(await ending(binary)).toEqual({ result: { resumedFrom: 0, sum: sumBelow(300) } });
    expect((await queue.getJob(binary.id!))?.data.checkpoint).toBeUndefined();
    const refused = capture.lines.filter((line) => line.jobId === binary.id && line.level === 40);
    expect(refused.map((line) => [line.msg, line.path])).toEqual([
      ['checkpoint not written to the BullMQ job: checkpoint.sum is a bigint, which JSON cannot hold', 'checkpoint.sum'],
    ]);
  });

  // BullMQ's data update does not check the job's lock: a consumer that has lost it must write no more checkpoints,
  // or it overwrites those of the run that has the job now.
  test('a consumer that lost a job\'s lock writes none of its later checkpoints: the job\'s next run resumes from the last one written before', { timeout: 20_000 }, async () => {
    await consumer({ maxThreads: 1 }, { lockDuration: 1000, stalledInterval: 250 });
    const job = await queue.add('sum', { processor: 'checkpointSum', params: { rows: 1000, every: 100, stopAt: 300, then: 'hold-then-checkpoint' } });
    await processorLogged(job.id!, 'holding');
    // The lock taken from the consumer: its next renewal fails, and it stops its run, whose processor then checkpoints.
    await withClient((client) => client.del(`bull:${queueName}:${job.id!}:lock`));
    expect(await ending(job)).toEqual({ result: { resumedFrom: 300, sum: sumBelow(1000) } });
    const starts = lines.filter((line) => line.msg === 'started' && line.instanceId.startsWith(`${queueName}:${job.id!}:`));
    expect(starts.map((line) => line.fields)).toEqual([{ from: 0 }, { from: 300 }]);
  });

  test('a runaway job is force-stopped at its timeout and the consumer goes on', { timeout: 15_000 }, async () => {
    await consumer({ maxThreads: 1 });
    const runaway = await queue.add('runaway', { processor: 'spinRunaway', timeoutMs: 200 });
    const next = await queue.add('next', { processor: 'succeed', params: 'after' });
    const { failed } = await ending(runaway);
    // The failed reason is the result, then where the thread was stopped: the processor's loop.
    const [reason, ...frames] = failed!.split('\n');
    expect(reason).toBe('instance execute timeout,force stop success');
    expect(frames[0]).toMatch(/^ {4}at .*spin-runaway\.js:7:\d+\)?$/);
    expect(await ending(next)).toEqual({ result: 'hello after' });
    const after = await queue.getJob(runaway.id!);
    // BullMQ's stacktrace of the job is the processor's, not the consumer's; its log says the same.
    expect(after!.stacktrace?.at(-1)).toBe(`JobFailedError: ${failed}`);
    const { logs } = await queue.getJobLogs(runaway.id!);
    expect(logs).toEqual(['INFO [attempt 0] started', `WARN [attempt 0] force-stopped; its thread was at:\n${frames.join('\n')}`]);
  });

  test('bad job data fails the job at once, unrecoverably, with ERR_INVALID_JOB_DATA; the consumer goes on', { timeout: 15_000 }, async () => {
    await consumer();
    const bad = [
      ['not an object', 'ERR_INVALID_JOB_DATA: job data (whole): must be an object'],
      [{ processor: 'nope' }, 'ERR_INVALID_JOB_DATA: job data processor: no processor named "nope"'],
      [{ processor: '/etc/passwd' }, 'ERR_INVALID_JOB_DATA: job data processor: no processor named "/etc/passwd"'],
      [{ processor: 'succeed', timeoutMs: -5 }, 'ERR_INVALID_JOB_DATA: job data timeoutMs: timeoutMs must be a positive'],
      [{ processor: 'succeed', timeoutMs: '10' }, 'ERR_INVALID_JOB_DATA: job data timeoutMs: must be a number'],
      [{ processor: 'succeed', maxRetries: -1 }, 'ERR_INVALID_JOB_DATA: job data maxRetries: maxRetries must be a whole number'],
      [{ processor: 'succeed', script: 'x' }, 'ERR_INVALID_JOB_DATA: job data script: is not a field'],
      [{ processor: 'succeed', timeoutMS: 5 }, 'ERR_INVALID_JOB_DATA: job data timeoutMS: is not a field of the job data (processor, params, timeoutMs, maxRetries, checkpoint) (did you mean "timeoutMs"?)'],
      [{ processor: 'succeed', maxRetries: 2 }, "ERR_INVALID_JOB_DATA: job data maxRetries: is 2 while the job's BullMQ attempts is 3"],
    ] as const;
    const jobs = await Promise.all(bad.map(([data]) => queue.add('bad', data, { attempts: 3 })));
    const endings = await Promise.all(jobs.map(ending));
    endings.forEach((end, i) => expect(end.failed).toMatch(new RegExp(`^${escape(bad[i]![1])}`)));
    for (const job of jobs) expect((await queue.getJob(job.id!))?.attemptsMade).toBe(1);
    expect(await ending(await queue.add('good', { processor: 'succeed', params: 'still here' }))).toEqual({ result: 'hello still here' });
  });

  test('params over maxParamsBytes fail the job at once, saying to pass a reference (move() is no help to a producer)', { timeout: 15_000 }, async () => {
    await consumer({ maxParamsBytes: 1024 });
    const job = await queue.add('big', { processor: 'succeed', params: 'x'.repeat(1024) });
    const end = await ending(job);
    expect(end.failed).toBe('ERR_INVALID_JOB_DATA: job data params: takes 2048 bytes, over the limit of 1024 (maxParamsBytes): pass a reference to where the data is (a path, a key)');
  });

  test('maxRetries retries inside one BullMQ attempt, with the same timeout', { timeout: 15_000 }, async () => {
    await consumer();
    const job = await queue.add('flaky', { processor: 'flaky', params: { succeedOn: 2 }, maxRetries: 2, timeoutMs: 10_000 });
    expect(await ending(job)).toEqual({ result: 'succeeded on retry 2' });
    const { logs } = await queue.getJobLogs(job.id!);
    expect(logs.map((line) => line.split(' ').slice(0, 4).join(' '))).toEqual(['INFO [attempt 0] started', 'INFO [attempt 1] started', 'INFO [attempt 2] started']);
    expect((await queue.getJob(job.id!))?.attemptsStarted).toBe(1);
  });

  test('stopJob from another connection ends a running job as cancelled, never retried', { timeout: 15_000 }, async () => {
    await consumer();
    const job = await queue.add('long', { processor: 'sleep', params: { ms: 60_000 } }, { attempts: 3 });
    await processorLogged(job.id!, 'started');
    expect(await stopJob({ queue: queueName, connection: ctx.redis.connection }, job.id!)).toBe(1);
    expect(await ending(job)).toEqual({ failed: 'ERR_JOB_STOPPED: user stop instance,interrupted success' });
    const after = await queue.getJob(job.id!);
    expect(after?.attemptsMade).toBe(1);
    expect(await after?.getState()).toBe('failed');
  });

  test('a runaway job ignoring the stop is force-stopped; a stop before the start fails the job when it is taken', { timeout: 15_000 }, async () => {
    await consumer({ forceStopGraceMs: 50 });
    const runaway = await queue.add('runaway', { processor: 'spinRunaway' });
    await processorLogged(runaway.id!, 'started');
    await stopJob({ queue: queueName, connection: ctx.redis.connection }, runaway.id!);
    const { failed } = await ending(runaway);
    expect(failed!.split('\n')[0]).toBe('ERR_JOB_STOPPED: user stop instance,force stop success');
    expect(failed!.split('\n')[1]).toMatch(/^ {4}at .*spin-runaway\.js:7:\d+\)?$/);

    await stopJob({ queue: queueName, connection: ctx.redis.connection }, 'later');
    const later = await queue.add('later', { processor: 'succeed' }, { jobId: 'later' });
    expect(await ending(later)).toEqual({ failed: 'ERR_JOB_STOPPED: user stop instance,never started' });
    expect(lines.filter((line) => line.instanceId.includes(':later:'))).toEqual([]);
  });

  test('a stop whose message was missed is still seen, through its mark, at the next RUNNING report', { timeout: 15_000 }, async () => {
    await consumer({ statusReportIntervalMs: 50 });
    const job = await queue.add('long', { processor: 'sleep', params: { ms: 60_000 } }, { attempts: 3 });
    await processorLogged(job.id!, 'started');
    // What stopJob writes, without its message: as if the consumer's subscriber had been reconnecting.
    await withClient((client) => client.set(`bull:${queueName}:${job.id}:ltt-stop`, '1', 'PX', 60_000));
    expect(await ending(job)).toEqual({ failed: 'ERR_JOB_STOPPED: user stop instance,interrupted success' });
    expect((await queue.getJob(job.id!))?.attemptsMade).toBe(1);
  });

  test('a stop published while the consumer was reconnecting is seen, through its mark, as soon as it is back', { timeout: 15_000 }, async () => {
    // No RUNNING report within the test: only the reconnect can find the mark.
    await consumer({ statusReportIntervalMs: 600_000 });
    const job = await queue.add('long', { processor: 'sleep', params: { ms: 60_000 } }, { attempts: 3 });
    await processorLogged(job.id!, 'started');
    // What stopJob writes, whose message the consumer never got; then its subscriber's connection is cut.
    await withClient(async (client) => {
      await client.set(`bull:${queueName}:${job.id}:ltt-stop`, '1', 'PX', 60_000);
      await client.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    });
    expect(await ending(job)).toEqual({ failed: 'ERR_JOB_STOPPED: user stop instance,interrupted success' });
  });

  test('a job whose lock is lost stops its run here; BullMQ then hands it on as stalled and it runs again', { timeout: 15_000 }, async () => {
    const started = await consumer({}, { lockDuration: 400, stalledInterval: 200 });
    const job = await queue.add('long', { processor: 'awaitSignal' });
    await processorLogged(job.id!, 'started');
    const lost = once(started.worker, 'lockRenewalFailed') as Promise<[string[]]>;
    // The lock taken away, as when another consumer's stalled check has given the job to someone else.
    await withClient((client) => client.del(`bull:${queueName}:${job.id}:lock`));
    expect((await lost)[0]).toContain(job.id);
    await processorLogged(job.id!, 'signal fired');
    const firstRun = lines.filter((line) => line.instanceId === `${queueName}:${job.id}:1`).map((line) => line.msg);
    expect(firstRun).toEqual(['started', 'signal fired']);
    // Not failed by the run that lost its lock: the stalled check puts it back, and it starts again.
    await processorLogged(job.id!, 'started', 2);
    expect(await (await queue.getJob(job.id!))?.getState()).toBe('active');
  });

  test('a processor module that cannot load fails the job once, whatever its BullMQ attempts', { timeout: 15_000 }, async () => {
    await consumer();
    const job = await queue.add('broken', { processor: 'loadThrows' }, { attempts: 3 });
    const end = await ending(job);
    expect(end.failed).toMatch(/^ERR_JOB_FAILED: /);
    expect((await queue.getJob(job.id!))?.attemptsMade).toBe(1);
  });

  test('a stop that reached a running job leaves no mark behind: a retry of the job runs', { timeout: 15_000 }, async () => {
    await consumer();
    const job = await queue.add('stopped-then-retried', { processor: 'sleep', params: { ms: 60_000 } });
    await processorLogged(job.id!, 'started');
    await stopJob({ queue: queueName, connection: ctx.redis.connection }, job.id!);
    expect(await ending(job)).toEqual({ failed: 'ERR_JOB_STOPPED: user stop instance,interrupted success' });
    await (await queue.getJob(job.id!))!.retry('failed');
    // Its second start runs the processor (a mark left behind would fail it as stopped before it starts).
    await processorLogged(job.id!, 'started', 2);
    expect(lines.filter((line) => line.instanceId === `${queueName}:${job.id}:2`).map((line) => line.msg)).toEqual(['started']);
  });

  test('close() past its deadline leaves a job that is already stopping to end as stopped, not back in the queue', { timeout: 15_000 }, async () => {
    const started = await consumer({ forceStopGraceMs: 300 });
    const job = await queue.add('cancelled', { processor: 'spinRunaway' });
    await processorLogged(job.id!, 'started');
    expect(started.worker.cancelJob(job.id!)).toBe(true);
    await started.close({ deadlineMs: 0 });
    const after = await queue.getJob(job.id!);
    expect(await after?.getState()).toBe('failed');
    expect(after?.failedReason.split('\n')[0]).toBe('ERR_JOB_STOPPED: user stop instance,force stop success');
  });

  test('instances awaiting their final report never refuse the next job: BullMQ admits them, not maxInstances', { timeout: 60_000 }, async () => {
    // Every final report is held until all jobs have completed: past the runtime's default limit of 1,024 live
    // instances, a consumer runtime that kept it would fail the next jobs with ERR_ADMISSION_LIMIT.
    const count = 1100;
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const started = await consumer({ reporter: { report: (report) => (report.status === 'RUNNING' ? undefined : held) } });
    const failed: string[] = [];
    let completed = 0; // or failed
    let allCompleted!: () => void;
    const done = new Promise<void>((resolve) => { allCompleted = resolve; });
    started.worker.on('failed', (job, error) => {
      failed.push(`${job?.id}: ${error.message}`);
      if (++completed === count) allCompleted();
    });
    started.worker.on('completed', () => {
      if (++completed === count) allCompleted();
    });
    await queue.addBulk(Array.from({ length: count }, (_, n) => ({ name: `quick${n}`, data: { processor: 'succeed', params: String(n) } })));
    await done;
    expect(failed).toEqual([]);
    expect(started.runtime.size).toBe(count);
    release();
  });

  test("BullMQ's own worker.cancelJob stops the instance too", { timeout: 15_000 }, async () => {
    const started = await consumer();
    const job = await queue.add('long', { processor: 'spinCooperative' });
    await processorLogged(job.id!, 'started');
    expect(started.worker.cancelJob(job.id!)).toBe(true);
    expect(await ending(job)).toEqual({ failed: 'ERR_JOB_STOPPED: user stop instance,interrupted success' });
  });

  test('a CPU-bound job three times longer than lockDuration keeps its lock: no stall, one start', { timeout: 15_000 }, async () => {
    // Renewed every 400 ms, a lock has 400 ms of slack: more than a loaded machine's scheduling hiccups.
    const started = await consumer({ maxThreads: 2 }, { lockDuration: 800, stalledInterval: 300 });
    const stalled: string[] = [];
    events.on('stalled', ({ jobId }) => stalled.push(jobId));
    started.worker.on('stalled', (jobId) => stalled.push(jobId));
    const renewed = once(started.worker, 'locksRenewed');
    const jobs = await Promise.all([1, 2].map((n) => queue.add(`spin${n}`, { processor: 'spinFor', params: { ms: 2400 } })));
    await renewed;
    for (const job of jobs) expect(await ending(job)).toEqual({ result: 'spun 2400 ms' });
    for (const job of jobs) expect((await queue.getJob(job.id!))?.attemptsStarted).toBe(1);
    expect(stalled).toEqual([]);
  });

  test('close() lets a job finish, stops one past the deadline and returns it to the queue unfailed', { timeout: 15_000 }, async () => {
    const started = await consumer({ forceStopGraceMs: 50 });
    const finishing = await queue.add('finishing', { processor: 'sleep', params: { ms: 200 } });
    const runaway = await queue.add('runaway', { processor: 'spinRunaway' });
    await Promise.all([processorLogged(finishing.id!, 'started'), processorLogged(runaway.id!, 'started')]);
    // The runaway's move back to wait (not the 'waiting' events of the two adds, which may still arrive).
    const waiting = new Promise<{ jobId: string }>((resolve) => {
      const onWaiting = (event: { jobId: string; prev?: string }): void => {
        if (event.jobId !== runaway.id || event.prev !== 'active') return;
        events.off('waiting', onWaiting);
        resolve(event);
      };
      events.on('waiting', onWaiting);
    });
    // A deadline far past the 200 ms job (a loaded machine must not push it past), well short of the runaway.
    const closed = started.close({ deadlineMs: 2000 });
    expect(started.close()).toBe(closed);
    await closed;
    expect(await (await queue.getJob(finishing.id!))?.getState()).toBe('completed');
    const back = await queue.getJob(runaway.id!);
    expect(await back?.getState()).toBe('waiting');
    expect(back?.attemptsMade).toBe(0);
    expect(back?.failedReason).toBeUndefined();
    expect((await waiting).jobId).toBe(runaway.id);
    expect(started.runtime.size).toBe(0);
  });

  test('close() past its deadline ends a runaway even with allowForceStop false, and returns its job to the queue', { timeout: 15_000 }, async () => {
    const started = await consumer({ allowForceStop: false, forceStopGraceMs: 50 });
    const job = await queue.add('runaway', { processor: 'spinRunaway' });
    await processorLogged(job.id!, 'started');
    await started.close({ deadlineMs: 100 });
    const back = await queue.getJob(job.id!);
    expect(await back?.getState()).toBe('waiting');
    expect(back?.failedReason).toBeUndefined();
  });

  test('bad options are refused with errors naming them, and nothing is left open', { timeout: 15_000 }, async () => {
    const connection = ctx.redis.connection;
    const clients = (): Promise<number> => withClient(async (client) => String(await client.client('LIST')).trim().split('\n').length);
    const before = await clients();
    await expect(startConsumer({ queue: '', connection, runtime: { processors: allProcessors } })).rejects.toThrow(/queue must be a non-empty string/);
    for (const [worker, name] of [
      [{ stalledInterval: 0 }, 'stalledInterval'],
      [{ drainDelay: -1 }, 'drainDelay'],
      [{ maxStalledCount: -1 }, 'maxStalledCount'],
      [{ maxStartedAttempts: -1 }, 'maxStartedAttempts'],
      [{ lockDuration: Number.NaN }, 'lockDuration'],
      [{ stalledInterval: Number.POSITIVE_INFINITY }, 'stalledInterval'],
    ] as const) {
      await expect(startConsumer({ queue: queueName, connection, runtime: { processors: allProcessors }, worker })).rejects.toThrow(new RegExp(`options.worker.${name}`));
    }
    await expect(startConsumer({ queue: queueName, connection, runtime: { processors: allProcessors, maxInstances: 10 } })).rejects.toThrow(/maxInstances does not apply/);
    await expect(startConsumer({ queue: queueName, connection, runtime: { processors: allProcessors }, maxJobLogLines: -1 })).rejects.toThrow(/maxJobLogLines/);
    // Every refused consumer closed what it had opened (the runtime's refusal comes after the stop listener's connections).
    expect(await clients()).toBe(before);
    await expect(startConsumer({ queue: queueName, connection, runtime: { processors: allProcessors }, closeDeadlineMs: -1 })).rejects.toThrow(RangeError);
    await expect(startConsumer({ queue: queueName, connection, runtime: { processors: allProcessors, maxThreads: 0 } })).rejects.toThrow(/maxThreads/);
    await expect(stopJob({ queue: queueName, connection }, '')).rejects.toThrow(TypeError);
    await expect(stopJob({ queue: queueName, connection }, 'x', { markTtlMs: 0 })).rejects.toThrow(RangeError);
    expect(await clients()).toBe(before);
    // An option set to undefined means BullMQ's default (passed on as undefined, BullMQ would refuse it after connecting).
    const started = await consumer({}, { stalledInterval: undefined, drainDelay: undefined, maxStalledCount: undefined });
    expect(() => started.close({ deadlineMs: Number.NaN })).toThrow(TypeError);
    expect(() => started.close({ deadline: 0 } as never)).toThrow(new TypeError('close: unknown option "deadline" (did you mean "deadlineMs"?)'));
    expect(started.concurrency).toBe(2);
  });

  test('a closed consumer leaves the queue to the next one', { timeout: 15_000 }, async () => {
    const first = await consumer();
    await first.close();
    const job = await queue.add('later', { processor: 'succeed', params: 'again' });
    await consumer();
    expect(await ending(job)).toEqual({ result: 'hello again' });
  });
});

describe('the bullmq entry', () => {
  test('the main entry never loads bullmq or ioredis; both are optional peers', () => {
    const seen = new Set<string>();
    const bare = new Set<string>();
    const visit = (url: URL): void => {
      if (seen.has(url.href)) return;
      seen.add(url.href);
      // Comments may name modules in examples (`typeof import('./hash.js')`): only code counts.
      const text = readFileSync(fileURLToPath(url), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      for (const [, spec] of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
        if (spec!.startsWith('.')) visit(new URL(spec!, url));
        else bare.add(spec!);
      }
    };
    visit(new URL('../dist/src/index.js', import.meta.url));
    expect(seen.size).toBeGreaterThan(5);
    expect([...bare].filter((spec) => /bullmq|ioredis/.test(spec))).toEqual([]);
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(pkg.peerDependenciesMeta).toMatchObject({ bullmq: { optional: true }, ioredis: { optional: true } });
    // Every peer is optional: each is loaded only by its own entry.
    const meta = pkg.peerDependenciesMeta as Record<string, { optional?: boolean } | undefined>;
    expect(Object.keys(pkg.peerDependencies ?? {}).filter((name) => meta[name]?.optional !== true)).toEqual([]);
    expect(pkg.dependencies).not.toHaveProperty('bullmq');
    expect(pkg.dependencies).not.toHaveProperty('ioredis');
    expect(pkg.exports?.['./bullmq']).toEqual({ types: './dist/src/bullmq/index.d.ts', default: './dist/src/bullmq/index.js' });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
