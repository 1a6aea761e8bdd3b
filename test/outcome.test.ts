// The outcome function as a table: every way an attempt can end, under every cause, with and without retries left,
// gives the status, reason, text and retry decision the docs promise (docs/processors.md, "What becomes of it").
import { describe, expect, it } from 'vitest';
import { OutcomeReason as R, OutcomeStatus as S, SystemResult as T } from 'light-task-tracker';
import { decideOutcome, Ending as E, type AttemptFacts, type Cause, type Decision, type StoppedBy } from '../dist/src/outcome.js';

type Row = readonly [
  what: string,
  ending: E,
  cause: Cause,
  retriesLeft: number,
  expected: Omit<Decision, 'succeeded' | 'attemptReason' | 'stoppedBy'>,
  /** Facts other than the usual: a stream's chunks delivered, the worker's own text. */
  more?: Partial<AttemptFacts>,
];

/** Every origin of a stop: a call (`tracker.stop()`, `runtime.stop(id)`), the request's signal, `runtime.close()`. */
const stopCauses: readonly StoppedBy[] = ['stop', 'signal', 'close'];

const own = 'its own text';
const facts = (ending: E, cause: Cause, retriesLeft: number, more: Partial<AttemptFacts> = {}): AttemptFacts =>
  ({ ending, text: own, cause, retriesLeft, processorName: 'sum', chunksDelivered: false, ...more });

const notAStream = 'processor "sum" is not a stream processor (an async generator function): run it with runtime.run(), submit() or map()';
const aStream = 'processor "sum" is a stream processor (an async generator function): run it with runtime.stream()';

