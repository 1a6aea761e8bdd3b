// Stop from outside: before start the job never runs; running it is interrupted then force-stopped; a stopped
// instance sends no final report; after the finish a stop is ignored.
import { describe, expect, it } from 'vitest';
import { InstanceError, OutcomeReason, OutcomeStatus, SystemResult, TaskStatus } from 'light-task-tracker';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

describe('stop', () => {
  it('before start: the job never runs, the tracker is destroyed at once, nothing is reported', async () => {
    const { runtime, reporter, logs } = runtimes.make({ maxThreads: 1 });
    const blocker = runtime.submit({ processor: 'sleep' });
    const queued = runtime.submit({ processor: 'succeed', instanceId: 'never' });
    expect(runtime.stop('never')).toBe(true);
    expect(await queued.done).toMatchObject({
      status: OutcomeStatus.STOPPED,
      reason: OutcomeReason.STOPPED_BEFORE_START,
      result: SystemResult.STOPPED_BEFORE_START,
      attempts: 0,
      startTime: null,
    });
    expect(queued.taskStatus).toBe(TaskStatus.WORKER_RECEIVED);
    expect(runtime.get('never')).toBeUndefined();
    blocker.stop();
    await blocker.done;
    // The slot the blocker held goes to no one: the stopped instance never starts.
    const after = await runtime.submit({ processor: 'succeed' }).done;
    expect(after.status).toBe('SUCCEED');
    expect(logs.lines.some((l) => l.instanceId === 'never' && l.source === 'processor')).toBe(false);
    expect(reporter.reportsOf('never')).toHaveLength(0);
    expect(reporter.reportsOf(blocker.instanceId).filter((r) => r.status !== 'RUNNING')).toHaveLength(0);
  });

  it('running and cooperative: interrupted, destroyed without a report', async () => {
    const { runtime, reporter, logs } = runtimes.make();
    const tracker = runtime.submit({ processor: 'sleep' });
    await logs.waitForProcessor(tracker.instanceId, 'started');
    tracker.stop();
    expect(await tracker.done).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_INTERRUPTED, attempts: 1 });
    await logs.waitFor((l) => l.msg === 'tracker destroyed' && l.instanceId === tracker.instanceId);
    expect(reporter.reportsOf(tracker.instanceId)).toHaveLength(0);
    expect(runtime.size).toBe(0);
  });

  it('running and ignoring the interrupt: force-stopped (worker terminated) after the grace, and the pool recovers', async () => {
    const { runtime, reporter, logs } = runtimes.make({ maxThreads: 1, forceStopGraceMs: 30 });
    const runaway = runtime.submit({ processor: 'spinRunaway' });
    const next = runtime.submit({ processor: 'succeed', jobParams: 'next' });
    await logs.waitForProcessor(runaway.instanceId, 'started');
    runaway.stop();
    expect(await runaway.done).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_FORCE_STOPPED, result: SystemResult.STOP_FORCE_STOPPED });
    expect(await next.done).toMatchObject({ status: 'SUCCEED', result: 'hello next' });
    expect(reporter.reportsOf(runaway.instanceId)).toHaveLength(0);
    expect(runtime.threads).toBe(2); // maxThreads + the default spare
  });

  it('after the finish: ignored with a warning', async () => {
    const { runtime, reporter, logs } = runtimes.make({ reporter: { report: () => new Promise(() => {}) }, reportTimeoutMs: 1000, finalReportRetries: 0 });
    const tracker = runtime.submit({ processor: 'succeed' });
    const outcome = await tracker.done;
    // Still registered (its final report is under way), so runtime.stop finds it, and ignores it.
    expect(runtime.stop(tracker.instanceId)).toBe(true);
    expect(logs.withMessage('stop ignored: the instance has finished', tracker.instanceId)).toHaveLength(1);
    expect(await tracker.done).toBe(outcome);
    void reporter;
  });

  it('twice: the second is ignored with a warning', async () => {
    const { runtime, logs } = runtimes.make({ forceStopGraceMs: 60_000 });
    const tracker = runtime.submit({ processor: 'awaitSignal' });
    await logs.waitForProcessor(tracker.instanceId, 'started');
    tracker.stop();
    tracker.stop();
    expect(logs.withMessage('stop ignored: the instance is already stopping', tracker.instanceId)).toHaveLength(1);
    expect((await tracker.done).status).toBe('STOPPED');
  });

  it('of an unknown id returns false', () => {
    const { runtime } = runtimes.make();
    expect(runtime.stop('nobody')).toBe(false);
  });

  it('by the caller\'s AbortSignal, running or already aborted at submit', async () => {
    const { runtime, logs } = runtimes.make();
    const controller = new AbortController();
    const tracker = runtime.submit({ processor: 'sleep', signal: controller.signal });
    await logs.waitForProcessor(tracker.instanceId, 'started');
    controller.abort();
    expect(await tracker.done).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_INTERRUPTED });

    const early = runtime.submit({ processor: 'succeed', signal: AbortSignal.abort() });
    expect(await early.done).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOPPED_BEFORE_START, attempts: 0 });
    expect(runtime.size).toBe(0);
  });

  it('keeps the caller\'s abort reason: on the outcome, with stoppedBy "signal", for every instance sharing the signal', async () => {
    const { runtime, logs } = runtimes.make({ maxThreads: 1 });
    const controller = new AbortController();
    const running = runtime.submit({ processor: 'sleep', signal: controller.signal });
    const queued = runtime.submit({ processor: 'succeed', signal: controller.signal });
    const other = runtime.submit({ processor: 'succeed', jobParams: 'not stopped' });
    await logs.waitForProcessor(running.instanceId, 'started');
    const reason = new Error('the user closed the tab');
    controller.abort(reason);
    expect(await running.done).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_INTERRUPTED, stoppedBy: 'signal' });
    expect((await running.done).abortReason).toBe(reason);
    expect(await queued.done).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOPPED_BEFORE_START, stoppedBy: 'signal' });
    expect((await queued.done).abortReason).toBe(reason);
    expect(await other.done).toMatchObject({ status: 'SUCCEED', stoppedBy: undefined, abortReason: undefined });
    expect(logs.withMessage('stop requested: instance interrupted', running.instanceId)[0]).toMatchObject({ stoppedBy: 'signal' });

    // Aborted before the submit: stopped before start, with that reason; abort() without one gives the AbortError.
    const early = await runtime.submit({ processor: 'succeed', signal: AbortSignal.abort('too late') }).done;
    expect(early).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOPPED_BEFORE_START, stoppedBy: 'signal', abortReason: 'too late' });
    const bare = await runtime.submit({ processor: 'succeed', signal: AbortSignal.abort() }).done;
    expect(bare.abortReason).toBeInstanceOf(DOMException);
    expect((bare.abortReason as DOMException).name).toBe('AbortError');
  });

  it('says what else stopped an instance: "stop" for a call, "close" for close(), with no abort reason', async () => {
    const { runtime, logs } = runtimes.make();
    const controller = new AbortController();
    const called = runtime.submit({ processor: 'sleep', signal: controller.signal });
    await logs.waitForProcessor(called.instanceId, 'started');
    called.stop();
    controller.abort(new Error('after the stop'));
    expect(await called.done).toMatchObject({ status: 'STOPPED', stoppedBy: 'stop', abortReason: undefined });
    const closed = runtime.submit({ processor: 'sleep' });
    await logs.waitForProcessor(closed.instanceId, 'started');
    await runtime.close();
    expect(await closed.done).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_INTERRUPTED, stoppedBy: 'close', abortReason: undefined });
  });

  it('run(): the InstanceError\'s cause is the reason given to abort(reason)', async () => {
    const { runtime, logs } = runtimes.make();
    const controller = new AbortController();
    const reason = new RangeError('cancelled by the caller');
    const running = runtime.run('sleep', undefined, { instanceId: 'run-signal', signal: controller.signal });
    await logs.waitForProcessor('run-signal', 'started');
    controller.abort(reason);
    const error: unknown = await running.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InstanceError);
    expect(error).toMatchObject({ code: 'ERR_INSTANCE_STOPPED', outcome: { status: 'STOPPED', stoppedBy: 'signal' } });
    expect((error as InstanceError).cause).toBe(reason);
    expect((error as InstanceError).message).toMatch(/, stopped by signal\): /);
    // Stopped otherwise, or failed: no cause.
    const failed: unknown = await runtime.run('fail').catch((caught: unknown) => caught);
    expect(failed).toMatchObject({ code: 'ERR_INSTANCE_FAILED' });
    expect(Object.hasOwn(failed as Error, 'cause')).toBe(false);
  });

  it('stops a timed-out instance as a stop: no report, status STOPPED', async () => {
    const { runtime, reporter, logs } = runtimes.make({ allowForceStop: false, forceStopGraceMs: 10 });
    const tracker = runtime.submit({ processor: 'spinRunaway', timeoutMs: 30 });
    await logs.waitFor((l) => l.instanceId === tracker.instanceId && l.msg.startsWith('the instance ignores its interrupt'));
    tracker.stop();
    await runtime.close();
    expect(await tracker.done).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_FORCE_STOPPED });
    expect(reporter.reportsOf(tracker.instanceId).filter((r) => r.status !== 'RUNNING')).toHaveLength(0);
  });
});
