// runtime.stream()'s options: those of run(), and how far a stream's generator may run ahead of the loop; their one
// check.
import { describeValue, InvalidRequestError } from './errors.js';
import { keySet } from './keys.js';
import { MAX_INT32 } from './limits.js';
import { checkCallOptions, RUN_OPTION_FIELDS, type SubmitRequest } from './request.js';

/**
 * `runtime.stream()`'s options: every request field `run()` takes as an option, and `highWaterMark`. `S` is the type
 * of `resumeFrom`.
 */
export interface StreamOptions<S = unknown> extends Omit<SubmitRequest<string, unknown, S>, 'processor' | 'jobParams'> {
  /**
   * The most chunks the generator has yielded and the loop not yet consumed: past it, the generator is not resumed
   * until the loop takes one. A whole number from 1 to 2^31-1.
   * @default 16
   */
  readonly highWaterMark?: number;
}

/** `highWaterMark` when none is given. */
export const DEFAULT_HIGH_WATER_MARK = 16;

/** Every option `stream()` takes. */
export const STREAM_OPTION_KEYS = keySet({ ...RUN_OPTION_FIELDS, highWaterMark: true } satisfies Record<keyof StreamOptions, true>);

/** A stream's options, checked; `request` is what its request holds besides its processor and params. */
export interface ResolvedStreamOptions {
  readonly highWaterMark: number;
  /** Undefined when no request field was given. */
  readonly request: Readonly<Record<string, unknown>> | undefined;
}

/**
 * Checks `stream()`'s options and splits off `highWaterMark`. Throws an `InvalidRequestError` naming the option
 * (`options` for the whole); the request fields' values are checked by the submit, as a request's are.
 */
export function resolveStreamOptions(options: StreamOptions | undefined): ResolvedStreamOptions {
  checkCallOptions('stream()', options, STREAM_OPTION_KEYS);
  if (options === undefined) return { highWaterMark: DEFAULT_HIGH_WATER_MARK, request: undefined };
  // Each option read once, here.
  let highWaterMark: unknown;
  let request: Record<string, unknown>;
  try {
    ({ highWaterMark = DEFAULT_HIGH_WATER_MARK, ...request } = options);
  } catch (cause) {
    throw new InvalidRequestError('options', 'reading them threw', { cause });
  }
  if (typeof highWaterMark !== 'number' || !Number.isInteger(highWaterMark) || highWaterMark < 1 || highWaterMark > MAX_INT32) {
    throw new InvalidRequestError('highWaterMark', `must be a whole number from 1 to ${MAX_INT32}, got ${describeValue(highWaterMark)}`);
  }
  return { highWaterMark, request: Object.keys(request).length === 0 ? undefined : request };
}
