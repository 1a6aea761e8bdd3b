// The stack of a force-stopped attempt: captured just before its worker is terminated (captureStack, bounded by
// stackCaptureMs), source-mapped to the processor's TypeScript, and given in the outcome, the force-stop log line and
// the force-stop channel message.
import { execFileSync } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OutcomeReason, type ForceStopMessage } from 'light-task-tracker';
import { runNode } from './support/child.js';
import { fixture, processors } from './support/fixtures.js';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();
const FORCE_STOP = 'light-task-tracker:instance:force-stop';
const listening: Array<(message: unknown) => void> = [];
afterEach(() => {
  for (const listener of listening.splice(0)) unsubscribe(FORCE_STOP, listener);
});

describe('the stack of a force-stopped attempt', () => {
  it('names the processor\'s own TypeScript function and line, in the outcome, the log line and the channel message', async () => {
    const forceStops: ForceStopMessage[] = [];
    const listener = (message: unknown): void => void forceStops.push(message as ForceStopMessage);
    subscribe(FORCE_STOP, listener);
    listening.push(listener);
    const { runtime, logs } = runtimes.make({ forceStopGraceMs: 20 });
    const tracker = runtime.submit({ processor: 'runawayMapped', jobParams: { count: 1 }, timeoutMs: 100 });
    const outcome = await tracker.done;
    expect(outcome.reason).toBe(OutcomeReason.TIMEOUT_FORCE_STOPPED);
    const stack = outcome.stack as string;
    // The innermost frame is the loop, in the .ts source (line 15), not the compiled .js (line 7).
    expect(stack.split('\n')[0]).toMatch(/^ {4}at spinForever \(file:\/\/.*runaway-mapped\.ts:15:\d+\)$/);
    expect(stack).toMatch(/runaway-mapped\.ts:20:\d+/); // its caller, the processor
    expect(stack).not.toMatch(/workers\/attempt/); // the runtime's own frames are left out
    const line = await logs.waitFor((l) => l.msg === 'the instance did not finish after its interrupt: terminating its worker' && l.instanceId === tracker.instanceId);
    expect(line.stack).toBe(stack);
    expect(forceStops.filter((message) => message.instanceId === tracker.instanceId).map((message) => message.stack)).toEqual([stack]);
  });

  it('with captureStack: false, terminates at once and gives no stack', async () => {
    const { runtime } = runtimes.make({ forceStopGraceMs: 20, captureStack: false });
    const outcome = await runtime.submit({ processor: 'spinRunaway', timeoutMs: 50 }).done;
    expect(outcome.reason).toBe(OutcomeReason.TIMEOUT_FORCE_STOPPED);
    expect(outcome.stack).toBeUndefined();
  });

  it('a thread blocked in a system call gives no stack: the capture gives up after stackCaptureMs, and the terminate goes on', { timeout: 20_000 }, async () => {
    const folder = mkdtempSync(join(tmpdir(), 'ltt-stack-'));
    const fifo = join(folder, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const { runtime, logs } = runtimes.make({ processors: { ...processors, blockRead: fixture('block-read') }, forceStopGraceMs: 0, stackCaptureMs: 100 });
    try {
      const blocked = runtime.submit({ processor: 'blockRead', jobParams: { fifo }, timeoutMs: 50 });
      await logs.waitForProcessor(blocked.instanceId, 'started');
      const outcome = await blocked.done;
      expect(outcome).toMatchObject({ reason: OutcomeReason.TIMEOUT_FORCE_STOPPED, result: 'instance execute timeout,force stop requested; thread still blocked' });
      expect(outcome.stack).toBeUndefined();
      // Why, at debug level, for the thread that was blocked.
      const why = logs.lines.filter((line) => line.level === 20 && typeof line.msg === 'string' && line.msg.startsWith('no stack captured:'));
      expect(why.map((line) => line.msg)).toEqual([
        "no stack captured: no answer from the worker's thread within 100 ms: it runs no JavaScript (it is blocked in a system call or in native code)",
      ]);
      await runtime.close();
    } finally {
      writeFileSync(fifo, 'released');
      rmSync(folder, { recursive: true, force: true });
    }
  });

  // Regression: the inspector session was made after a pool's first attempt. Node reports the workers running at its
  // enable from a loop over its list of workers, running JavaScript for each; a worker starting or ending meanwhile (a
  // force-stopped one's teardown, its replacement's start) changed the list under the loop: SIGSEGV, the whole
  // process gone (seen on Node 22, in stop.test.ts and caller-signal.test.ts).
  it('inspector-enabled-beside-workers-crashed-the-process: the session is enabled before the first worker starts, and captures all the same', async () => {
    const { code, signal, stdout, timedOut } = await runNode([fixture('inspector-enable-child')], process.env, { timeoutMs: 60_000 });
    expect({ code, signal, timedOut }).toEqual({ code: 0, signal: null, timedOut: false });
    const line = stdout.split('\n').find((text) => text.startsWith('{"reportedAtEnable"'));
    expect(JSON.parse(line ?? 'null')).toEqual({
      reportedAtEnable: 0,
      stack: expect.stringMatching(/^    at .*spin-runaway\.js:7:\d+$/),
      next: 'SUCCEED',
    });
  });

  it('close() while a stack is being captured settles, and the instance ends stopped', async () => {
    const { runtime, logs } = runtimes.make({ forceStopGraceMs: 0, stackCaptureMs: 5_000 });
    const tracker = runtime.submit({ processor: 'spinRunaway' });
    await logs.waitForProcessor(tracker.instanceId, 'started');
    tracker.stop(); // grace 0: the capture starts at once
    await runtime.close();
    expect(await tracker.done).toMatchObject({ status: 'STOPPED', reason: OutcomeReason.STOP_FORCE_STOPPED });
  });
});
