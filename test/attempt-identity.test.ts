// Issue "Hostile processors": everything a worker posts carries its attempt's identity (its slot and ticket, which an
// instance id cannot forge), and the tracker takes only its current attempt's. Instances on one worker share it: a
// timer one leaves behind runs while the next runs there (piscina's idle worker waits in Atomics.wait, so leftover
// timers fire during the NEXT attempt).
import { describe, expect, it } from 'vitest';
import { MemoryReporter, type ProcessorLogLine, type ProgressEvent } from 'light-task-tracker';
import { fixture, processors } from './support/fixtures.js';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();
const registry = { ...processors, leftover: fixture('leftover') };
/** One worker, no spare: every instance runs on the same thread. */
const oneWorker = { processors: registry, maxThreads: 1, spareThreads: 0 } as const;

describe('messages from an attempt that has ended', () => {
  it('a timer left by an instance cannot set the progress, logs or report of the next instance with its id', async () => {
    // Before the fix B's onProgress, tracker.progress and final report carried A's 'from A'.
    const progress: ProgressEvent[] = [];
    const reporter = new MemoryReporter();
    const { runtime, logs } = runtimes.make({ ...oneWorker, reporter, onProgress: (event) => progress.push(event) });
    const a = runtime.submit({ processor: 'leftover', instanceId: 'same', jobParams: { mode: 'leave-progress' } });
    expect(await a.done).toMatchObject({ status: 'SUCCEED', result: 'left a timer' });
    await reporter.waitFor((r) => r.instanceId === 'same' && r.status !== 'RUNNING');
    progress.length = 0;
    const b = runtime.submit({ processor: 'leftover', instanceId: 'same', jobParams: { mode: 'await-leftover' } });
    // The leftover's context reads as interrupted: a loop it runs that checks it stops.
    expect(await b.done).toMatchObject({ status: 'SUCCEED', result: 'B', value: { leftoverSawInterrupted: true } });
    expect(progress.map((event) => event.value)).toEqual(['from B']);
    expect(b.progress).toBe('from B');
    const reports = reporter.reports.filter((r) => r.instanceId === 'same');
    expect(reports.at(-1)).toMatchObject({ status: 'SUCCEED', progress: 'from B' });
    expect(reports.some((r) => r.progress === 'from A')).toBe(false);
    expect(logs.withMessage('leftover line')).toEqual([]);
    expect(runtime.metrics().lateMessagesDropped).toBeGreaterThanOrEqual(6); // 3 ticks at least, a line and a value each
  });

  for (const [mode, text] of [['leave-throw', 'Error: from A'], ['leave-reject', 'Error: from A, rejected']] as const) {
    it(`an error a finished instance's leftover code throws (${mode}) fails no instance: it is logged, the worker lives on`, async () => {
      // Before the fix the next instance on the worker failed with WORKER_DIED "Error: from A".
      const { runtime, logs } = runtimes.make(oneWorker);
      const a = runtime.submit({ processor: 'leftover', instanceId: 'a', jobParams: { mode } });
      expect(await a.done).toMatchObject({ status: 'SUCCEED' });
      const started = runtime.metrics().workersStarted;
      const c = runtime.submit({ processor: 'leftover', instanceId: 'c', jobParams: { mode: 'await-throw' } });
      const outcome = await c.done;
      expect(outcome).toMatchObject({ status: 'SUCCEED', result: 'B' });
      const line = await logs.waitFor((l) => l.msg === 'an error was thrown outside any running attempt: no instance fails');
      expect(line).toMatchObject({ level: 50, instanceId: 'a' });
      expect(String(line.error)).toContain(text);
      // The same worker runs the next instance: none died, none started.
      expect(await runtime.run('leftover', { mode: 'thread' })).toBe(outcome.value);
      expect(runtime.metrics()).toMatchObject({ workersStarted: started, workerDeaths: 0, strayErrors: 1 });
    });
  }

  it("an uncaught error of the running attempt's own code still fails that attempt with WORKER_DIED", async () => {
    const { runtime } = runtimes.make(oneWorker);
    const outcome = await runtime.submit({ processor: 'uncaught' }).done;
    expect(outcome).toMatchObject({ status: 'FAILED', reason: 'WORKER_DIED' });
    expect(outcome.result).toMatch(/TypeError: thrown outside the attempt/);
  });
});

describe('recycleWorkers: { afterAttempts: 1 }, the remedy for code that leaves things behind', () => {
  it('gives each instance a worker of its own: nothing an instance left behind runs beside the next', async () => {
    const { runtime } = runtimes.make({ ...oneWorker, recycleWorkers: { afterAttempts: 1 } });
    const a = await runtime.submit({ processor: 'leftover', jobParams: { mode: 'leave-progress' } }).done;
    expect(a).toMatchObject({ status: 'SUCCEED' });
    const first = await runtime.run('leftover', { mode: 'thread' });
    const second = await runtime.run('leftover', { mode: 'thread' });
    expect(second).not.toBe(first);
    expect(runtime.metrics()).toMatchObject({ lateMessagesDropped: 0, workerDeaths: 0 });
    expect(runtime.metrics().workersRetired).toBeGreaterThanOrEqual(2);
  });
});

describe('messages a processor forges', () => {
  it('refuses, and logs, messages shaped like the runtime\'s own posted on parentPort: none reaches another instance', async () => {
    // Before the fix the forged lines reached onProcessorLog (a numeric instanceId among them) and the victim's log,
    // and the forged progress became the victim's.
    const lines: ProcessorLogLine[] = [];
    const progress: ProgressEvent[] = [];
    const { runtime, logs } = runtimes.make({ processors: registry, onProcessorLog: (line) => lines.push(line), onProgress: (event) => progress.push(event) });
    const victim = runtime.submit({ processor: 'sleep', instanceId: 'victim' });
    await logs.waitForProcessor('victim', 'started');
    const forger = runtime.submit({ processor: 'leftover', instanceId: 'forger', jobParams: { mode: 'forge', victim: 'victim' } });
    expect(await forger.done).toMatchObject({ status: 'SUCCEED', result: 'forged' });
    victim.stop();
    await victim.done;
    expect(lines.every((line) => typeof line.instanceId === 'string' && typeof line.msg === 'string')).toBe(true);
    expect(lines.map((line) => `${line.instanceId} ${line.msg}`).filter((text) => text.includes('forged'))).toEqual(['forger forged']);
    expect(progress).toEqual([]);
    expect(victim.progress).toBeUndefined();
    const refused = await logs.waitFor((l) => l.msg === 'a worker posted a message the runtime refuses: ignored');
    expect(refused.level).toBe(40);
    expect(runtime.metrics().malformedMessages).toBe(8);
  });
});

describe('a processor that closes parentPort', () => {
  it('still ends with its own reply, its lines and progress all in, and its worker serves on', async () => {
    // Before the fix its reply was held for lines that never came: WORKER_PROCESSING forever.
    const progress: ProgressEvent[] = [];
    const { runtime, logs } = runtimes.make({ ...oneWorker, onProgress: (event) => progress.push(event) });
    const tracker = runtime.submit({ processor: 'leftover', instanceId: 'closer', jobParams: { mode: 'close-port' } });
    const outcome = await tracker.done;
    expect(outcome).toMatchObject({ status: 'SUCCEED', result: 'closed' });
    expect(logs.lines.filter((l) => l.instanceId === 'closer' && l.source === 'processor').map((l) => l.msg)).toEqual(['before close', 'after close']);
    expect(progress.map((event) => event.value)).toEqual([1]);
    expect(await runtime.run('succeed', 'after')).toBeUndefined();
  });
});
