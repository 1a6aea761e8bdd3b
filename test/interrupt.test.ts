// Interrupt reaches a processor in a hot synchronous loop (shared-memory flag) and in an async wait (its signal).
import { describe, expect, it } from 'vitest';
import { OutcomeReason, OutcomeStatus, SystemResult } from 'light-task-tracker';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

describe('interrupt', () => {
  it('reaches a synchronous CPU loop that never yields, through ctx.interrupted', async () => {
    const { runtime, logs } = runtimes.make({ forceStopGraceMs: 60_000 });
    const tracker = runtime.submit({ processor: 'spinCooperative' });
    await logs.waitForProcessor(tracker.instanceId, 'started');
    tracker.stop();
    const outcome = await tracker.done;
    // The processor saw the flag and threw through throwIfInterrupted(): no force-stop was needed.
    expect(outcome).toMatchObject({ status: OutcomeStatus.STOPPED, reason: OutcomeReason.STOP_INTERRUPTED, result: SystemResult.STOP_INTERRUPTED });
    // The loop ended because it read the flag (the log line comes after the loop), not through a terminate.
    expect((await logs.waitForProcessor(tracker.instanceId, 'saw interrupt')).spins).toBeTypeOf('number');
    expect(logs.withMessage('the instance did not finish after its interrupt: terminating its worker')).toHaveLength(0);
  });

  it('fires the AbortSignal of an async processor as soon as its event loop turns', async () => {
    const { runtime, logs } = runtimes.make({ forceStopGraceMs: 60_000 });
    const tracker = runtime.submit({ processor: 'awaitSignal' });
    await logs.waitForProcessor(tracker.instanceId, 'started');
    tracker.stop();
    const outcome = await tracker.done;
    expect((await logs.waitForProcessor(tracker.instanceId, 'signal fired')).reason).toBe('InterruptedError');
    // It returned its own failure: the outcome keeps that text and says why it was interrupted.
    expect(outcome).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_INTERRUPTED, result: 'gave up on abort' });
  });

  it('makes ctx.sleep reject at once with an InterruptedError', async () => {
    const { runtime, logs } = runtimes.make({ forceStopGraceMs: 60_000 });
    const tracker = runtime.submit({ processor: 'sleep', jobParams: { ms: 600_000 } });
    await logs.waitForProcessor(tracker.instanceId, 'started');
    tracker.stop();
    expect(await tracker.done).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_INTERRUPTED, result: SystemResult.STOP_INTERRUPTED });
    expect(logs.withMessage('the instance did not finish after its interrupt: terminating its worker')).toHaveLength(0);
  });

  it('leaves the worker alive after a cooperative interrupt: the next instance runs on the same threads', async () => {
    const { runtime, logs } = runtimes.make({ maxThreads: 1, forceStopGraceMs: 60_000 });
    await runtime.ready();
    const threadsBefore = runtime.threads;
    const tracker = runtime.submit({ processor: 'spinCooperative' });
    await logs.waitForProcessor(tracker.instanceId, 'started');
    tracker.stop();
    await tracker.done;
    expect(await runtime.submit({ processor: 'succeed', jobParams: 'again' }).done).toMatchObject({ status: 'SUCCEED', result: 'hello again' });
    expect(runtime.threads).toBe(threadsBefore);
    expect(logs.lines.filter((l) => l.msg === 'a worker failed outside any attempt')).toHaveLength(0);
  });
});
