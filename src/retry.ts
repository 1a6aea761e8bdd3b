// Call something that may fail or hang, again and again with growing pauses, within a bounded budget.
import { getEventListeners } from 'node:events';
import { delay, isPromiseLike } from './async.js';
import { TimeoutError } from './errors.js';

export interface RetryPolicy {
  /** Further tries after the first one fails. */
  readonly retries: number;
  /** The longest one try may take before it counts as failed (ms). */
  readonly timeoutMs: number;
  /** The pause before the first retry (ms); each next pause doubles, with jitter. */
  readonly backoffMs: number;
  /** The longest pause between two tries (ms). */
  readonly backoffMaxMs: number;
}

/** What `retry()` takes beside the call it makes. */
export interface RetryOptions {
  /** How many tries, how long each may take, and the pauses between them. */
  readonly policy: RetryPolicy;
  /**
   * Hears of every failure that will be retried: the error, the try that failed (0 for the first) and the pause
   * before the next one (ms).
   * @default none
   */
  readonly onRetry?: (error: unknown, tryNumber: number, delayMs: number) => void;
  /**
   * Whether an error may be retried: false makes it final (`retry()` then rejects with it at once).
   * @default every error is retried
   */
  readonly shouldRetry?: (error: unknown) => boolean;
  /**
   * Aborting it gives up at once, in a pause or in a try (whose own signal then aborts too): `retry()` rejects with
   * its reason.
   * @default none: only the policy ends the tries
   */
  readonly signal?: AbortSignal;
  /**
   * Where a first try's AbortController comes from, and goes back to when the try answers synchronously.
   * @default a new controller for every first try
   */
  readonly signals?: SignalPool;
}

/**
 * AbortControllers to give to first tries. A try that answers synchronously is done with its signal: when nothing
 * listens to it, it goes back for the next try. Making an AbortSignal costs Node 20 some 2 µs and its garbage, on
 * every report of every instance otherwise.
 */
export class SignalPool {
  readonly #free: AbortController[] = [];

  take(): AbortController {
    return this.#free.pop() ?? new AbortController();
  }

  /** Takes back the controller of a try that answered synchronously, unless someone still listens to its signal. */
  give(controller: AbortController): void {
    if (this.#free.length < 64 && !controller.signal.aborted && getEventListeners(controller.signal, 'abort').length === 0) {
      this.#free.push(controller);
    }
  }
}

/** One try: it gets its own signal (aborted when the try times out or `retry()` gives up) and its number (0 first). */
export type Try<T> = (signal: AbortSignal, tryNumber: number) => T | PromiseLike<T>;

/**
 * Runs `attempt` until it succeeds, or until `options.policy.retries` retries have failed; then rejects with the last
 * error. Each try gets a signal that aborts when it times out (`policy.timeoutMs`); `options.onRetry` hears of every
 * failure that will be retried; `options.shouldRetry` may declare an error final; aborting `options.signal` gives up
 * at once, in a pause or in a try (whose own signal then aborts), rejecting with its reason.
 * A first try that answers synchronously is returned as it is: no timer, no promise (and its controller goes back to
 * `options.signals`, when given).
 */
export function retry<T>(attempt: Try<T>, options: RetryOptions): T | Promise<T> {
  const controller = options.signals?.take() ?? new AbortController();
  let first: T | PromiseLike<T>;
  try {
    first = attempt(controller.signal, 0);
  } catch (error) {
    return retryAfter(error, attempt, options);
  }
  if (!isPromiseLike(first)) {
    options.signals?.give(controller);
    return first;
  }
  return settleWithin(first, options.policy.timeoutMs, controller, options.signal).catch((error: unknown) => retryAfter(error, attempt, options));
}

async function retryAfter<T>(error: unknown, attempt: Try<T>, options: RetryOptions): Promise<T> {
  const { policy, onRetry, shouldRetry, signal } = options;
  for (let tryNumber = 0; ; tryNumber++) {
    if (tryNumber >= policy.retries || shouldRetry?.(error) === false || signal?.aborted === true) throw error;
    const delayMs = backoff(tryNumber, policy);
    onRetry?.(error, tryNumber, delayMs);
    await delay(delayMs, signal);
    const controller = new AbortController();
    try {
      return await settleWithin(Promise.resolve().then(() => attempt(controller.signal, tryNumber + 1)), policy.timeoutMs, controller, signal);
    } catch (next) {
      error = next;
    }
  }
}

/**
 * Settles as `pending` does, or rejects with a TimeoutError after `timeoutMs`, or with `giveUp`'s reason when it
 * aborts; either way `controller` (the try's own signal) aborts too.
 */
async function settleWithin<T>(
  pending: PromiseLike<T>,
  timeoutMs: number,
  controller: AbortController,
  giveUp: AbortSignal | undefined,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onGiveUp: (() => void) | undefined;
  const ended = new Promise<never>((_, reject) => {
    const end = (error: unknown): void => {
      controller.abort(error);
      reject(error);
    };
    timer = setTimeout(() => end(new TimeoutError(`no answer within ${timeoutMs} ms`)), timeoutMs);
    if (giveUp === undefined) return;
    if (giveUp.aborted) return end(giveUp.reason);
    onGiveUp = () => end(giveUp.reason);
    giveUp.addEventListener('abort', onGiveUp, { once: true });
  });
  try {
    return await Promise.race([pending, ended]);
  } finally {
    clearTimeout(timer);
    if (onGiveUp !== undefined) giveUp?.removeEventListener('abort', onGiveUp);
  }
}

/** Exponential backoff with "equal jitter": half the step fixed, half random, so retries from many callers spread out. */
function backoff(tryNumber: number, policy: RetryPolicy): number {
  const step = Math.min(policy.backoffMaxMs, policy.backoffMs * 2 ** tryNumber);
  return Math.round(step / 2 + Math.random() * (step / 2));
}
