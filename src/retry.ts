// Call something that may fail or hang, again and again with growing pauses, within a bounded budget.

export interface RetryPolicy {
  /** Further tries after the first one fails. */
  readonly retries: number;
  /** The longest one try may take before it counts as failed (ms). */
  readonly timeoutMs: number;
  /** The pause before the first retry (ms); each next pause doubles, with jitter. */
  readonly backoffMs: number;
  /** The longest pause between two tries (ms). */
  readonly backoffMaxMs: number;
  /** Whether each try gets an AbortSignal. False spares an AbortController per try for a callee that takes none. */
  readonly trySignals?: boolean;
}

export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  readonly code = 'ERR_TIMEOUT';
}

/**
 * Runs `attempt` until it succeeds, or until `policy.retries` retries have failed; then rejects with the last error.
 * Each try gets a signal that aborts when it times out; `onRetry` hears of every failure that will be retried;
 * `shouldRetry` may declare an error final; aborting `signal` ends a pause between tries at once, rejecting with its reason.
 * A first try that answers synchronously is returned as it is: no timer, no promise.
 */
export function retry<T>(
  attempt: (signal: AbortSignal | undefined, tryNumber: number) => T | PromiseLike<T>,
  policy: RetryPolicy,
  onRetry?: (error: unknown, tryNumber: number, delayMs: number) => void,
  shouldRetry?: (error: unknown) => boolean,
  signal?: AbortSignal,
): T | Promise<T> {
  const controller = policy.trySignals === false ? undefined : new AbortController();
  let first: T | PromiseLike<T>;
  try {
    first = attempt(controller?.signal, 0);
  } catch (error) {
    return retryAfter(error, attempt, policy, onRetry, shouldRetry, signal);
  }
  if (!isPromiseLike(first)) return first;
  return settleWithin(first, policy.timeoutMs, controller).catch((error: unknown) =>
    retryAfter(error, attempt, policy, onRetry, shouldRetry, signal),
  );
}

export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

async function retryAfter<T>(
  error: unknown,
  attempt: (signal: AbortSignal | undefined, tryNumber: number) => T | PromiseLike<T>,
  policy: RetryPolicy,
  onRetry: ((error: unknown, tryNumber: number, delayMs: number) => void) | undefined,
  shouldRetry: ((error: unknown) => boolean) | undefined,
  signal: AbortSignal | undefined,
): Promise<T> {
  for (let tryNumber = 0; ; tryNumber++) {
    if (tryNumber >= policy.retries || shouldRetry?.(error) === false) throw error;
    const delayMs = backoff(tryNumber, policy);
    onRetry?.(error, tryNumber, delayMs);
    await pause(delayMs, signal);
    const controller = policy.trySignals === false ? undefined : new AbortController();
    try {
      return await settleWithin(Promise.resolve().then(() => attempt(controller?.signal, tryNumber + 1)), policy.timeoutMs, controller);
    } catch (next) {
      error = next;
    }
  }
}

function pause(delayMs: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Settles as `pending` does, or rejects with a TimeoutError (aborting `controller`) after `timeoutMs`. */
async function settleWithin<T>(pending: PromiseLike<T>, timeoutMs: number, controller: AbortController | undefined): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TimeoutError(`no answer within ${timeoutMs} ms`);
      controller?.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([pending, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Exponential backoff with "equal jitter": half the step fixed, half random, so retries from many callers spread out. */
function backoff(tryNumber: number, policy: RetryPolicy): number {
  const step = Math.min(policy.backoffMaxMs, policy.backoffMs * 2 ** tryNumber);
  return Math.round(step / 2 + Math.random() * (step / 2));
}
