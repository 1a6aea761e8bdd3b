// close(): refuses new work, stops every live instance, flushes final reports, destroys the pool; afterwards no
// timer, worker or handle keeps the process alive.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { OutcomeReason, RuntimeClosedError } from 'light-task-tracker';
import { fixture } from './support/fixtures.js';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

describe('close', () => {
  it('stops queued and running instances, flushes pending final reports, and refuses new work', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const delivered: string[] = [];
    const { runtime, logs } = runtimes.make({
      maxThreads: 2,
      allowForceStop: false,
      forceStopGraceMs: 20,
      reporter: {
        report: async (report) => {
          if (report.status === 'RUNNING') return;
          await held;
          delivered.push(report.instanceId);
        },
      },
    });
    const finished = runtime.submit({ processor: 'succeed', instanceId: 'finished' });
    await finished.done;
    const cooperative = runtime.submit({ processor: 'sleep', instanceId: 'cooperative' });
    const runaway = runtime.submit({ processor: 'spinRunaway', instanceId: 'runaway' });
    const queued = runtime.submit({ processor: 'succeed', instanceId: 'queued' });
    await logs.waitForProcessor('cooperative', 'started');
    await logs.waitForProcessor('runaway', 'started');

    const closing = runtime.close();
    expect(runtime.close()).toBe(closing);
    expect(() => runtime.submit({ processor: 'succeed' })).toThrow(RuntimeClosedError);
    expect(await queued.done).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOPPED_BEFORE_START });
    expect(await cooperative.done).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_INTERRUPTED });
    // Force-stop is off, but close terminates an instance that ignores its interrupt all the same.
    expect(await runaway.done).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_FORCE_STOPPED });
    // The final report of the finished instance is still pending: close waits for it.
    let closed = false;
    void closing.then(() => { closed = true; });
    await logs.waitFor((l) => l.msg === 'tracker destroyed' && l.instanceId === 'runaway');
    expect(closed).toBe(false);
    release();
    await closing;
    expect(delivered).toEqual(['finished']);
    expect(runtime.size).toBe(0);
    expect(runtime.threads).toBe(0);
  });

  it('with reportDeadlineMs, gives up the final reports still being delivered at the deadline: aborted, logged, counted', async () => {
    const aborted: string[] = [];
    const { runtime, logs } = runtimes.make({
      // Every try hangs far longer than the test: only the deadline can end the close.
      reportTimeoutMs: 600_000,
      finalReportRetries: 5,
      reporter: {
        report: (report, signal) => {
          if (report.status === 'RUNNING') return undefined;
          return new Promise<void>((_, reject) => signal?.addEventListener('abort', () => {
            aborted.push(report.instanceId);
            reject(signal.reason);
          }));
        },
      },
    });
    const a = runtime.submit({ processor: 'succeed', instanceId: 'a' });
    const b = runtime.submit({ processor: 'fail', instanceId: 'b' });
    await Promise.all([a.done, b.done]);
    expect(runtime.size).toBe(2);
    await runtime.close({ reportDeadlineMs: 50 });
    expect(aborted.sort()).toEqual(['a', 'b']);
    expect(runtime.stats).toMatchObject({ reportsLost: 2, reportsDelivered: 0, reportsRetried: 0 });
    const lost = logs.withMessage("final report lost: close()'s reportDeadlineMs passed");
    expect(lost.map((line) => line.instanceId).sort()).toEqual(['a', 'b']);
    expect(lost[0]?.err).toMatchObject({ code: 'ERR_REPORT_DELIVERY' });
    expect(runtime.size).toBe(0);
  });

  it('refuses a bad reportDeadlineMs without closing', async () => {
    const { runtime } = runtimes.make();
    expect(() => runtime.close({ reportDeadlineMs: -1 })).toThrow(RangeError);
    expect(() => runtime.close({ reportDeadlineMs: Number.NaN })).toThrow(TypeError);
    expect(() => runtime.close(null as never)).toThrow(TypeError);
    expect((await runtime.submit({ processor: 'succeed' }).done).status).toBe('SUCCEED');
  });

  it('leaves nothing that keeps the process alive', async () => {
    const child = spawn(process.execPath, [fixture('exit-after-close')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(output).toContain('closed');
    expect(JSON.parse(output.split('\n').find((line) => line.startsWith('{')) ?? '{}')).toEqual({
      SUCCEED: 1,
      FAILED: 1,
      STOPPED: 3,
    });
  }, 30_000);
});
