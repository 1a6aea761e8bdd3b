// Create → run → finish → final report → destroy, for a processor that succeeds.
import { describe, expect, it } from 'vitest';
import { InstanceStatus, OutcomeReason, OutcomeStatus, TaskStatus } from 'light-task-tracker';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

describe('lifecycle of one instance', () => {
  it('runs the processor in a worker and settles done with its result', async () => {
    const { runtime } = runtimes.make();
    const tracker = runtime.submit({ processor: 'succeed', instanceId: 'i-1', jobId: 7, jobParams: 'world' });
    expect(tracker.instanceId).toBe('i-1');
    expect(runtime.get('i-1')).toBe(tracker);
    const outcome = await tracker.done;
    expect(outcome).toMatchObject({ status: OutcomeStatus.SUCCEED, reason: OutcomeReason.SUCCEEDED, result: 'hello world', attempts: 1 });
    expect(outcome.startTime).toBeTypeOf('number');
    expect(outcome.endTime).toBeGreaterThanOrEqual(outcome.startTime as number);
    expect(tracker.taskStatus).toBe(TaskStatus.WORKER_PROCESS_SUCCESS);
  });

  it('goes WORKER_RECEIVED → WORKER_PROCESSING → WORKER_PROCESS_SUCCESS', async () => {
    const { runtime, logs } = runtimes.make({ maxThreads: 1 });
    const first = runtime.submit({ processor: 'sleep', jobParams: { ms: 60_000 } });
    const second = runtime.submit({ processor: 'succeed' });
    expect(second.taskStatus).toBe(TaskStatus.WORKER_RECEIVED);
    await logs.waitForProcessor(first.instanceId, 'started');
    expect(first.taskStatus).toBe(TaskStatus.WORKER_PROCESSING);
    expect(second.taskStatus).toBe(TaskStatus.WORKER_RECEIVED);
    first.stop();
    await second.done;
    expect(second.taskStatus).toBe(TaskStatus.WORKER_PROCESS_SUCCESS);
  });

  it('reports the final status at once with the reference fields, then destroys the tracker', async () => {
    const { runtime, reporter, logs } = runtimes.make({ address: '10.0.0.1:27777' });
    const tracker = runtime.submit({ processor: 'succeed', instanceId: 'final-1', jobId: 'job-9', jobParams: 'x' });
    const outcome = await tracker.done;
    const report = await reporter.waitFor((r) => r.instanceId === 'final-1');
    expect(report).toMatchObject({
      instanceId: 'final-1',
      jobId: 'job-9',
      status: InstanceStatus.SUCCEED,
      result: 'hello x',
      startTime: outcome.startTime,
      endTime: outcome.endTime,
      sourceAddress: '10.0.0.1:27777',
      totalTaskNum: 1,
      succeedTaskNum: 1,
      failedTaskNum: 0,
      appendedWfContext: undefined,
    });
    expect(report.reportTime).toBeGreaterThan(outcome.endTime - 1);
    expect(report.triggerTime).toBeLessThanOrEqual(outcome.startTime as number);
    const destroyed = await logs.waitFor((line) => line.msg === 'tracker destroyed' && line.instanceId === 'final-1');
    expect(destroyed).toMatchObject({ status: TaskStatus.WORKER_PROCESS_SUCCESS });
    expect(destroyed.queueMs).toBeTypeOf('number');
    expect(destroyed.runMs).toBeTypeOf('number');
    expect(destroyed.totalMs).toBeTypeOf('number');
    expect(runtime.get('final-1')).toBeUndefined();
    expect(runtime.size).toBe(0);
    expect(reporter.reportsOf('final-1').filter((r) => r.status !== InstanceStatus.RUNNING)).toHaveLength(1);
  });

  it('sends periodic RUNNING reports, the first within [1/3, 2/3] of the period, and stamps the final one later', async () => {
    const period = 300;
    const { runtime, reporter, logs } = runtimes.make({ statusReportIntervalMs: period });
    const tracker = runtime.submit({ processor: 'sleep', jobParams: { ms: 60_000 } });
    await logs.waitForProcessor(tracker.instanceId, 'started');
    const first = await reporter.waitFor((r) => r.instanceId === tracker.instanceId && r.status === InstanceStatus.RUNNING);
    const elapsed = first.reportTime - first.triggerTime;
    expect(elapsed).toBeGreaterThanOrEqual(period / 3 - 2);
    expect(elapsed).toBeLessThanOrEqual((2 * period) / 3 + 250); // upper bound allows for a loaded machine
    expect(first).toMatchObject({ status: 'RUNNING', result: '', endTime: null, succeedTaskNum: 0, failedTaskNum: 0, totalTaskNum: 1 });
    await reporter.waitFor((r) => r.instanceId === tracker.instanceId && r.status === InstanceStatus.RUNNING && r !== first);
    expect(tracker.runningStatus()).toMatchObject({
      actualTriggerTime: first.triggerTime,
      status: InstanceStatus.RUNNING,
      taskTrackerAddress: first.sourceAddress,
      taskDetail: { totalTaskNum: 1, succeedTaskNum: 0, failedTaskNum: 0 },
    });
  });

  it('stamps a final report later than every RUNNING report, and sends no RUNNING report after it', async () => {
    const { runtime, reporter } = runtimes.make({ statusReportIntervalMs: 30 });
    const tracker = runtime.submit({ processor: 'flaky', jobParams: { succeedOn: 1 }, maxRetries: 1 });
    await tracker.done;
    const final = await reporter.waitFor((r) => r.instanceId === tracker.instanceId && r.status !== InstanceStatus.RUNNING);
    const reports = reporter.reportsOf(tracker.instanceId);
    for (const r of reports) if (r !== final) expect(final.reportTime).toBeGreaterThan(r.reportTime);
    expect(reports.at(-1)).toBe(final);
  });

  it('answers runningStatus with the final status once finished', async () => {
    const { runtime } = runtimes.make({ reporter: { report: () => new Promise(() => {}) }, reportTimeoutMs: 1000, finalReportRetries: 0 });
    const tracker = runtime.submit({ processor: 'fail' });
    await tracker.done;
    expect(tracker.runningStatus()).toMatchObject({ status: InstanceStatus.FAILED, taskDetail: { succeedTaskNum: 0, failedTaskNum: 1 } });
    // The hanging reporter keeps the tracker registered until the report is delivered or given up.
    expect(runtime.get(tracker.instanceId)).toBe(tracker);
  });

  it('answers runningStatus STOPPED for a stopped instance, stopped before its start or while it ran', async () => {
    const { runtime, logs } = runtimes.make({ maxThreads: 1 });
    const running = runtime.submit({ processor: 'sleep' });
    const queued = runtime.submit({ processor: 'succeed' });
    await logs.waitForProcessor(running.instanceId, 'started');
    expect(queued.runningStatus()).toMatchObject({ status: InstanceStatus.RUNNING, taskDetail: { succeedTaskNum: 0, failedTaskNum: 0 } });
    queued.stop();
    expect((await queued.done).status).toBe('STOPPED');
    // Never ran: no task succeeded or failed.
    expect(queued.runningStatus()).toMatchObject({ status: InstanceStatus.STOPPED, taskDetail: { totalTaskNum: 1, succeedTaskNum: 0, failedTaskNum: 0 } });
    running.stop();
    expect((await running.done).status).toBe('STOPPED');
    expect(running.runningStatus()).toMatchObject({ status: InstanceStatus.STOPPED, taskDetail: { succeedTaskNum: 0, failedTaskNum: 1 } });
  });
});
