// Issue "Hostile processors": logs cannot flood the main thread. Each log line used to be one postMessage, with no
// batching or bound, and Node drains a port's whole backlog in one turn: a processor logging 3 million lines made
// another instance's 100 ms timeout fire seconds late and grew the process past 1.7 GB. Lines now travel in batches,
// those at levels nothing would write stay in the worker, and a worker sends at most processorLogRate lines a second
// (processorLogBurst at once): the rest are dropped there, counted and reported. (How late a timeout fires beside a
// flood is measured in benchmarks/log-flood.ts: no speed is asserted here.)
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ProcessorLogLine } from 'light-task-tracker';
import { fixture, processors } from './support/fixtures.js';
import { LogCapture } from './support/logs.js';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();
const registry = { ...processors, logFlood: fixture('log-flood') };
const DROPPED = 'processor log lines dropped: over the rate bound (processorLogRate)';

/** The lines dropped for `instanceId`, as the warn lines that report them say. */
function droppedOf(logs: LogCapture, instanceId: string): number {
  return logs.withMessage(DROPPED, instanceId).reduce((sum, line) => sum + (line.dropped as number), 0);
}

describe('a processor that floods its log', () => {
  it('has the lines past its bound dropped in the worker: every line is either written or counted, in order', async () => {
    const { runtime, logs } = runtimes.make({ processors: registry, processorLogRate: 1000, processorLogBurst: 500 });
    const outcome = await runtime.submit({ processor: 'logFlood', instanceId: 'flood', jobParams: { count: 200_000 } }).done;
    expect(outcome).toMatchObject({ status: 'SUCCEED', result: 'logged 200000' });
    const written = logs.lines.filter((line) => line.instanceId === 'flood' && line.msg === 'flood').map((line) => line.i as number);
    const done = logs.withMessage('done', 'flood').length;
    const dropped = droppedOf(logs, 'flood');
    expect(written.length + done + dropped).toBe(200_001);
    expect(written.length).toBeGreaterThanOrEqual(500); // the burst, at least
    expect(written.length).toBeLessThan(200_000);
    expect(written).toEqual([...written].sort((x, y) => x - y));
    expect(runtime.metrics().processorLogLinesDropped).toBe(dropped);
  });

  // Regression: the bound was one bucket per worker, so an instance's flood spent the tokens of the next instance
  // on its worker: the next one's 'started' line was dropped (the soak, waiting for it to stop a sleeper, hung).
  it('flood-starved-the-next-instance: an instance after a flood on the same worker has its own lines sent', async () => {
    const { runtime, logs } = runtimes.make({ processors: registry, maxThreads: 1, spareThreads: 0, processorLogRate: 1, processorLogBurst: 50 });
    await runtime.submit({ processor: 'logFlood', instanceId: 'flood', jobParams: { count: 10_000 } }).done;
    expect(droppedOf(logs, 'flood')).toBeGreaterThan(0);
    const after = await runtime.submit({ processor: 'succeed', instanceId: 'after', jobParams: 'x' }).done;
    expect(after.status).toBe('SUCCEED');
    expect(logs.lines.filter((line) => line.instanceId === 'after' && line.msg === 'started')).toHaveLength(1);
    expect(droppedOf(logs, 'after')).toBe(0);
  });

  it('keeps the lines at levels neither the logger nor onProcessorLog takes in the worker: none is dropped or sent', async () => {
    const logs = new LogCapture('info');
    const { runtime } = runtimes.make({ processors: registry, logger: logs.logger, processorLogRate: 1000, processorLogBurst: 500 });
    await runtime.ready();
    const outcome = await runtime.submit({ processor: 'logFlood', instanceId: 'quiet', jobParams: { count: 300_000, level: 'debug' } }).done;
    expect(outcome).toMatchObject({ status: 'SUCCEED' });
    await logs.waitFor((line) => line.instanceId === 'quiet' && line.msg === 'done');
    expect(logs.lines.filter((line) => line.msg === 'flood')).toEqual([]);
    expect(runtime.metrics().processorLogLinesDropped).toBe(0);
  });

  it('sends the lines of a level the logger enables later on', async () => {
    const logs = new LogCapture('info');
    const { runtime } = runtimes.make({ processors: registry, logger: logs.logger });
    await runtime.run('logFlood', { count: 10, level: 'debug' });
    await logs.waitFor((line) => line.msg === 'done');
    expect(logs.lines.filter((line) => line.msg === 'flood')).toEqual([]);
    logs.logger.level = 'debug';
    const tracker = runtime.submit({ processor: 'logFlood', instanceId: 'later', jobParams: { count: 10, level: 'debug' } });
    await tracker.done;
    await logs.waitFor((line) => line.instanceId === 'later' && line.msg === 'done');
    expect(logs.lines.filter((line) => line.instanceId === 'later' && line.msg === 'flood').map((line) => line.i)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it('sends every level to onProcessorLog, under the same bound', async () => {
    const lines: ProcessorLogLine[] = [];
    const { runtime } = runtimes.make({
      processors: registry,
      logger: pino({ level: 'silent' }),
      onProcessorLog: (line) => lines.push(line),
      processorLogRate: 1000,
      processorLogBurst: 500,
    });
    const outcome = await runtime.submit({ processor: 'logFlood', instanceId: 'debug', jobParams: { count: 20_000, level: 'debug' } }).done;
    expect(outcome).toMatchObject({ status: 'SUCCEED' });
    const flood = lines.filter((line) => line.msg === 'flood');
    expect(flood.length).toBeGreaterThanOrEqual(500);
    expect(flood.every((line) => line.level === 'debug' && line.instanceId === 'debug' && line.attempt === 0)).toBe(true);
    expect(flood.length + lines.filter((line) => line.msg === 'done').length + runtime.metrics().processorLogLinesDropped).toBe(20_001);
  });

  it('writes each line with its fields as they were when it was logged, though lines travel in batches', async () => {
    const { runtime, logs } = runtimes.make({ processors: registry });
    await runtime.submit({ processor: 'logFlood', instanceId: 'fields', jobParams: { count: 300, sharedFields: true } }).done;
    await logs.waitFor((line) => line.instanceId === 'fields' && line.msg === 'done');
    expect(logs.lines.filter((line) => line.instanceId === 'fields' && line.msg === 'flood').map((line) => line.i)).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });
});
