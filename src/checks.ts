// The one numeric check every option, close() argument and reporter setting goes through, with one wording.
import { describeValue } from './errors.js';
import { MAX_INT32 } from './limits.js';

/** The longest delay a Node timer keeps as given (a longer one fires after 1 ms): every ms option stays below it. */
export const MAX_TIMER_MS = MAX_INT32;

export interface NumberRule {
  /** Smallest allowed value. */
  readonly min: number;
  /** Largest allowed value. @default MAX_TIMER_MS */
  readonly max?: number;
  /** Whether only whole numbers are allowed. @default false */
  readonly integer?: boolean;
  /** What the number counts, for the message: 'ms', 'MB', … @default none */
  readonly unit?: string;
  /** Whether `min` itself is refused (a value must be above it). @default false */
  readonly exclusiveMin?: boolean;
}

/**
 * Returns `value` when it is a number within `rule`; otherwise throws a `TypeError` (not a number, NaN, not whole)
 * or a `RangeError` (out of range) whose message starts with `name`, e.g. "TaskRuntime: options.maxThreads".
 */
export function checkNumber(name: string, value: unknown, rule: NumberRule): number {
  const { min, max = MAX_TIMER_MS, integer = false, unit, exclusiveMin = false } = rule;
  const what = integer ? 'a whole number' : 'a number';
  const units = unit === undefined ? '' : ` ${unit}`;
  if (typeof value !== 'number' || Number.isNaN(value) || (integer && !Number.isInteger(value))) {
    throw new TypeError(`${name} must be ${what}${unit === undefined ? '' : ` of ${unit}`}, got ${describeValue(value)}`);
  }
  const belowMin = exclusiveMin ? !(value > min) : !(value >= min);
  if (belowMin || !(value <= max)) {
    const range = exclusiveMin ? `above ${min}, at most ${max}` : `from ${min} to ${max}`;
    throw new RangeError(`${name} must be ${what} ${range}${units}, got ${describeValue(value)}`);
  }
  return value;
}

/** Checks a deadline given to a `close()` (ms from the call, 0 to MAX_TIMER_MS). */
export function checkDeadline(name: string, value: unknown): number {
  return checkNumber(name, value, { min: 0, unit: 'ms' });
}