// One row per line of the outcome table, first with no retry left, then the same end with retries left.
const rows: Row[] = [
  ['returns { success: true }', E.SUCCEEDED, 'none', 0, { status: S.SUCCEED, reason: R.SUCCEEDED, text: own, retry: false }],
  ['returns { success: true } with retries left: never retried', E.SUCCEEDED, 'none', 3, { status: S.SUCCEED, reason: R.SUCCEEDED, text: own, retry: false }],
  ['returns { success: false }', E.FAILED, 'none', 0, { status: S.FAILED, reason: R.PROCESSOR_FAILED, text: own, retry: false }],
  ['returns { success: false } with retries left', E.FAILED, 'none', 1, { status: S.FAILED, reason: R.PROCESSOR_FAILED, text: own, retry: true }],
  ['throws', E.THREW, 'none', 0, { status: S.FAILED, reason: R.PROCESSOR_THREW, text: own, retry: false }],
  ['throws with retries left', E.THREW, 'none', 2, { status: S.FAILED, reason: R.PROCESSOR_THREW, text: own, retry: true }],
  ['returns null', E.RETURNED_NULL, 'none', 0, { status: S.FAILED, reason: R.PROCESSOR_RETURNED_NULL, text: T.PROCESSOR_RETURNED_NULL, retry: false }],
  ['returns null with retries left', E.RETURNED_NULL, 'none', 1, { status: S.FAILED, reason: R.PROCESSOR_RETURNED_NULL, text: T.PROCESSOR_RETURNED_NULL, retry: true }],
  ['dies with its worker', E.WORKER_DIED, 'none', 0, { status: S.FAILED, reason: R.WORKER_DIED, text: own, retry: false }],
  ['dies with its worker, retries left', E.WORKER_DIED, 'none', 1, { status: S.FAILED, reason: R.WORKER_DIED, text: own, retry: true }],
  ['cannot be loaded', E.LOAD_FAILED, 'none', 0, { status: S.FAILED, reason: R.PROCESSOR_LOAD_FAILED, text: `processor "sum" failed to load: ${own}`, retry: false }],
  ['cannot be loaded, retries left: never retried', E.LOAD_FAILED, 'none', 2, { status: S.FAILED, reason: R.PROCESSOR_LOAD_FAILED, text: `processor "sum" failed to load: ${own}`, retry: false }],
  ['no worker can boot', E.BOOT_FAILED, 'none', 0, { status: S.FAILED, reason: R.WORKER_BOOT_FAILED, text: own, retry: false }],
  ['no worker can boot, retries left: never retried', E.BOOT_FAILED, 'none', 2, { status: S.FAILED, reason: R.WORKER_BOOT_FAILED, text: own, retry: false }],
  ['succeeds with a value that cannot be cloned', E.VALUE_NOT_CLONEABLE, 'none', 0, { status: S.FAILED, reason: R.VALUE_NOT_CLONEABLE, text: `processor "sum" returned a value that cannot be cloned: ${own}`, retry: false }],
  ['succeeds with a value that cannot be cloned, retries left: never retried', E.VALUE_NOT_CLONEABLE, 'none', 2, { status: S.FAILED, reason: R.VALUE_NOT_CLONEABLE, text: `processor "sum" returned a value that cannot be cloned: ${own}`, retry: false }],
  // A stall (no heartbeat for heartbeatTimeoutMs): the attempt fails, and is retried while retries remain.
  ['gives up by throwing after a stall\'s interrupt', E.THREW, 'stall', 0, { status: S.FAILED, reason: R.HEARTBEAT_TIMEOUT_INTERRUPTED, text: T.HEARTBEAT_TIMEOUT_INTERRUPTED, retry: false }],
  ['gives up by throwing after a stall\'s interrupt, retries left: retried', E.THREW, 'stall', 1, { status: S.FAILED, reason: R.HEARTBEAT_TIMEOUT_INTERRUPTED, text: T.HEARTBEAT_TIMEOUT_INTERRUPTED, retry: true }],
  ['gives up by returning a failure after a stall\'s interrupt: keeps its text', E.FAILED, 'stall', 1, { status: S.FAILED, reason: R.HEARTBEAT_TIMEOUT_INTERRUPTED, text: own, retry: true }],
  ['ignores a stall\'s interrupt past the grace', E.FORCE_STOPPED, 'stall', 0, { status: S.FAILED, reason: R.HEARTBEAT_TIMEOUT_FORCE_STOPPED, text: T.HEARTBEAT_TIMEOUT_FORCE_STOPPED, retry: false }],
  ['ignores a stall\'s interrupt past the grace, retries left: retried', E.FORCE_STOPPED, 'stall', 2, { status: S.FAILED, reason: R.HEARTBEAT_TIMEOUT_FORCE_STOPPED, text: T.HEARTBEAT_TIMEOUT_FORCE_STOPPED, retry: true }],
  ['ignores a stall\'s interrupt past the grace, its thread stuck', E.FORCE_STOP_STUCK, 'stall', 1, { status: S.FAILED, reason: R.HEARTBEAT_TIMEOUT_FORCE_STOPPED, text: T.HEARTBEAT_TIMEOUT_FORCE_STOP_STUCK, retry: true }],
  ['succeeds within the grace after a stall\'s interrupt', E.SUCCEEDED, 'stall', 1, { status: S.SUCCEED, reason: R.SUCCEEDED, text: own, retry: false }],
  ['dies with its worker during a stall\'s grace, retries left: retried', E.WORKER_DIED, 'stall', 1, { status: S.FAILED, reason: R.WORKER_DIED, text: own, retry: true }],
  // Streams.
  ['is a stream processor, run by run()', E.WRONG_KIND, 'none', 0, { status: S.FAILED, reason: R.PROCESSOR_KIND_MISMATCH, text: aStream, retry: false }, { text: 'stream' }],
  ['is no stream processor, run by stream(), retries left: never retried', E.WRONG_KIND, 'none', 2, { status: S.FAILED, reason: R.PROCESSOR_KIND_MISMATCH, text: notAStream, retry: false }, { text: 'run' }],
  ['a stream throws after delivering a chunk, retries left: not retried', E.THREW, 'none', 2, { status: S.FAILED, reason: R.PROCESSOR_THREW, text: own, retry: false }, { chunksDelivered: true }],
  ['a stream dies with its worker after delivering a chunk, retries left: not retried', E.WORKER_DIED, 'none', 2, { status: S.FAILED, reason: R.WORKER_DIED, text: own, retry: false }, { chunksDelivered: true }],
  ['a stream throws before delivering any chunk, retries left', E.THREW, 'none', 2, { status: S.FAILED, reason: R.PROCESSOR_THREW, text: own, retry: true }, { chunksDelivered: false }],
  ['a stream ends after a stop, having delivered chunks', E.SUCCEEDED, 'stop', 0, { status: S.STOPPED, reason: R.STOPPED, text: own, retry: false }, { chunksDelivered: true }],
  // Timeout.
  ['gives up by throwing after a timeout interrupt', E.THREW, 'timeout', 0, { status: S.FAILED, reason: R.TIMEOUT_INTERRUPTED, text: T.TIMEOUT_INTERRUPTED, retry: false }],
  ['gives up by returning a failure after a timeout interrupt: keeps its text', E.FAILED, 'timeout', 0, { status: S.FAILED, reason: R.TIMEOUT_INTERRUPTED, text: own, retry: false }],
  ['returns null after a timeout interrupt', E.RETURNED_NULL, 'timeout', 0, { status: S.FAILED, reason: R.TIMEOUT_INTERRUPTED, text: T.PROCESSOR_RETURNED_NULL, retry: false }],
  ['gives up after a timeout, retries left: none after a timeout', E.THREW, 'timeout', 3, { status: S.FAILED, reason: R.TIMEOUT_INTERRUPTED, text: T.TIMEOUT_INTERRUPTED, retry: false }],
  ['ignores the timeout interrupt past the grace', E.FORCE_STOPPED, 'timeout', 0, { status: S.FAILED, reason: R.TIMEOUT_FORCE_STOPPED, text: T.TIMEOUT_FORCE_STOPPED, retry: false }],
  ['ignores the timeout interrupt past the grace, its thread stuck in a system call', E.FORCE_STOP_STUCK, 'timeout', 0, { status: S.FAILED, reason: R.TIMEOUT_FORCE_STOPPED, text: T.TIMEOUT_FORCE_STOP_STUCK, retry: false }],
  ['succeeds within the grace after a timeout interrupt', E.SUCCEEDED, 'timeout', 0, { status: S.SUCCEED, reason: R.SUCCEEDED, text: own, retry: false }],
  ['dies with its worker after a timeout, retries left: not retried', E.WORKER_DIED, 'timeout', 2, { status: S.FAILED, reason: R.WORKER_DIED, text: own, retry: false }],
  // Stop.
  ['gives up by throwing after a stop', E.THREW, 'stop', 0, { status: S.STOPPED, reason: R.STOP_INTERRUPTED, text: T.STOP_INTERRUPTED, retry: false }],
  ['gives up by returning a failure after a stop: keeps its text', E.FAILED, 'stop', 0, { status: S.STOPPED, reason: R.STOP_INTERRUPTED, text: own, retry: false }],
  ['ignores the stop past the grace', E.FORCE_STOPPED, 'stop', 0, { status: S.STOPPED, reason: R.STOP_FORCE_STOPPED, text: T.STOP_FORCE_STOPPED, retry: false }],
  ['ignores the stop past the grace, its thread stuck in a system call', E.FORCE_STOP_STUCK, 'stop', 0, { status: S.STOPPED, reason: R.STOP_FORCE_STOPPED, text: T.STOP_FORCE_STOP_STUCK, retry: false }],
  ['stopped while queued', E.NEVER_STARTED, 'stop', 0, { status: S.STOPPED, reason: R.STOPPED_BEFORE_START, text: T.STOPPED_BEFORE_START, retry: false }],
  ['stopped while queued, retries left', E.NEVER_STARTED, 'stop', 2, { status: S.STOPPED, reason: R.STOPPED_BEFORE_START, text: T.STOPPED_BEFORE_START, retry: false }],
  ['succeeds after a stop: stopped all the same', E.SUCCEEDED, 'stop', 0, { status: S.STOPPED, reason: R.STOPPED, text: own, retry: false }],
  ['dies with its worker after a stop', E.WORKER_DIED, 'stop', 1, { status: S.STOPPED, reason: R.STOPPED, text: own, retry: false }],
  ['no worker can boot after a stop', E.BOOT_FAILED, 'stop', 1, { status: S.STOPPED, reason: R.STOPPED, text: own, retry: false }],
  ['fails to load after a stop', E.LOAD_FAILED, 'stop', 0, { status: S.STOPPED, reason: R.STOPPED, text: `processor "sum" failed to load: ${own}`, retry: false }],
  // Precedence: a stop outranks a timeout. The tracker's cause is 'stop' once a stop came, whichever came first, so
  // a timeout followed by a stop (or a stop followed by a timeout) ends as the stop says.
  ['timeout, then a stop, then it gives up by throwing', E.THREW, 'stop', 0, { status: S.STOPPED, reason: R.STOP_INTERRUPTED, text: T.STOP_INTERRUPTED, retry: false }],
  ['timeout, then a stop, then a force-stop', E.FORCE_STOPPED, 'stop', 0, { status: S.STOPPED, reason: R.STOP_FORCE_STOPPED, text: T.STOP_FORCE_STOPPED, retry: false }],
  // Stop during a retry: the failed attempt that would have been retried is, under a stop, the last one.
  ['a failed attempt with retries left after a stop: no retry', E.FAILED, 'stop', 3, { status: S.STOPPED, reason: R.STOP_INTERRUPTED, text: own, retry: false }],
  ['a worker death with retries left after a stop: no retry', E.WORKER_DIED, 'stop', 3, { status: S.STOPPED, reason: R.STOPPED, text: own, retry: false }],
  // A stop by the caller's signal or by close() is a stop: the same outcome, only stoppedBy tells them apart.
  ['gives up by throwing after the caller\'s signal aborted', E.THREW, 'signal', 0, { status: S.STOPPED, reason: R.STOP_INTERRUPTED, text: T.STOP_INTERRUPTED, retry: false }],
  ['the caller\'s signal aborted while queued', E.NEVER_STARTED, 'signal', 1, { status: S.STOPPED, reason: R.STOPPED_BEFORE_START, text: T.STOPPED_BEFORE_START, retry: false }],
  ['ignores close()\'s stop past the grace', E.FORCE_STOPPED, 'close', 0, { status: S.STOPPED, reason: R.STOP_FORCE_STOPPED, text: T.STOP_FORCE_STOPPED, retry: false }],
  ['succeeds after close()\'s stop: stopped all the same', E.SUCCEEDED, 'close', 0, { status: S.STOPPED, reason: R.STOPPED, text: own, retry: false }],
];

