// What a processor's result, throw or silence becomes: the outcome and the final report.
import { describe, expect, it } from 'vitest';
import { InstanceStatus, OutcomeReason, OutcomeStatus, SystemResult, TaskStatus } from 'light-task-tracker';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

describe('processor results', () => {
  it('a failed result fails the instance and is reported FAILED with its message', async () => {
    const { runtime, reporter } = runtimes.make();
    const tracker = runtime.submit({ processor: 'fail' });
    expect(await tracker.done).toMatchObject({ status: OutcomeStatus.FAILED, reason: OutcomeReason.PROCESSOR_FAILED, result: 'the job said no' });
    expect(tracker.taskStatus).toBe(TaskStatus.WORKER_PROCESS_FAILED);
    const report = await reporter.waitFor((r) => r.instanceId === tracker.instanceId);
    expect(report).toMatchObject({ status: InstanceStatus.FAILED, result: 'the job said no', succeedTaskNum: 0, failedTaskNum: 1 });
  });

  it('a thrown error is a failed result carrying the error\'s own text', async () => {
    const { runtime, reporter } = runtimes.make();
    const tracker = runtime.submit({ processor: 'throws' });
    expect(await tracker.done).toMatchObject({ status: OutcomeStatus.FAILED, reason: OutcomeReason.PROCESSOR_THREW, result: 'RangeError: boom' });
    expect(await reporter.waitFor((r) => r.instanceId === tracker.instanceId)).toMatchObject({ status: 'FAILED', result: 'RangeError: boom' });
  });

  it('a missing result is a failed result "Processor return null"', async () => {
    const { runtime } = runtimes.make();
    const outcome = await runtime.submit({ processor: 'returnsNull' }).done;
    expect(outcome).toMatchObject({ status: 'FAILED', reason: OutcomeReason.PROCESSOR_RETURNED_NULL, result: SystemResult.PROCESSOR_RETURNED_NULL });
    expect(outcome.result).toBe('Processor return null');
  });

  it('cuts the reported result to maxResultLength and appends "..."; the outcome keeps it whole', async () => {
    const { runtime, reporter, logs } = runtimes.make({ maxResultLength: 10 });
    const long = runtime.submit({ processor: 'longResult', jobParams: { length: 25 } });
    const exact = runtime.submit({ processor: 'longResult', jobParams: { length: 10 } });
    expect((await long.done).result).toHaveLength(25);
    await exact.done;
    expect((await reporter.waitFor((r) => r.instanceId === long.instanceId)).result).toBe(`${'x'.repeat(10)}...`);
    expect((await reporter.waitFor((r) => r.instanceId === exact.instanceId)).result).toBe('x'.repeat(10));
    expect(logs.lines.some((l) => l.level >= 50)).toBe(false);
  });

  it('sends the appended workflow context with the final report of a workflow instance', async () => {
    const { runtime, reporter } = runtimes.make();
    const inWorkflow = runtime.submit({ processor: 'workflow', wfInstanceId: 'wf-3' });
    const alone = runtime.submit({ processor: 'workflow' });
    await Promise.all([inWorkflow.done, alone.done]);
    const report = await reporter.waitFor((r) => r.instanceId === inWorkflow.instanceId);
    expect(report.wfInstanceId).toBe('wf-3');
    expect(report.appendedWfContext).toEqual({ rows: 42, source: { table: 'orders', wf: 'wf-3' } });
    expect((await reporter.waitFor((r) => r.instanceId === alone.instanceId)).appendedWfContext).toBeUndefined();
  });

  it('refuses a workflow value that cannot be cloned, failing the attempt with the reason', async () => {
    const { runtime } = runtimes.make();
    const outcome = await runtime.submit({ processor: 'workflow', wfInstanceId: 1, jobParams: 'bad-append' }).done;
    expect(outcome.reason).toBe(OutcomeReason.PROCESSOR_THREW);
    expect(outcome.result).toMatch(/^TypeError: workflow.append: the value for "fn" cannot be structured-cloned/);
  });
});
