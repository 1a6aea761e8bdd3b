// Timeout: a timer at the deadline interrupts; after the grace, force-stop (a real worker.terminate()).
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { InstanceStatus, OutcomeReason, OutcomeStatus, SystemResult } from 'light-task-tracker';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

describe('timeout', () => {
  it('interrupts a cooperative processor at the deadline and reports FAILED "timeout interrupted"', async () => {
    const { runtime, reporter, logs } = runtimes.make({ forceStopGraceMs: 60_000 });
    const tracker = runtime.submit({ processor: 'spinCooperative', timeoutMs: 100 });
    const outcome = await tracker.done;
    expect(outcome).toMatchObject({ status: OutcomeStatus.FAILED, reason: OutcomeReason.TIMEOUT_INTERRUPTED, result: SystemResult.TIMEOUT_INTERRUPTED });
    expect(outcome.endTime - (outcome.startTime as number)).toBeGreaterThanOrEqual(99);
    const timeoutLine = await logs.waitFor((l) => l.msg === 'timeout: instance interrupted' && l.instanceId === tracker.instanceId);
    // A timer, not a poll: the interrupt is logged at the deadline, not a check period later.
    expect(timeoutLine.time as number).toBeGreaterThanOrEqual((outcome.startTime as number) + 99);
    expect(await reporter.waitFor((r) => r.instanceId === tracker.instanceId)).toMatchObject({
      status: InstanceStatus.FAILED,
      result: SystemResult.TIMEOUT_INTERRUPTED,
    });
  });

  it('force-stops a processor that ignores the interrupt after the grace, and reports it', async () => {
    const { runtime, reporter, logs } = runtimes.make({ forceStopGraceMs: 50 });
    const tracker = runtime.submit({ processor: 'spinRunaway', timeoutMs: 100 });
    const outcome = await tracker.done;
    expect(outcome).toMatchObject({ status: 'FAILED', reason: OutcomeReason.TIMEOUT_FORCE_STOPPED, result: SystemResult.TIMEOUT_FORCE_STOPPED });
    expect(outcome.endTime - (outcome.startTime as number)).toBeGreaterThanOrEqual(149);
    expect(logs.withMessage('the instance did not finish after its interrupt: terminating its worker', tracker.instanceId)).toHaveLength(1);
    expect(await reporter.waitFor((r) => r.instanceId === tracker.instanceId)).toMatchObject({ status: 'FAILED', result: SystemResult.TIMEOUT_FORCE_STOPPED });
  });

  it('defaults the grace to timeout/10 under 1 s, as the reference\'s check period', async () => {
    const { runtime, logs } = runtimes.make();
    const tracker = runtime.submit({ processor: 'spinRunaway', timeoutMs: 200 });
    const outcome = await tracker.done;
    expect(outcome.reason).toBe(OutcomeReason.TIMEOUT_FORCE_STOPPED);
    const interrupted = await logs.waitFor((l) => l.msg === 'timeout: instance interrupted' && l.instanceId === tracker.instanceId);
    const terminated = await logs.waitFor((l) => l.msg.startsWith('the instance did not finish') && l.instanceId === tracker.instanceId);
    expect((terminated.time as number) - (interrupted.time as number)).toBeGreaterThanOrEqual(19);
  });

  it('with allowForceStop false, lets an instance that ignores its interrupt run on, reported RUNNING', async () => {
    const { runtime, reporter, logs } = runtimes.make({ allowForceStop: false, forceStopGraceMs: 20, statusReportIntervalMs: 60 });
    const tracker = runtime.submit({ processor: 'spinRunaway', timeoutMs: 50 });
    await logs.waitFor((l) => l.instanceId === tracker.instanceId && l.msg.startsWith('the instance ignores its interrupt and force-stop is off'));
    // After the grace has passed, RUNNING reports go on.
    const graceSeen = Date.now();
    const later = await reporter.waitFor((r) => r.instanceId === tracker.instanceId && r.status === 'RUNNING' && r.reportTime > graceSeen);
    expect(later.endTime).toBeNull();
    expect(tracker.taskStatus).toBe('WORKER_PROCESSING');
    expect(logs.withMessage('the instance did not finish after its interrupt: terminating its worker', tracker.instanceId)).toHaveLength(0);
    // close() terminates it all the same, and it is then reported as stopped: no final report.
    await runtime.close();
    expect(await tracker.done).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_FORCE_STOPPED });
    expect(reporter.reportsOf(tracker.instanceId).every((r) => r.status === 'RUNNING')).toBe(true);
  });

  it('covers all attempts together, from the first start, and retries none after it', async () => {
    const { runtime, logs } = runtimes.make({ forceStopGraceMs: 60_000, maxThreads: 1 });
    // Warm the worker and the module first, so that no start-up cost eats into the first attempt.
    await runtime.submit({ processor: 'slowFail', jobParams: { ms: 1 } }).done;
    // Each attempt fails after 60 ms, well within the 400 ms timeout: a timeout restarted with each attempt would
    // never fire, and all 11 attempts would run.
    const tracker = runtime.submit({ processor: 'slowFail', jobParams: { ms: 60 }, timeoutMs: 400, maxRetries: 10 });
    const outcome = await tracker.done;
    expect(outcome).toMatchObject({ status: 'FAILED', reason: OutcomeReason.TIMEOUT_INTERRUPTED, result: SystemResult.TIMEOUT_INTERRUPTED });
    expect(outcome.attempts).toBeGreaterThanOrEqual(2);
    expect(outcome.attempts).toBeLessThan(11);
    expect(logs.withMessage('attempt failed: retrying', tracker.instanceId)).toHaveLength(outcome.attempts - 1);
    const started = logs.lines.filter((l) => l.instanceId === tracker.instanceId && l.msg === 'started');
    expect(started).toHaveLength(outcome.attempts);
  });

  // Regression: the timeout counted from the dispatch in the main thread, so the hand-off to the worker came out of
  // the job's budget, and an instance that waited for a worker (prefetched behind a running one) was interrupted
  // almost as soon as it started.
  it('counts the budget from the processor\'s start in its worker, not from the dispatch', async () => {
    const { runtime } = runtimes.make({ forceStopGraceMs: 60_000, maxThreads: 2 });
    await runtime.ready();
    const timeoutMs = 50;
    const runs = Array.from({ length: 8 }, () => new SharedArrayBuffer(2 * Float64Array.BYTES_PER_ELEMENT));
    // Eight at once on two threads: six of them wait for a worker (two prefetched), one or more whole timeouts.
    const outcomes = await Promise.all(runs.map((times) => runtime.submit({ processor: 'timedSpin', jobParams: { times }, timeoutMs }).done));
    for (const outcome of outcomes) expect(outcome.reason).toBe(OutcomeReason.TIMEOUT_INTERRUPTED);
    const spent = runs.map((times) => {
      const [start, seen] = new Float64Array(times);
      return (seen as number) - (start as number);
    });
    // The deadline is exact to the start stamp, taken just before the processor is called; what lies between the
    // two (a GC, the thread descheduled on a busy machine) is not the timer's, hence half the budget here.
    expect(spent.filter((ms) => !(ms > timeoutMs / 2))).toEqual([]);
  });

  // The deadline is a worker's start stamp plus timeoutMs, met on the main thread's clock: each clock is
  // performance.timeOrigin + performance.now(), and they agree because a worker's time origin is the process's.
  it('reads a start stamped in a worker on the main thread\'s clock: the threads share one time origin', async () => {
    const worker = new Worker('require("node:worker_threads").parentPort.postMessage(performance.timeOrigin)', { eval: true });
    const [origin] = (await once(worker, 'message')) as [number];
    await once(worker, 'exit');
    expect(origin).toBe(performance.timeOrigin);
  });
});
