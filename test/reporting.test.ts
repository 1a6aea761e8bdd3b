// Final reports are never lost silently: retried with backoff, the tracker kept until acknowledged or the budget is
// spent, the loss logged as an error; a slow reporter never delays the next instance's dispatch.
import { describe, expect, it } from 'vitest';
import type { Reporter, StatusReport } from 'light-task-tracker';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

const fastRetries = { reportBackoffMs: 1, reportBackoffMaxMs: 5 };

describe('final report delivery', () => {
  it('retries a reporter that throws, then rejects, until it acknowledges; the tracker stays until then', async () => {
    let calls = 0;
    const delivered: StatusReport[] = [];
    const reporter: Reporter = {
      report(report) {
        calls++;
        if (calls === 1) throw new Error('sync failure');
        if (calls === 2) return Promise.reject(new Error('async failure'));
        delivered.push(report);
      },
    };
    const { runtime, logs } = runtimes.make({ reporter, ...fastRetries });
    const tracker = runtime.submit({ processor: 'succeed' });
    await tracker.done;
    const destroyed = await logs.waitFor((l) => l.msg === 'tracker destroyed' && l.instanceId === tracker.instanceId);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ instanceId: tracker.instanceId, status: 'SUCCEED' });
    const retries = logs.withMessage('final report failed: retrying', tracker.instanceId);
    expect(retries).toHaveLength(2);
    // Destroyed only after the acknowledgement.
    expect(destroyed.time as number).toBeGreaterThanOrEqual(retries[1]?.time as number);
    expect(runtime.stats).toMatchObject({ reportsDelivered: 1, reportsRetried: 2, reportsLost: 0 });
  });

  it('gives up after finalReportRetries, logs the lost report as an error, counts it, and destroys the tracker', async () => {
    const reporter: Reporter = { report: () => Promise.reject(new Error('scheduler down')) };
    const { runtime, logs } = runtimes.make({ reporter, finalReportRetries: 2, ...fastRetries });
    const tracker = runtime.submit({ processor: 'fail' });
    await tracker.done;
    const lost = await logs.waitFor((l) => l.msg === 'final report lost: every try failed' && l.instanceId === tracker.instanceId);
    expect(lost.level).toBe(50);
    expect(lost.tries).toBe(3);
    expect(lost.report).toMatchObject({ instanceId: tracker.instanceId, status: 'FAILED', result: 'the job said no' });
    await logs.waitFor((l) => l.msg === 'tracker destroyed' && l.instanceId === tracker.instanceId);
    expect(runtime.size).toBe(0);
    expect(runtime.stats).toMatchObject({ reportsRetried: 2, reportsLost: 1, reportsDelivered: 0 });
  });

  it('counts a call that hangs past reportTimeoutMs as failed, aborts its signal, and retries', async () => {
    const signals: AbortSignal[] = [];
    let calls = 0;
    const reporter: Reporter = {
      report(_report, signal) {
        calls++;
        if (signal !== undefined) signals.push(signal);
        return calls === 1 ? new Promise(() => {}) : undefined;
      },
    };
    const { runtime, logs } = runtimes.make({ reporter, reportTimeoutMs: 50, ...fastRetries });
    const tracker = runtime.submit({ processor: 'succeed' });
    await tracker.done;
    await logs.waitFor((l) => l.msg === 'tracker destroyed' && l.instanceId === tracker.instanceId);
    expect(calls).toBe(2);
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[1]?.aborted).toBe(false);
    expect(logs.withMessage('final report failed: retrying', tracker.instanceId)[0]?.err).toMatchObject({ type: 'TimeoutError' });
  });

  it('never lets a slow reporter delay the next instance\'s dispatch', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const reporter: Reporter = { report: (report) => (report.status === 'RUNNING' ? undefined : held) };
    const { runtime } = runtimes.make({ reporter, maxThreads: 1 });
    const first = runtime.submit({ processor: 'succeed', jobParams: 1 });
    const second = runtime.submit({ processor: 'succeed', jobParams: 2 });
    await first.done;
    // The first instance's report is still pending, and the second one runs to the end all the same.
    expect(await second.done).toMatchObject({ status: 'SUCCEED', result: 'hello 2' });
    expect(runtime.get(first.instanceId)).toBe(first);
    release();
    await runtime.close();
    expect(runtime.stats).toMatchObject({ reportsDelivered: 2, reportsLost: 0 });
  });

  it('logs a failed RUNNING report and goes on; the instance still finishes and reports', async () => {
    const finals: StatusReport[] = [];
    const reporter: Reporter = {
      report(report) {
        if (report.status === 'RUNNING') throw new Error('running report refused');
        finals.push(report);
      },
    };
    const { runtime, logs } = runtimes.make({ reporter, statusReportIntervalMs: 30 });
    const tracker = runtime.submit({ processor: 'sleep', jobParams: { ms: 150 } });
    await logs.waitFor((l) => l.msg === 'RUNNING report failed' && l.instanceId === tracker.instanceId);
    expect((await tracker.done).status).toBe('SUCCEED');
    await runtime.close();
    expect(finals.map((r) => r.status)).toEqual(['SUCCEED']);
    expect(runtime.stats.runningReportsFailed).toBeGreaterThan(0);
  });
});

