// How an attempt's end becomes the instance's outcome: one pure function, the only place that decides a status, a
// reason, a result text, and whether to retry, and the `Outcome` an instance ends with. The tracker reports what
// happened; this module says what it means.
import { AttemptEnd } from './messages.js';
import { OutcomeReason, OutcomeStatus, SystemResult } from './status.js';

/** How an attempt ended: the worker's own answers (`AttemptEnd`) and the three the main thread sees for itself. */
export const Ending = Object.freeze({
  ...AttemptEnd,
  // From 10 on: the worker's own answers may grow.
  /** The worker died under the attempt: `process.exit`, an uncaught error, the heap cap. */
  WORKER_DIED: 10,
  /** The tracker terminated the attempt's worker after its interrupt's grace. */
  FORCE_STOPPED: 11,
  /** A stop came while the instance was still queued: no attempt ran. */
  NEVER_STARTED: 12,
  /** No worker can boot: the attempt could not run anywhere. */
  BOOT_FAILED: 13,
  /** The tracker terminated the attempt's worker, and its thread did not exit (blocked in a system call). */
  FORCE_STOP_STUCK: 14,
} as const);
export type Ending = (typeof Ending)[keyof typeof Ending];

/**
 * What stopped an instance: `'stop'` (`tracker.stop()`, `runtime.stop(id)`), `'signal'` (the request's `signal`
 * aborted) or `'close'` (`runtime.close()`).
 */
export type StoppedBy = 'stop' | 'signal' | 'close';

/**
 * How an instance ended: what `tracker.done` resolves with. `V` is the type of its value, `S` of its checkpoint.
 * Times are epoch milliseconds.
 */
export interface Outcome<V = unknown, S = unknown> {
  readonly status: OutcomeStatus;
  /** Why, as a stable code. */
  readonly reason: OutcomeReason;
  /** The processor's message, the error's text, or the tracker's own text (`SystemResult`); not cut. */
  readonly result: string;
  /** The processor's `value`: undefined when it gave none, and whenever the status is not SUCCEED. */
  readonly value: V | undefined;
  /** Attempts started: 0 when stopped before start, 1 + retries otherwise. */
  readonly attempts: number;
  /** When the first attempt started; null when it never did. */
  readonly startTime: number | null;
  readonly endTime: number;
  /**
   * What stopped the instance, when `status` is STOPPED: `'stop'` (`tracker.stop()`, `runtime.stop(id)`),
   * `'signal'` (the request's `signal` aborted) or `'close'` (`runtime.close()`); undefined otherwise.
   */
  readonly stoppedBy: StoppedBy | undefined;
  /**
   * When `stoppedBy` is `'signal'`: the signal's `reason`, what was given to `abort(reason)` (a `DOMException`
   * named `AbortError` when nothing was; `TimeoutError` for `AbortSignal.timeout()`). Undefined otherwise.
   */
  readonly abortReason: unknown;
  /** The last checkpoint any of its attempts made (`ctx.checkpoint`), else the request's `resumeFrom`, else undefined. */
  readonly checkpoint: S | undefined;
  /**
   * When its last attempt was force-stopped: where its thread was, one `    at fn (url:line:column)` line per frame,
   * source-mapped to the processor's own source where a source map is present. Undefined otherwise, and when
   * `captureStack` is off or the capture did not finish within `stackCaptureMs`.
   */
  readonly stack: string | undefined;
}

/**
 * Why the instance's attempt is being ended from outside: its timeout, a stall (no heartbeat for
 * `heartbeatTimeoutMs`: that attempt fails, and may be retried), or a stop (named by what stopped it). A stop outranks
 * a timeout, and a timeout a stall: an instance stopped after its timeout fired (or timed out after a stop) is a
 * stopped one.
 */
export type Cause = 'none' | 'timeout' | 'stall' | StoppedBy;

/** Whether a cause is a stop (of any origin). */
export function isStop(cause: Cause): cause is StoppedBy {
  return cause !== 'none' && cause !== 'timeout' && cause !== 'stall';
}

/** What happened to one attempt, as the tracker saw it. */
export interface AttemptFacts {
  readonly ending: Ending;
  /**
   * The attempt's own text: the processor's message, the thrown error's text, the load failure's or the worker's
   * death's. Unused for the endings whose text is the tracker's own.
   */
  readonly text: string;
  /** Why the instance is being ended from outside, as of this attempt's end. */
  readonly cause: Cause;
  /** Further attempts the instance may still make (its `maxRetries` less the retries already made). */
  readonly retriesLeft: number;
  /** The processor's registry name, for the text of a load failure. */
  readonly processorName: string;
  /** Its stream has handed a chunk to the main thread (this attempt or one before): it is never retried. */
  readonly chunksDelivered: boolean;
}

/** What an attempt's end means. */
export interface Decision {
  /** The instance's status, were it to end here. */
  readonly status: OutcomeStatus;
  readonly reason: OutcomeReason;
  /** The outcome's `result` text (not yet cut to `maxResultLength`). */
  readonly text: string;
  /** Whether the instance runs another attempt instead of ending. */
  readonly retry: boolean;
  /** Whether the processor's own attempt succeeded (a stopped instance may still have: its reports and TaskStatus say so). */
  readonly succeeded: boolean;
  /** How the attempt itself ended, before a stop's remapping: `reason` is STOPPED for several of these. */
  readonly attemptReason: OutcomeReason;
  /** What stopped the instance, when `status` is STOPPED; undefined otherwise. */
  readonly stoppedBy: StoppedBy | undefined;
}

