// Processors that leave the tracker in doubt: a job that returned while the main thread was too busy to read its
// reply is never reported force-stopped, and a thread that terminate() cannot end (blocked in a system call) is let
// go of, said so in the outcome, counted, and never holds ready(), the next instance or close().
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { channels, OutcomeReason, OutcomeStatus, SystemResult, type StartMessage } from 'light-task-tracker';
import { fixture, processors } from './support/fixtures.js';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();
const registry = { ...processors, spinThenReturn: fixture('spin-then-return'), blockRead: fixture('block-read') };

/** Keeps the main thread busy (a GC, a big JSON.parse) until `until()` holds and at least `ms` have passed. */
function busy(ms: number, until: () => boolean): void {
  const start = performance.now();
  while (!until() || performance.now() - start < ms);
}

describe('a reply on its way wins over a force-stop', () => {
  // Regression: the timer decided before looking at whether the reply was already on its way. A job that returned
  // in time behind a busy main thread was reported TIMEOUT_FORCE_STOPPED "force stop success", its value lost, and
  // a force-stop counted although no worker was terminated.
  it('returned-in-time-reported-force-stopped: a job that returned before its deadline passed unseen keeps its own outcome', async () => {
    const { runtime } = runtimes.make({ processors: registry, forceStopGraceMs: 0 });
    await runtime.ready();
    const marks = new Int32Array(new SharedArrayBuffer(8));
    const tracker = runtime.submit({ processor: 'spinThenReturn', jobParams: { ms: 2, marks: marks.buffer }, timeoutMs: 100 });
    await Atomics.waitAsync(marks, 0, 0).value;
    const workersBefore = runtime.metrics().workersStarted;
    // The job ends (and posts its reply) while the main thread is busy past the job's deadline.
    busy(300, () => Atomics.load(marks, 1) === 1);
    expect(await tracker.done).toMatchObject({
      status: OutcomeStatus.SUCCEED, reason: OutcomeReason.SUCCEEDED, result: 'returned in time', value: { spunMs: 2 },
    });
    expect(runtime.metrics()).toMatchObject({ forceStops: 0, workersStarted: workersBefore });
  });

  it('returned-in-time-reported-force-stopped: a stop after the job returned is STOPPED with the job\'s own text', async () => {
    const { runtime } = runtimes.make({ processors: registry, forceStopGraceMs: 0 });
    await runtime.ready();
    const marks = new Int32Array(new SharedArrayBuffer(8));
    const tracker = runtime.submit({ processor: 'spinThenReturn', jobParams: { ms: 2, marks: marks.buffer } });
    await Atomics.waitAsync(marks, 0, 0).value;
    busy(50, () => Atomics.load(marks, 1) === 1);
    tracker.stop();
    expect(await tracker.done).toMatchObject({ status: OutcomeStatus.STOPPED, reason: OutcomeReason.STOPPED, result: 'returned in time' });
    expect(runtime.metrics().forceStops).toBe(0);
  });

  it('a job that ignores its interrupt is still force-stopped, and counted once', async () => {
    const { runtime, logs } = runtimes.make({ processors: registry, forceStopGraceMs: 0 });
    const tracker = runtime.submit({ processor: 'spinRunaway', timeoutMs: 50 });
    await logs.waitForProcessor(tracker.instanceId, 'started');
    expect(await tracker.done).toMatchObject({ reason: OutcomeReason.TIMEOUT_FORCE_STOPPED, result: SystemResult.TIMEOUT_FORCE_STOPPED });
    expect(runtime.metrics().forceStops).toBe(1);
  });
});