describe('many final reports in flight', () => {
  it('raise no listener-count warning (each listens to the runtime-wide give-up signal)', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning.name);
    };
    process.on('warning', onWarning);
    try {
      let release!: () => void;
      const held = new Promise<void>((resolve) => { release = resolve; });
      let pending = 0;
      let allPending!: () => void;
      const reached = new Promise<void>((resolve) => { allPending = resolve; });
      const { runtime } = runtimes.make({
        reporter: {
          report: async (report) => {
            if (report.status === 'RUNNING') return;
            if (++pending === 40) allPending();
            await held;
          },
        },
      });
      const trackers = Array.from({ length: 40 }, () => runtime.submit({ processor: 'succeed' }));
      await Promise.all(trackers.map((tracker) => tracker.done));
      await reached;
      release();
      await runtime.close();
      // A warning is emitted on a later turn than the listener that caused it: let it arrive.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
      expect(runtime.stats.reportsDelivered).toBe(40);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('the signal a reporter gets', () => {
  it('comes with every report, final and RUNNING, whatever the report() declares, and is never aborted for a call that returned', async () => {
    const calls: Array<{ status: string; signal: unknown }> = [];
    let sawRunning!: () => void;
    const runningSeen = new Promise<void>((resolve) => (sawRunning = resolve));
    // Declares one parameter and takes the rest: it still gets its signal.
    const reporter: Reporter = {
      report(report: StatusReport, ...rest: unknown[]) {
        calls.push({ status: report.status, signal: rest[0] });
        if (report.status === 'RUNNING') sawRunning();
      },
    };
    const { runtime } = runtimes.make({ reporter, statusReportIntervalMs: 10 });
    const running = runtime.submit({ processor: 'sleep', jobParams: { ms: 60_000 } });
    await runningSeen;
    running.stop();
    const done = runtime.submit({ processor: 'succeed' });
    await done.done;
    await runtime.close();
    const final = calls.find((call) => call.status === 'SUCCEED');
    const first = calls.find((call) => call.status === 'RUNNING');
    expect(final?.signal).toBeInstanceOf(AbortSignal);
    expect(first?.signal).toBeInstanceOf(AbortSignal);
    // None aborted once its call returned (a call that returns at once is done with its signal, which may come again
    // with a later call).
    const signals = calls.map((call) => call.signal as AbortSignal);
    expect(signals.every((signal) => signal instanceof AbortSignal)).toBe(true);
    expect(signals.filter((signal) => signal.aborted)).toEqual([]);
  });

  it('aborts a RUNNING report that hangs past reportTimeoutMs, and counts it as failed', async () => {
    const aborted: unknown[] = [];
    const reporter: Reporter = {
      report(report, signal) {
        if (report.status !== 'RUNNING') return undefined;
        return new Promise<void>((_resolve, reject) => {
          signal?.addEventListener('abort', () => {
            aborted.push(signal.reason);
            reject(signal.reason);
          }, { once: true });
        });
      },
    };
    const { runtime, logs } = runtimes.make({ reporter, statusReportIntervalMs: 10, reportTimeoutMs: 30 });
    const tracker = runtime.submit({ processor: 'sleep', jobParams: { ms: 5_000 } });
    const failed = await logs.waitFor((l) => l.msg === 'RUNNING report failed' && l.instanceId === tracker.instanceId);
    expect(failed.err).toMatchObject({ type: 'TimeoutError' });
    expect(aborted[0]).toMatchObject({ name: 'TimeoutError', code: 'ERR_TIMEOUT' });
    expect(runtime.stats.runningReportsFailed).toBeGreaterThanOrEqual(1);
    tracker.stop();
    await tracker.done;
  });
});
