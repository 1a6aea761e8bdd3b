// Real-worker regressions for the ugliest interleavings of the tracker's state machine (see
// state-machine.property.test.ts for the property-based test behind them): every case checks the same things —
// one outcome, never changed; no final report for a stopped instance, one for any other, stamped after every
// RUNNING one; the tracker destroyed exactly once; the pool still serving the next instance.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryReporter, OutcomeReason, type Outcome, type StatusReport, type TaskRuntime, type Tracker } from 'light-task-tracker';
import { processors } from './support/fixtures.js';
import { type LogCapture } from './support/logs.js';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

// A processor of this file's own, written to a temporary directory: it logs `count` lines on every attempt, and
// its first attempt then kills its worker (process.exit, or an uncaught error) where the retry succeeds.
const scratch = mkdtempSync(join(tmpdir(), 'ltt-state-machine-'));
const logThenDie = join(scratch, 'log-then-die.mjs');
const processorModule = pathToFileURL(fileURLToPath(new URL('../dist/workers/processor.js', import.meta.url))).href;
writeFileSync(logThenDie, `import { defineProcessor } from ${JSON.stringify(processorModule)};
export default defineProcessor((ctx) => {
  for (let i = 0; i < ctx.jobParams.count; i++) ctx.log.info({ i, attempt: ctx.currentRetryTimes }, 'line');
  if (ctx.currentRetryTimes > 0) return { success: true, msg: 'attempt ' + ctx.currentRetryTimes };
  if (ctx.jobParams.death === 'exit') process.exit(3);
  setTimeout(() => { throw new TypeError('thrown outside the attempt'); }, 0);
  return new Promise(() => {});
});
`);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Keeps every report; holds the delivery of final reports until `deliver()`. */
class SlowFinalReporter extends MemoryReporter {
  deliver!: () => void;
  readonly #delivered = new Promise<void>((resolve) => { this.deliver = resolve; });

  override report(report: StatusReport): void | Promise<void> {
    super.report(report);
    return report.status === 'RUNNING' ? undefined : this.#delivered;
  }
}

async function expectSettledCleanly(
  { runtime, reporter, logs }: { runtime: TaskRuntime; reporter: MemoryReporter; logs: LogCapture },
  tracker: Tracker,
): Promise<Outcome> {
  const outcome = await tracker.done;
  await logs.waitFor((l) => l.msg === 'tracker destroyed' && l.instanceId === tracker.instanceId);
  expect(await tracker.done).toBe(outcome);
  expect(runtime.get(tracker.instanceId)).toBeUndefined();
  expect(logs.withMessage('tracker destroyed', tracker.instanceId)).toHaveLength(1);
  expect(logs.withMessage('destroy ignored: the tracker is already destroyed', tracker.instanceId)).toHaveLength(0);
  const reports = reporter.reportsOf(tracker.instanceId);
  const finals = reports.filter((r) => r.status !== 'RUNNING');
  if (outcome.status === 'STOPPED') {
    expect(finals).toHaveLength(0);
  } else {
    expect(finals).toHaveLength(1);
    const final = finals[0]!;
    expect(final.status).toBe(outcome.status);
    expect(reports.at(-1)).toBe(final);
    for (const r of reports) if (r !== final) expect(r.reportTime).toBeLessThan(final.reportTime);
  }
  return outcome;
}

