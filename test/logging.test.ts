// Log lines written in the worker reach the main thread's pino logger as they happen, in order, tagged.
import { runNode } from './support/child.js';
import { describe, expect, it } from 'vitest';
import { fixture } from './support/fixtures.js';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

describe('processor logging', () => {
  it('delivers each line as it happens, in order, tagged with the instanceId', async () => {
    const { runtime, logs } = runtimes.make();
    const tracker = runtime.submit({ processor: 'logMany', instanceId: 'logger-1', jobParams: { count: 200, holdAfterFirst: true } });
    // While the processor is still running, its lines are already here.
    await logs.waitForProcessor('logger-1', 'holding');
    expect(tracker.taskStatus).toBe('WORKER_PROCESSING');
    const lines = logs.lines.filter((l) => l.instanceId === 'logger-1' && l.msg === 'line');
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(lines.every((l) => l.source === 'processor' && l.level === 30)).toBe(true);
    tracker.stop();
    await tracker.done;
  });

  it('keeps the lines of concurrent instances apart', async () => {
    const { runtime, logs } = runtimes.make({ maxThreads: 2 });
    const a = runtime.submit({ processor: 'logMany', instanceId: 'a', jobParams: { count: 50 } });
    const b = runtime.submit({ processor: 'logMany', instanceId: 'b', jobParams: { count: 50 } });
    await Promise.all([a.done, b.done]);
    for (const id of ['a', 'b']) {
      const done = await logs.waitFor((l) => l.instanceId === id && l.msg === 'line' && l.i === 49);
      expect(done).toBeDefined();
      expect(logs.lines.filter((l) => l.instanceId === id && l.msg === 'line').map((l) => l.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    }
  });

  it('logs the tracker\'s own decisions with the instanceId', async () => {
    const { runtime, logs } = runtimes.make({ forceStopGraceMs: 10 });
    const tracker = runtime.submit({ processor: 'spinRunaway', timeoutMs: 20 });
    await tracker.done;
    const mine = logs.lines.filter((l) => l.instanceId === tracker.instanceId).map((l) => l.msg);
    expect(mine).toEqual(expect.arrayContaining([
      'timeout: instance interrupted',
      'the instance did not finish after its interrupt: terminating its worker',
      'instance finished',
    ]));
  });
});

describe('onProcessorLog', () => {
  it('hands every processor line to the callback, in order, with its attempt, and survives a throwing callback', async () => {
    const seen: Array<{ instanceId: string; attempt: number; level: string; msg: string; i: unknown }> = [];
    const { runtime, logs } = runtimes.make({
      onProcessorLog: (line) => {
        seen.push({ instanceId: line.instanceId, attempt: line.attempt, level: line.level, msg: line.msg, i: line.fields?.i });
        if (line.fields?.i === 3) throw new Error('callback failed');
      },
    });
    const tracker = runtime.submit({ processor: 'logMany', instanceId: 'cb-1', jobParams: { count: 10 } });
    const outcome = await tracker.done;
    expect(outcome.status).toBe('SUCCEED');
    const lines = seen.filter((l) => l.msg === 'line');
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(lines.every((l) => l.instanceId === 'cb-1' && l.attempt === 0 && l.level === 'info')).toBe(true);
    expect(logs.lines.some((l) => l.msg === 'onProcessorLog threw' && l.instanceId === 'cb-1')).toBe(true);
  });

  it('refuses a callback that is not a function', () => {
    expect(() => runtimes.make({ onProcessorLog: 'nope' as never })).toThrow(TypeError);
  });
});

describe('the default logger', () => {
  it('is quiet unless something needs attention: warnings and errors only, on stderr (stdout is the application\'s)', async () => {
    const { code, stdout, stderr } = await runNode([fixture('default-logger')]);
    expect({ code, stdout }).toEqual({ code: 0, stdout: `${JSON.stringify({ quiet: 'SUCCEEDED', runaway: 'TIMEOUT_FORCE_STOPPED' })}\n` });
    const lines = stderr.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { level: number; msg: string; name?: string; instanceId?: string });
    // Nothing below warn: no per-instance info lines, no processor debug or info line.
    expect(lines.filter((line) => line.level < 40)).toEqual([]);
    expect(lines.every((line) => line.name === 'light-task-tracker')).toBe(true);
    const said = lines.map((line) => `${line.instanceId} ${line.msg}`);
    expect(said).toEqual(expect.arrayContaining([
      'quiet-1 a warn line',
      'quiet-1 an error line',
      'runaway-1 timeout: instance interrupted',
      'runaway-1 the instance did not finish after its interrupt: terminating its worker',
    ]));
    expect(said).not.toContain('quiet-1 an info line');
    expect(said.some((line) => line.includes('instance finished') || line.includes('tracker destroyed'))).toBe(false);
  });
});