describe('a thread that terminate() cannot end', () => {
  const folder = mkdtempSync(join(tmpdir(), 'ltt-blocked-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  // Regression: a force-stop of a thread blocked in a system call said "force stop success", piscina waited for the
  // thread, so ready() stayed pending, the next instance (maxThreads 1) never ran, and close() never settled.
  it('blocked-thread-held-the-pool: is let go of after STUCK_THREAD_MS, said so in the outcome and counted; the pool serves on and close() settles', { timeout: 20_000 }, async () => {
    const fifo = join(folder, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const { runtime, logs } = runtimes.make({ processors: registry, maxThreads: 1, spareThreads: 0, forceStopGraceMs: 0 });
    try {
      const blocked = runtime.submit({ processor: 'blockRead', jobParams: { fifo }, timeoutMs: 100 });
      const next = runtime.submit({ processor: 'succeed', jobParams: 'after' });
      await logs.waitForProcessor(blocked.instanceId, 'started');
      expect(await blocked.done).toMatchObject({
        status: OutcomeStatus.FAILED,
        reason: OutcomeReason.TIMEOUT_FORCE_STOPPED,
        result: 'instance execute timeout,force stop requested; thread still blocked',
      });
      expect(runtime.metrics()).toMatchObject({ forceStops: 1, stuckThreads: 1 });
      expect(await next.done).toMatchObject({ status: OutcomeStatus.SUCCEED, result: 'hello after' });
      await runtime.ready();
      expect(runtime.threads).toBe(1);
      await runtime.close();
      expect(logs.lines.find((line) => line.msg.startsWith('closed with threads that could not be stopped'))).toMatchObject({ level: 50 });
    } finally {
      // The blocked read returns once someone writes to the pipe: the thread then ends, and the test process can exit.
      writeFileSync(fifo, 'released');
    }
    await logs.waitFor((line) => line.msg === 'a stuck thread has exited at last');
    expect(runtime.metrics().stuckThreads).toBe(0);
  });
});

describe('a processor that kills its worker on every attempt', () => {
  // Regression: with a large maxRetries, workers were respawned some 54 times a second, with no backoff.
  it('worker-death-respawn-storm: its retries back off, doubling from the second death in a row', { timeout: 20_000 }, async () => {
    const { runtime } = runtimes.make({ processors: registry, maxThreads: 1, spareThreads: 0 });
    const starts: number[] = [];
    const tracker = runtime.submit({ processor: 'exit', maxRetries: 4 });
    const listen = (message: unknown): void => {
      const start = message as StartMessage;
      if (start.instanceId === tracker.instanceId) starts[start.attempt - 1] = start.time;
    };
    channels.start.subscribe(listen);
    try {
      expect(await tracker.done).toMatchObject({ status: OutcomeStatus.FAILED, reason: OutcomeReason.WORKER_DIED, attempts: 5 });
    } finally {
      channels.start.unsubscribe(listen);
    }
    expect(starts).toHaveLength(5);
    const gaps = starts.slice(1).map((time, index) => time - (starts[index] as number));
    // No wait after the first death; then 20, 40, 80 ms at least (a timer may fire up to 1 ms early).
    for (const [index, backoff] of [[1, 20], [2, 40], [3, 80]] as const) expect(gaps[index]).toBeGreaterThanOrEqual(backoff - 1);
  });

  it('a stop while its retry backs off ends it at once, as the attempt before ended', async () => {
    const { runtime } = runtimes.make({ processors: registry, maxThreads: 1, spareThreads: 0 });
    const tracker = runtime.submit({ processor: 'exit', maxRetries: 50 });
    // The retry after the second death backs off (20 ms): the stop comes then, the moment the retry is decided.
    const listen = (message: unknown): void => {
      const retry = message as { instanceId: string; attempt: number };
      if (retry.instanceId !== tracker.instanceId || retry.attempt !== 3) return;
      channels.retry.unsubscribe(listen);
      queueMicrotask(() => tracker.stop());
    };
    channels.retry.subscribe(listen);
    expect(await tracker.done).toMatchObject({ status: OutcomeStatus.STOPPED, reason: OutcomeReason.STOPPED, attempts: 2 });
  });
});