describe('tracker state machine with real workers', () => {
  // Eight runtimes of 2,000 lines each: 1.2 s on a 2-core machine running the suite, over 5 s when it is loaded more.
  it('stop while the reply is in flight (log lines still arriving): one stopped outcome, no report, the pool serves on', { timeout: 30_000 }, async () => {
    const count = 2000;
    let heldRounds = 0;
    for (let round = 0; round < 8; round++) {
      // The stop comes as the line before the last is written, from onProcessorLog: the processor has written all its
      // lines, and its reply is on the way, or already held while the main thread writes them.
      let stopAt: (() => void) | undefined;
      const test = runtimes.make({
        maxThreads: 1,
        forceStopGraceMs: 0,
        onProcessorLog: (line) => {
          if (line.msg === 'line' && line.fields?.i === count - 2) stopAt?.();
        },
      });
      const { runtime, logs } = test;
      const tracker = runtime.submit({ processor: 'logMany', jobParams: { count } });
      stopAt = () => tracker.stop();
      await logs.waitFor((l) => l.instanceId === tracker.instanceId && l.msg === 'line' && l.i === count - 2);
      const outcome = await expectSettledCleanly(test, tracker);
      const terminated = logs.withMessage('the instance did not finish after its interrupt: terminating its worker', tracker.instanceId);
      if (outcome.status === 'SUCCEED') {
        // Everything was in before the stop: the stop was ignored.
        expect(outcome.result).toBe(`logged ${count}`);
        expect(terminated).toHaveLength(0);
      } else if (outcome.reason === OutcomeReason.STOPPED) {
        // The reply had come and waited for its last lines: the attempt had ended, so no worker is terminated.
        heldRounds++;
        expect(outcome).toMatchObject({ status: 'STOPPED', result: `logged ${count}`, attempts: 1 });
        expect(terminated).toHaveLength(0);
      } else {
        // No reply yet: force-stopped at once (no grace), its own worker terminated.
        expect(outcome).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_FORCE_STOPPED, attempts: 1 });
        expect(terminated).toHaveLength(1);
      }
      expect(await runtime.submit({ processor: 'succeed', jobParams: round }).done).toMatchObject({ status: 'SUCCEED', result: `hello ${round}` });
      await runtime.close();
      expect(runtime.size).toBe(0);
    }
    // The main thread writes lines slower than the worker logs them (and a quarter of a millisecond at a time), so
    // the reply usually comes first and waits: the case of the bug (before the fix its worker, already free, was terminated, and the next instance, given
    // that worker meanwhile, died with it: "worker exited with code: 1").
    expect(heldRounds).toBeGreaterThan(0);
  });

  it('timeout, user stop, caller abort and close in the same turn: one STOPPED outcome, one terminate, no report', async () => {
    const test = runtimes.make({ forceStopGraceMs: 200 });
    const { runtime, logs } = test;
    const controller = new AbortController();
    const tracker = runtime.submit({ processor: 'spinRunaway', timeoutMs: 40, signal: controller.signal });
    await logs.waitFor((l) => l.msg === 'timeout: instance interrupted' && l.instanceId === tracker.instanceId);
    tracker.stop();
    controller.abort();
    const closing = runtime.close();
    tracker.stop();
    expect(await tracker.done).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_FORCE_STOPPED, attempts: 1 });
    await closing;
    await expectSettledCleanly(test, tracker);
    expect(logs.withMessage('the instance did not finish after its interrupt: terminating its worker', tracker.instanceId)).toHaveLength(1);
    expect(logs.withMessage('already interrupted', tracker.instanceId)).toHaveLength(1);
    // The caller's abort and the second stop() came while stopping: each ignored once; close did not stop it again.
    expect(logs.withMessage('stop ignored: the instance is already stopping', tracker.instanceId)).toHaveLength(2);
    expect(logs.withMessage('stop ignored: the instance has finished', tracker.instanceId)).toHaveLength(0);
    expect(runtime.size).toBe(0);
  });

  it('caller abort after the finish, while the final report is still being delivered: ignored, the outcome stands', async () => {
    const reporter = new SlowFinalReporter();
    const { runtime, logs } = runtimes.make({ reporter });
    const controller = new AbortController();
    const tracker = runtime.submit({ processor: 'succeed', jobParams: 'x', signal: controller.signal });
    const outcome = await tracker.done;
    expect(outcome).toMatchObject({ status: 'SUCCEED', result: 'hello x' });
    expect(runtime.get(tracker.instanceId)).toBe(tracker); // still registered: its report is under way
    controller.abort();
    tracker.stop();
    // The caller's listener went with the settle: only the explicit stop is logged as ignored.
    expect(logs.lines.filter((l) => l.instanceId === tracker.instanceId && String(l.msg).startsWith('stop ignored'))).toHaveLength(1);
    expect(tracker.taskStatus).toBe('WORKER_PROCESS_SUCCESS');
    expect(tracker.runningStatus().status).toBe('SUCCEED');
    reporter.deliver();
    expect(await expectSettledCleanly({ runtime, reporter, logs }, tracker)).toBe(outcome);
  });

  it('stop during the grace of a timeout with allowForceStop false: runs on, reported RUNNING, then close terminates it as a stop', async () => {
    const test = runtimes.make({ allowForceStop: false, forceStopGraceMs: 100, statusReportIntervalMs: 30 });
    const { runtime, reporter, logs } = test;
    const tracker = runtime.submit({ processor: 'spinRunaway', timeoutMs: 30 });
    await logs.waitFor((l) => l.msg === 'timeout: instance interrupted' && l.instanceId === tracker.instanceId);
    tracker.stop(); // within the grace: the interrupt is already out, the grace timer runs on
    await logs.waitFor((l) => l.instanceId === tracker.instanceId && String(l.msg).startsWith('the instance ignores its interrupt'));
    expect(tracker.taskStatus).toBe('WORKER_PROCESSING');
    const graceSeen = Date.now();
    await reporter.waitFor((r) => r.instanceId === tracker.instanceId && r.status === 'RUNNING' && r.reportTime > graceSeen);
    expect(logs.withMessage('the instance did not finish after its interrupt: terminating its worker', tracker.instanceId)).toHaveLength(0);
    await runtime.close();
    expect(await expectSettledCleanly(test, tracker)).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_FORCE_STOPPED });
    expect(logs.withMessage('the instance did not finish after its interrupt: terminating its worker', tracker.instanceId)).toHaveLength(1);
  });

  it('stop, caller abort and close of a queued instance at once: stopped before start, once', async () => {
    const test = runtimes.make({ maxThreads: 1 });
    const { runtime, logs } = test;
    const blocker = runtime.submit({ processor: 'sleep' });
    const controller = new AbortController();
    const queued = runtime.submit({ processor: 'succeed', signal: controller.signal });
    await logs.waitForProcessor(blocker.instanceId, 'started');
    queued.stop();
    controller.abort();
    const closing = runtime.close();
    expect(await expectSettledCleanly(test, queued)).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOPPED_BEFORE_START, attempts: 0, startTime: null });
    expect(logs.withMessage('stopped before start: the instance will not run', queued.instanceId)).toHaveLength(1);
    expect(logs.lines.some((l) => l.instanceId === queued.instanceId && l.source === 'processor')).toBe(false);
    expect(queued.taskStatus).toBe('WORKER_RECEIVED');
    await closing;
    expect(await expectSettledCleanly(test, blocker)).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_INTERRUPTED });
  });

  for (const death of ['exit', 'uncaught'] as const) {
    it(`a retry after a worker death (${death}) logs all its own lines before its outcome (none counted twice)`, async () => {
      // Found by the property test: the dead attempt's lines counted for the retry's reply, which was then taken
      // before its own lines had arrived; they were logged after "instance finished", after \`done\` resolved.
      // Bounds far above the lines written: this is about their order, not the rate bound.
      const test = runtimes.make({ maxThreads: 1, processors: { ...processors, logThenDie }, processorLogRate: 1e6, processorLogBurst: 1e6 });
      const { runtime, logs } = test;
      const count = 2000;
      for (let round = 0; round < 3; round++) {
        const tracker = runtime.submit({ processor: 'logThenDie', jobParams: { count, death }, maxRetries: 1 });
        const outcome = await expectSettledCleanly(test, tracker);
        expect(outcome).toMatchObject({ status: 'SUCCEED', result: 'attempt 1', attempts: 2 });
        const mine = logs.lines.filter((l) => l.instanceId === tracker.instanceId);
        const finished = mine.findIndex((l) => l.msg === 'instance finished');
        const retrying = mine.findIndex((l) => l.msg === 'attempt failed: retrying');
        const lines = (attempt: number) => mine.flatMap((l, index) => (l.msg === 'line' && l.attempt === attempt ? [index] : []));
        expect(lines(0)).toHaveLength(count);
        expect(lines(1)).toHaveLength(count);
        // A dead attempt's lines are all taken in before its death is (its worker's channel is read first): they
        // come before the retry, whose own lines all come before its outcome.
        expect(retrying).toBeGreaterThan(-1);
        expect(Math.max(...lines(0))).toBeLessThan(retrying);
        expect(Math.max(...lines(1))).toBeLessThan(finished);
      }
    });
  }

  it('stop while a retry runs after a worker death: no further retry, STOPPED, no report', async () => {
    const test = runtimes.make({ maxThreads: 1, forceStopGraceMs: 60_000 });
    const { runtime, logs } = test;
    const tracker = runtime.submit({ processor: 'exit', maxRetries: 3 });
    await logs.waitFor((l) => l.msg === 'attempt failed: retrying' && l.instanceId === tracker.instanceId);
    tracker.stop();
    const outcome = await expectSettledCleanly(test, tracker);
    // The retry may not have started in its worker when the stop came (then it never runs): 1 attempt, or 2.
    expect(outcome).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOPPED });
    expect([1, 2]).toContain(outcome.attempts);
    expect(outcome.result).toMatch(/worker exited with code: 3/);
    expect(await runtime.submit({ processor: 'succeed', jobParams: 'next' }).done).toMatchObject({ status: 'SUCCEED' });
  });
});
