// Worker recycling (recycleWorkers): a worker is retired between attempts, never during one, after a number of
// attempts or above a heap size, and a processor that leaks no longer kills its workers mid-job.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { OutcomeReason, OutcomeStatus, type Outcome } from 'light-task-tracker';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function listen(name: string): Array<Record<string, unknown>> {
  const seen: Array<Record<string, unknown>> = [];
  const listener = (message: unknown): void => void seen.push(message as Record<string, unknown>);
  subscribe(name, listener);
  cleanups.push(() => unsubscribe(name, listener));
  return seen;
}

/** Runs `count` instances of `processor`, at most `window` at a time; the outcomes in submit order. */
async function runMany(runtime: { submit(request: { processor: string }): { done: Promise<Outcome> } }, processor: string, count: number, window: number): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (let i = 0; i < count; i += window) {
    const batch = Array.from({ length: Math.min(window, count - i) }, () => runtime.submit({ processor }).done);
    outcomes.push(...(await Promise.all(batch)));
  }
  return outcomes;
}

const HEAP_CAP = { maxOldGenerationSizeMb: 64 };

describe('recycleWorkers', () => {
  it('retires a worker after afterAttempts attempts: each runs exactly that many, and none is cut short', async () => {
    const starts = listen('light-task-tracker:instance:start');
    const retired = listen('light-task-tracker:worker:retire');
    const { runtime } = runtimes.make({ maxThreads: 1, spareThreads: 1, recycleWorkers: { afterAttempts: 3 } });
    await runtime.ready();
    const outcomes = await runMany(runtime, 'succeed', 10, 1);
    expect(outcomes.every((outcome) => outcome.status === OutcomeStatus.SUCCEED)).toBe(true);
    const perWorker = new Map<number, number>();
    for (const start of starts) perWorker.set(start.threadId as number, (perWorker.get(start.threadId as number) ?? 0) + 1);
    expect([...perWorker.values()].every((attempts) => attempts <= 3)).toBe(true);
    expect(retired.length).toBeGreaterThanOrEqual(3);
    expect(retired.every((message) => message.reason === 'afterAttempts' && message.attempts === 3)).toBe(true);
    expect(runtime.metrics().workersRetired).toBe(retired.length);
  });

  it('with heapUsedMb, 200 instances of a processor leaking 5 MB each all succeed under a 64 MB heap cap', async () => {
    const retired = listen('light-task-tracker:worker:retire');
    const { runtime } = runtimes.make({ maxThreads: 2, resourceLimits: HEAP_CAP, recycleWorkers: { heapUsedMb: 32 } });
    const outcomes = await runMany(runtime, 'leak', 200, 4);
    expect(outcomes.filter((outcome) => outcome.status !== OutcomeStatus.SUCCEED).map((outcome) => outcome.reason)).toEqual([]);
    // A worker never held more than the cap allows: its chunk count after each attempt stayed small.
    expect(Math.max(...outcomes.map((outcome) => outcome.value as number))).toBeLessThan(12);
    const metrics = runtime.metrics();
    expect(metrics.workersRetired).toBeGreaterThanOrEqual(200 / 12);
    expect(metrics.workersRetired).toBe(retired.length);
    expect(retired.every((message) => message.reason === 'heapUsedMb' && (message.heapUsedMb as number) > 32)).toBe(true);
    expect(metrics.workerDeaths).toBe(0);
  }, 60_000);

  it('without it, the same processor kills its workers: instances fail with WORKER_DIED', async () => {
    const { runtime } = runtimes.make({ maxThreads: 2, resourceLimits: HEAP_CAP });
    const outcomes = await runMany(runtime, 'leak', 40, 4);
    expect(outcomes.filter((outcome) => outcome.reason === OutcomeReason.WORKER_DIED).length).toBeGreaterThan(0);
    expect(runtime.metrics().workersRetired).toBe(0);
  }, 60_000);
});