// A stop's own reasons: a stopped instance keeps them; any other end under a stop becomes STOPPED.
const STOP_REASONS: ReadonlySet<OutcomeReason> = new Set([
  OutcomeReason.STOP_INTERRUPTED,
  OutcomeReason.STOP_FORCE_STOPPED,
  OutcomeReason.STOPPED_BEFORE_START,
]);

/** Turns what happened to an attempt into the instance's outcome, or into a retry. */
export function decideOutcome(facts: AttemptFacts): Decision {
  const { ending, cause } = facts;
  const stopped = isStop(cause);
  let reason: OutcomeReason;
  let text = facts.text;
  let retryable = false;
  switch (ending) {
    case Ending.SUCCEEDED:
      reason = OutcomeReason.SUCCEEDED;
      break;
    case Ending.NEVER_STARTED:
    case Ending.CANCELLED:
      reason = OutcomeReason.STOPPED_BEFORE_START;
      text = SystemResult.STOPPED_BEFORE_START;
      break;
    case Ending.FORCE_STOPPED:
    case Ending.FORCE_STOP_STUCK: {
      const stuck = ending === Ending.FORCE_STOP_STUCK;
      if (cause === 'stall') {
        // A stall is the attempt's failure, not the instance's end: retried as a failure is.
        reason = OutcomeReason.HEARTBEAT_TIMEOUT_FORCE_STOPPED;
        text = stuck ? SystemResult.HEARTBEAT_TIMEOUT_FORCE_STOP_STUCK : SystemResult.HEARTBEAT_TIMEOUT_FORCE_STOPPED;
        retryable = true;
      } else {
        reason = stopped ? OutcomeReason.STOP_FORCE_STOPPED : OutcomeReason.TIMEOUT_FORCE_STOPPED;
        text = stopped
          ? (stuck ? SystemResult.STOP_FORCE_STOP_STUCK : SystemResult.STOP_FORCE_STOPPED)
          : (stuck ? SystemResult.TIMEOUT_FORCE_STOP_STUCK : SystemResult.TIMEOUT_FORCE_STOPPED);
      }
      break;
    }
    case Ending.LOAD_FAILED:
      // It would fail the same way on every attempt.
      reason = OutcomeReason.PROCESSOR_LOAD_FAILED;
      text = `processor "${facts.processorName}" failed to load: ${facts.text}`;
      break;
    case Ending.VALUE_NOT_CLONEABLE:
      // The processor's own doing, and done the same way again on a retry.
      reason = OutcomeReason.VALUE_NOT_CLONEABLE;
      text = `processor "${facts.processorName}" returned a value that cannot be cloned: ${facts.text}`;
      break;
    case Ending.WRONG_KIND:
      // Its kind is its module's: the same on every attempt. The worker's text is the kind it found.
      reason = OutcomeReason.PROCESSOR_KIND_MISMATCH;
      text = facts.text === 'stream'
        ? `processor "${facts.processorName}" is a stream processor (an async generator function): run it with runtime.stream()`
        : `processor "${facts.processorName}" is not a stream processor (an async generator function): run it with runtime.run(), submit() or map()`;
      break;
    case Ending.BOOT_FAILED:
      // Every worker fails the same way: nothing to retry on.
      reason = OutcomeReason.WORKER_BOOT_FAILED;
      break;
    case Ending.WORKER_DIED:
      reason = OutcomeReason.WORKER_DIED;
      retryable = true;
      break;
    default: {
      // The processor gave up: returned a failure or nothing, or threw.
      if (ending === Ending.RETURNED_NULL) text = SystemResult.PROCESSOR_RETURNED_NULL;
      if (cause === 'none') {
        reason = ending === Ending.THREW ? OutcomeReason.PROCESSOR_THREW
          : ending === Ending.RETURNED_NULL ? OutcomeReason.PROCESSOR_RETURNED_NULL
            : OutcomeReason.PROCESSOR_FAILED;
        retryable = true;
        break;
      }
      // Interrupted: it gave up because of the interrupt. One that threw (InterruptedError, most likely) gets the
      // tracker's own text; one that returned keeps its own. A stalled attempt that gave up is retried.
      if (cause === 'stall') {
        reason = OutcomeReason.HEARTBEAT_TIMEOUT_INTERRUPTED;
        if (ending === Ending.THREW) text = SystemResult.HEARTBEAT_TIMEOUT_INTERRUPTED;
        retryable = true;
        break;
      }
      reason = stopped ? OutcomeReason.STOP_INTERRUPTED : OutcomeReason.TIMEOUT_INTERRUPTED;
      if (ending === Ending.THREW) text = stopped ? SystemResult.STOP_INTERRUPTED : SystemResult.TIMEOUT_INTERRUPTED;
    }
  }
  const succeeded = ending === Ending.SUCCEEDED;
  // Nothing is retried once a timeout or a stop has come, nor after the last attempt, nor once a stream has delivered a
  // chunk (its chunks reach the caller at most once); a stall is the attempt's own.
  const retry = retryable && (cause === 'none' || cause === 'stall') && facts.retriesLeft > 0 && !facts.chunksDelivered;
  if (isStop(cause)) {
    return { status: OutcomeStatus.STOPPED, reason: STOP_REASONS.has(reason) ? reason : OutcomeReason.STOPPED, text, retry, succeeded, attemptReason: reason, stoppedBy: cause };
  }
  return { status: succeeded ? OutcomeStatus.SUCCEED : OutcomeStatus.FAILED, reason, text, retry, succeeded, attemptReason: reason, stoppedBy: undefined };
}
