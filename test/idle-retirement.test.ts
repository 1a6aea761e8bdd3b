// Workers above the pool's full set (minThreads + spareThreads), started for a burst, leave once they have been idle
// for 30 s; the full set stays. The pool retires them itself (piscina's own idleTimeout is off): a file of its own, as
// it waits out the 30 s, which the other files run beside.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

/** How long an idle worker above the full set stays (the pool's IDLE_TIMEOUT_MS). */
const IDLE_TIMEOUT_MS = 30_000;

describe('idle workers above the full set', () => {
  it('leave after 30 s idle, and the full set stays', { timeout: 90_000 }, async () => {
    const exits: Array<{ threadId: number; time: number }> = [];
    let firstExit: (exit: { threadId: number; time: number }) => void = () => {};
    const exited = new Promise<{ threadId: number; time: number }>((resolve) => (firstExit = resolve));
    const onExit = (message: unknown): void => {
      exits.push(message as { threadId: number; time: number });
      firstExit(message as { threadId: number; time: number });
    };
    subscribe('light-task-tracker:worker:exit', onExit);
    try {
      const { runtime } = runtimes.make({ maxThreads: 2, minThreads: 1, spareThreads: 0 });
      await runtime.ready();
      expect(runtime.threads).toBe(1);
      // A burst of two: a second worker is started for it.
      const burst = [0, 1].map((i) => runtime.submit({ processor: 'sleep', instanceId: `burst${i}`, jobParams: { ms: 200 } }));
      const outcomes = await Promise.all(burst.map((tracker) => tracker.done));
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['SUCCEED', 'SUCCEED']);
      expect(runtime.threads).toBe(2);
      // Each worker is idle from its attempt's end: the earlier end is the earliest a retirement may count from.
      const idleFrom = Math.min(...outcomes.map((outcome) => outcome.endTime));
      // Not before its 30 s of idleness (the timer's whole-ms rounding aside); the full set of one stays.
      expect((await exited).time - idleFrom).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 5);
      expect(exits).toHaveLength(1);
      expect(runtime.threads).toBe(1);
      expect(runtime.metrics()).toMatchObject({ threads: 1, workersStarted: 2 });
      // The one that stays serves on.
      expect((await runtime.submit({ processor: 'succeed', jobParams: 'after' }).done).result).toBe('hello after');
    } finally {
      unsubscribe('light-task-tracker:worker:exit', onExit);
    }
  });
});
