// Admission, duplicate ids, one instance per worker, and capacity back after a terminate.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { AdmissionLimitError, DuplicateInstanceError, TaskStatus } from 'light-task-tracker';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

describe('capacity', () => {
  it('refuses a duplicate live instanceId, and accepts it again once the first is gone', async () => {
    const { runtime } = runtimes.make();
    const first = runtime.submit({ processor: 'sleep', instanceId: 'dup' });
    expect(() => runtime.submit({ processor: 'succeed', instanceId: 'dup' })).toThrow(DuplicateInstanceError);
    try {
      runtime.submit({ processor: 'succeed', instanceId: 'dup' });
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_DUPLICATE_INSTANCE', instanceId: 'dup' });
    }
    expect(runtime.get('dup')).toBe(first);
    first.stop();
    await first.done;
    expect((await runtime.submit({ processor: 'succeed', instanceId: 'dup' }).done).status).toBe('SUCCEED');
  });

  it('refuses a duplicate or over-the-limit request before it clones its params', async () => {
    const { runtime } = runtimes.make({ maxThreads: 1, maxInstances: 1 });
    const first = runtime.submit({ processor: 'sleep', instanceId: 'held' });
    let reads = 0;
    const params = {
      get big(): string {
        reads++;
        return 'x';
      },
    };
    expect(() => runtime.submit({ processor: 'succeed', instanceId: 'held', jobParams: params })).toThrow(DuplicateInstanceError);
    expect(() => runtime.submit({ processor: 'succeed', jobParams: params })).toThrow(AdmissionLimitError);
    expect(reads).toBe(0);
    first.stop();
    await first.done;
    expect((await runtime.submit({ processor: 'succeed', jobParams: params }).done).status).toBe('SUCCEED');
    expect(reads).toBe(1);
  });

  it('refuses past maxInstances live instances, and admits again when one ends', async () => {
    const { runtime } = runtimes.make({ maxThreads: 1, maxInstances: 3 });
    const live = [1, 2, 3].map(() => runtime.submit({ processor: 'sleep' }));
    expect(runtime.size).toBe(3);
    let caught: unknown;
    try {
      runtime.submit({ processor: 'succeed' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AdmissionLimitError);
    expect(caught).toMatchObject({ code: 'ERR_ADMISSION_LIMIT', limit: 3 });
    expect(runtime.size).toBe(3);
    live[2]?.stop();
    await live[2]?.done;
    expect(runtime.size).toBe(2);
    const admitted = runtime.submit({ processor: 'succeed' });
    expect(admitted.taskStatus).toBe(TaskStatus.WORKER_RECEIVED);
    for (const tracker of live) tracker.stop();
    expect((await admitted.done).status).toBe('SUCCEED');
  });

  it('runs at most maxThreads instances at once, the rest queued in submit order', async () => {
    const { runtime, logs } = runtimes.make({ maxThreads: 2 });
    const trackers = [0, 1, 2, 3].map((i) => runtime.submit({ processor: 'sleep', instanceId: `q${i}` }));
    await logs.waitForProcessor('q0', 'started');
    await logs.waitForProcessor('q1', 'started');
    expect(trackers.map((t) => t.taskStatus)).toEqual(['WORKER_PROCESSING', 'WORKER_PROCESSING', 'WORKER_RECEIVED', 'WORKER_RECEIVED']);
    trackers[0]?.stop();
    await logs.waitForProcessor('q2', 'started');
    expect(trackers[3]?.taskStatus).toBe('WORKER_RECEIVED');
    for (const t of trackers) t.stop();
    await Promise.all(trackers.map((t) => t.done));
  });

  it('gives the capacity of a terminated worker back: the next queued instance runs', async () => {
    const { runtime, logs } = runtimes.make({ maxThreads: 1, forceStopGraceMs: 0 });
    const runaway = runtime.submit({ processor: 'spinRunaway' });
    const queued = [1, 2, 3].map((i) => runtime.submit({ processor: 'succeed', jobParams: i }));
    await logs.waitForProcessor(runaway.instanceId, 'started');
    runaway.stop();
    expect((await runaway.done).reason).toBe('STOP_FORCE_STOPPED');
    const outcomes = await Promise.all(queued.map((t) => t.done));
    expect(outcomes.map((o) => o.result)).toEqual(['hello 1', 'hello 2', 'hello 3']);
    expect(runtime.threads).toBe(2); // maxThreads + the default spare
  });

  it('terminates only the worker of the instance it is meant for', async () => {
    // A grace long enough for the neighbour to answer its own interrupt below.
    const { runtime, logs } = runtimes.make({ maxThreads: 2, forceStopGraceMs: 500 });
    const runaway = runtime.submit({ processor: 'spinRunaway' });
    const neighbour = runtime.submit({ processor: 'logMany', jobParams: { count: 1, holdAfterFirst: true } });
    await logs.waitForProcessor(runaway.instanceId, 'started');
    await logs.waitForProcessor(neighbour.instanceId, 'holding');
    runaway.stop();
    await runaway.done;
    expect(neighbour.taskStatus).toBe('WORKER_PROCESSING');
    neighbour.stop();
    // The neighbour was still alive to hear its interrupt and finish on its own.
    expect(await neighbour.done).toMatchObject({ status: 'STOPPED', reason: 'STOPPED', result: 'logged 1' });
  });

  it('starts one worker first; the rest of minThreads + spareThreads follow once the first attempt has ended', async () => {
    const { runtime } = runtimes.make({ maxThreads: 2, spareThreads: 1 });
    expect(runtime.threads).toBe(1);
    expect((await runtime.submit({ processor: 'succeed', jobParams: 'first' }).done).result).toBe('hello first');
    await runtime.ready();
    expect(runtime.threads).toBe(3);
    expect(runtime.metrics()).toMatchObject({ threads: 3, idleThreads: 3, workersStarted: 3 });
  });

  // A burst used to leave attempts in piscina's queue whenever no worker was idle: each time a worker answered, piscina
  // offered that queue, the balancer turned it away (the worker was still busy with the reply), and piscina started a
  // worker per refusal, up to its own cap (2 × maxThreads + spares): five threads for maxThreads 2, every one of them
  // built into an object on every later run().
  it('a burst starts no more workers than maxThreads + spareThreads', async () => {
    const { runtime } = runtimes.make({ maxThreads: 2, spareThreads: 1 });
    const burst = Array.from({ length: 300 }, (_, i) => runtime.submit({ processor: 'succeed', jobParams: `b${i}` }).done);
    const outcomes = await Promise.all(burst);
    expect(outcomes.every((outcome) => outcome.status === 'SUCCEED')).toBe(true);
    await runtime.ready();
    expect(runtime.metrics()).toMatchObject({ threads: 3, workersStarted: 3 });
  });

  // When the pool stopped leaving attempts in piscina's queue, its growth first ignored the first attempt's head start:
  // the moment the first attempt was handed over, a burst made it start maxThreads - 1 more workers, whose boots took
  // the CPU that attempt was starting on.
  it('grows for a burst submitted before the first boot only once the first attempt has had its head start', async () => {
    const { runtime } = runtimes.make({ maxThreads: 4, spareThreads: 1 });
    const threadsAtFirstStart: number[] = [];
    const onStart = (): void => {
      if (threadsAtFirstStart.length === 0) threadsAtFirstStart.push(runtime.threads);
    };
    subscribe('light-task-tracker:instance:start', onStart);
    try {
      const burst = Array.from({ length: 8 }, (_, i) => runtime.submit({ processor: 'succeed', jobParams: `g${i}` }).done);
      expect((await Promise.all(burst)).every((outcome) => outcome.status === 'SUCCEED')).toBe(true);
    } finally {
      unsubscribe('light-task-tracker:instance:start', onStart);
    }
    expect(threadsAtFirstStart).toEqual([1]);
    await runtime.ready();
    expect(runtime.threads).toBeLessThanOrEqual(5);
  });

  it('starts the rest of the workers while a long first attempt runs, once it has had its head start', async () => {
    const { runtime, logs } = runtimes.make({ maxThreads: 2, spareThreads: 1 });
    const long = runtime.submit({ processor: 'sleep', instanceId: 'long', jobParams: { ms: 60_000 } });
    await logs.waitForProcessor('long', 'started');
    await runtime.ready();
    expect(runtime.threads).toBe(3);
    expect(long.taskStatus).toBe(TaskStatus.WORKER_PROCESSING);
    long.stop();
    expect((await long.done).status).toBe('STOPPED');
  });

  it('keeps spareThreads idle workers beyond maxThreads, and still runs at most maxThreads instances', async () => {
    const { runtime, logs } = runtimes.make({ maxThreads: 1, spareThreads: 2 });
    await runtime.ready();
    expect(runtime.threads).toBe(3);
    const trackers = [0, 1].map((i) => runtime.submit({ processor: 'sleep', instanceId: `s${i}` }));
    await logs.waitForProcessor('s0', 'started');
    expect(trackers[1]?.taskStatus).toBe('WORKER_RECEIVED');
    for (const t of trackers) t.stop();
    await Promise.all(trackers.map((t) => t.done));
  });

  it('starts the next queued instance on a spare while the force-stopped worker is replaced', async () => {
    const { runtime, logs } = runtimes.make({ maxThreads: 1, spareThreads: 1, forceStopGraceMs: 0 });
    const runaway = runtime.submit({ processor: 'spinRunaway' });
    const next = runtime.submit({ processor: 'sleep', instanceId: 'next' });
    await logs.waitForProcessor(runaway.instanceId, 'started');
    runaway.stop();
    expect((await runaway.done).reason).toBe('STOP_FORCE_STOPPED');
    await logs.waitForProcessor('next', 'started');
    expect(runtime.threads).toBe(2);
    next.stop();
    // With a grace of 0 it may be interrupted or terminated: either way it ran, on the spare.
    expect((await next.done).status).toBe('STOPPED');
  });

  it('works without spares', async () => {
    const { runtime, logs } = runtimes.make({ maxThreads: 1, spareThreads: 0, forceStopGraceMs: 0 });
    expect(runtime.threads).toBe(1);
    const runaway = runtime.submit({ processor: 'spinRunaway' });
    const next = runtime.submit({ processor: 'succeed', jobParams: 'after' });
    await logs.waitForProcessor(runaway.instanceId, 'started');
    runaway.stop();
    expect(await next.done).toMatchObject({ status: 'SUCCEED', result: 'hello after' });
    // The replacement, started as the runaway was doomed, ran the next instance; the runaway's own outcome waits for its
    // thread's exit, which may come after (a loaded machine on Node 22 saw 2 threads here).
    expect((await runaway.done).reason).toBe('STOP_FORCE_STOPPED');
    expect(runtime.threads).toBe(1);
  });

  it('ready() resolves once every worker has booted, again after a terminated one is replaced', async () => {
    const { runtime, logs } = runtimes.make({ maxThreads: 1, spareThreads: 1, forceStopGraceMs: 0 });
    await runtime.ready();
    expect(runtime.threads).toBe(2);
    const runaway = runtime.submit({ processor: 'spinRunaway' });
    await logs.waitForProcessor(runaway.instanceId, 'started');
    runaway.stop();
    await runaway.done;
    await runtime.ready();
    expect(runtime.threads).toBe(2);
    expect((await runtime.submit({ processor: 'succeed', jobParams: 'warm' }).done).result).toBe('hello warm');
  });

  it('ready() resolves on close rather than hang', async () => {
    const { runtime } = runtimes.make({ maxThreads: 1 });
    const closing = runtime.close();
    await runtime.ready();
    await closing;
  });
});
