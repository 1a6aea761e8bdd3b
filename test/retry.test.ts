// Retries: up to maxRetries more attempts after a failure; none after a timeout or a stop.
import { describe, expect, it } from 'vitest';
import { OutcomeReason } from 'light-task-tracker';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

describe('retries', () => {
  it('retries a failed result with currentRetryTimes incremented, until it succeeds', async () => {
    const { runtime, reporter, logs } = runtimes.make();
    const tracker = runtime.submit({ processor: 'flaky', jobParams: { succeedOn: 2 }, maxRetries: 3 });
    expect(await tracker.done).toMatchObject({ status: 'SUCCEED', result: 'succeeded on retry 2', attempts: 3 });
    const started = logs.lines.filter((l) => l.instanceId === tracker.instanceId && l.msg === 'started');
    expect(started.map((l) => [l.currentRetryTimes, l.maxRetryTimes])).toEqual([[0, 3], [1, 3], [2, 3]]);
    expect(logs.withMessage('attempt failed: retrying', tracker.instanceId)).toHaveLength(2);
    // One final report for the whole instance, not one per attempt.
    expect((await reporter.waitFor((r) => r.instanceId === tracker.instanceId)).status).toBe('SUCCEED');
    expect(reporter.reportsOf(tracker.instanceId)).toHaveLength(1);
  });

  it('retries a thrown error too, and gives up after maxRetries with the last attempt\'s result', async () => {
    const { runtime } = runtimes.make();
    const tracker = runtime.submit({ processor: 'flaky', jobParams: { succeedOn: 9, mode: 'throw' }, maxRetries: 2 });
    expect(await tracker.done).toMatchObject({ status: 'FAILED', reason: OutcomeReason.PROCESSOR_THREW, result: 'Error: attempt 2 threw', attempts: 3 });
  });

  it('makes no retry when maxRetries is 0 (the default)', async () => {
    const { runtime } = runtimes.make();
    expect(await runtime.submit({ processor: 'flaky', jobParams: { succeedOn: 1 } }).done).toMatchObject({ status: 'FAILED', attempts: 1 });
  });

  it('makes no retry after a stop', async () => {
    const { runtime, logs } = runtimes.make();
    const tracker = runtime.submit({ processor: 'slowFail', jobParams: { ms: 60_000 }, maxRetries: 5 });
    await logs.waitForProcessor(tracker.instanceId, 'started');
    tracker.stop();
    expect(await tracker.done).toMatchObject({ status: 'STOPPED', attempts: 1 });
    expect(logs.withMessage('attempt failed: retrying', tracker.instanceId)).toHaveLength(0);
  });

  it('makes no retry of a processor that fails to load', async () => {
    const { runtime } = runtimes.make();
    expect(await runtime.submit({ processor: 'loadThrows', maxRetries: 3 }).done).toMatchObject({ reason: OutcomeReason.PROCESSOR_LOAD_FAILED, attempts: 1 });
  });
});
