// The soak's bookkeeping: typed arrays allocated before the heap baseline, so that the driver's own records do not
// grow the heap while the soak runs; the few objects kept per instance are dropped when it settles.
import type { StatusReport } from 'light-task-tracker';

export type Counter = Map<string, number>;
export const bump = (map: Counter, key: string): void => {
  map.set(key, (map.get(key) ?? 0) + 1);
};

/** Adds one to a per-instance count; returns the new count. */
export const inc = (counts: Uint8Array | Uint16Array, i: number): number => (counts[i] = (counts[i] ?? 0) + 1);

export function createState(n: number) {
  const violations: string[] = [];
  const state = {
    n,
    kindOf: new Uint8Array(n),
    /** The driver stops it (a stop plan or an aborted signal): it must end stopped, with no final report. */
    stoppedByDriver: new Uint8Array(n),
    settledCount: new Uint8Array(n),
    outcomeAttempts: new Uint8Array(n),
    outcomeStarted: new Uint8Array(n),
    /** Attempts whose worker died, as expected of the outcome it ended with. */
    expectedDeaths: new Uint8Array(n),
    submitAt: new Float64Array(n),
    settleMs: new Float64Array(n),
    finalTries: new Uint8Array(n),
    finalDelivered: new Uint8Array(n),
    finalLostLines: new Uint8Array(n),
    firstFinalReportTime: new Float64Array(n),
    runningReports: new Uint16Array(n),
    lastRunningReportTime: new Float64Array(n),
    finishedLines: new Uint8Array(n),
    destroyedLines: new Uint8Array(n),
    diedLines: new Uint8Array(n),
    /** The processor logged 'started': its attempt reached a worker. */
    startedLines: new Uint8Array(n),
    /** The cooperative loop logged 'saw interrupt'. */
    sawInterruptLines: new Uint8Array(n),
    /** Ended a tolerated way (see TOLERATED_SHARE): 1 not started, 2 started. */
    toleratedLate: new Uint8Array(n),
    /** Instance → its final report, until it settles. */
    firstReports: new Map<number, StatusReport>(),
    /** Instance → its stop, for stops sent once the processor has started. */
    stopOnStart: new Map<number, () => void>(),
    counts: {
      settled: 0, submitted: 0, tolerated: new Map() as Counter, reasons: new Map() as Counter, lateStops: 0,
      expectedStopIgnored: 0, stopIgnoredLines: 0, retryLines: 0, runningFailLines: 0, runningInjectedFailures: 0,
      runningDelivered: 0, faults: new Map() as Counter, hangs: 0, hangsAborted: 0, lateAnswers: 0, slowTimedOut: 0,
      warnings: new Map() as Counter,
      /** Log lines the runtime said it dropped (over the rate bound, or the main thread behind). */
      droppedLines: 0,
      /** Messages of ended attempts the runtime said it dropped. */
      lateMessages: 0,
      /** Errors thrown outside any running attempt, as the runtime's error lines count them. */
      strayErrors: 0,
    },
    pendingTimers: 0,
    violations,
    violation(text: string): void {
      violations.push(text);
      if (violations.length <= 20) console.error(`VIOLATION: ${text}`);
    },
    idOf: (i: number): string => `soak-${i}`,
    /** The index of an instance id; -1 (and a violation) for an id the soak never made. */
    indexOf(instanceId: unknown): number {
      const i = typeof instanceId === 'string' && instanceId.startsWith('soak-') ? Number(instanceId.slice(5)) : NaN;
      if (!Number.isInteger(i) || i < 0 || i >= n) {
        state.violation(`an unknown instanceId ${String(instanceId)}`);
        return -1;
      }
      return i;
    },
    /** Runs `fn` after `ms`; the soak drains only once every such timer has run. */
    later(ms: number, fn: () => void): void {
      state.pendingTimers++;
      setTimeout(() => {
        state.pendingTimers--;
        fn();
      }, ms);
    },
  };
  return state;
}
export type SoakState = ReturnType<typeof createState>;

export const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