describe('decideOutcome', () => {
  // Each row with its facts given in full (vitest types an optional element of a row as any other element).
  const table = rows.map(([what, ending, cause, retriesLeft, expected, more = {}]) => [what, ending, cause, retriesLeft, expected, more] as const);
  it.each(table)('%s', (_what, ending, cause, retriesLeft, expected, more) => {
    const { attemptReason, ...decision } = decideOutcome(facts(ending, cause, retriesLeft, more));
    // A stopped instance says what stopped it; no other does.
    const stoppedBy = expected.status === S.STOPPED ? cause : undefined;
    expect(decision).toEqual({ ...expected, succeeded: ending === E.SUCCEEDED, stoppedBy });
    // Only a stop remaps the reason; the attempt's own is kept beside it.
    if (stoppedBy === undefined) expect(attemptReason).toBe(expected.reason);
    else if (expected.reason !== R.STOPPED) expect(attemptReason).toBe(expected.reason);
    else expect(attemptReason).not.toBe(R.STOPPED);
  });

  it('covers every OutcomeReason and every OutcomeStatus', () => {
    const reasons = new Set(rows.map(([, ending, cause, retriesLeft, , more]) => decideOutcome(facts(ending, cause, retriesLeft, more)).reason));
    expect([...reasons].sort()).toEqual(Object.values(R).sort());
    const statuses = new Set(rows.map(([, ending, cause, retriesLeft]) => decideOutcome(facts(ending, cause, retriesLeft)).status));
    expect([...statuses].sort()).toEqual(Object.values(S).sort());
  });

  it('decides a stop the same whatever its origin: only stoppedBy differs', () => {
    for (const ending of Object.values(E)) {
      for (const retriesLeft of [0, 1]) {
        const byCall = decideOutcome(facts(ending, 'stop', retriesLeft));
        for (const cause of stopCauses) {
          expect(decideOutcome(facts(ending, cause, retriesLeft)), `${ending} ${cause}`).toEqual({ ...byCall, stoppedBy: cause });
        }
      }
    }
  });

  it('retries only a failed attempt with no cause (or a stall), a retry left and no chunk of its stream delivered', () => {
    for (const ending of Object.values(E)) {
      for (const cause of ['none', 'timeout', 'stall', ...stopCauses] as const) {
        for (const retriesLeft of [0, 1]) {
          for (const chunksDelivered of [false, true]) {
            const { retry } = decideOutcome(facts(ending, cause, retriesLeft, { chunksDelivered }));
            const failedOnItsOwn = ending === E.FAILED || ending === E.THREW || ending === E.RETURNED_NULL || ending === E.WORKER_DIED;
            const stalled = cause === 'stall' && (failedOnItsOwn || ending === E.FORCE_STOPPED || ending === E.FORCE_STOP_STUCK);
            expect(retry, `${ending} ${cause} ${retriesLeft} ${chunksDelivered}`).toBe((failedOnItsOwn && cause === 'none' || stalled) && retriesLeft > 0 && !chunksDelivered);
          }
        }
      }
    }
  });
});
