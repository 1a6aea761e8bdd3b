// What a BullMQ job carries for the runtime, and the check that turns it into a submit request.
import {
  describeValue,
  InvalidRequestError,
  InvalidRetriesError,
  InvalidTimeoutError,
  ParamsNotCloneableError,
  ParamsTooLargeError,
  UnknownProcessorError,
  type TaskTrackerError,
} from '../errors.js';
import { didYouMean, keySet } from '../keys.js';
import { InvalidJobDataError } from './errors.js';

/** The data of a job the consumer runs: `queue.add(name, { processor: 'checksum', params: {…}, timeoutMs: 30_000 })`. */
export interface TaskJobData {
  /** The processor's registry name in the consumer's runtime. */
  readonly processor: string;
  /** Passed to the processor as `ctx.jobParams` (after BullMQ's JSON round trip). */
  readonly params?: unknown;
  /** Positive ms for all of this BullMQ attempt's runs together, from its first start. */
  readonly timeoutMs?: number;
  /** Retries inside one BullMQ attempt, in the same process. Not with BullMQ `attempts` > 1. */
  readonly maxRetries?: number;
  /**
   * The job's latest checkpoint: the consumer writes each `ctx.checkpoint(state)` here, and a later run of the job
   * (BullMQ's retry, a stalled job's rerun in another consumer) starts from it as `ctx.resumeFrom`. A producer may set
   * it to start the job from a state saved before. JSON, as all job data.
   */
  readonly checkpoint?: unknown;
}

const KEYS = keySet({ processor: true, params: true, timeoutMs: true, maxRetries: true, checkpoint: true } satisfies Record<keyof TaskJobData, true>);

/**
 * Checks a job's data and its BullMQ `attempts` option. Throws an `InvalidJobDataError` naming the field; the values
 * themselves (the processor's name, the timeout) are checked again by `runtime.submit()`, whose refusal becomes the
 * error's `cause`.
 */
export function readJobData(data: unknown, attempts: number | undefined): TaskJobData {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new InvalidJobDataError('(whole)', `must be an object { processor, params?, timeoutMs?, maxRetries?, checkpoint? }, got ${Array.isArray(data) ? 'an array' : describeValue(data)}`);
  }
  for (const key of Object.keys(data)) {
    if (!KEYS.has(key)) throw new InvalidJobDataError(key, `is not a field of the job data (processor, params, timeoutMs, maxRetries, checkpoint)${didYouMean(key, KEYS)}`);
  }
  const fields = data as Record<string, unknown>;
  if (typeof fields.processor !== 'string') {
    throw new InvalidJobDataError('processor', `must be a processor's registry name, got ${describeValue(fields.processor)}`);
  }
  if (fields.timeoutMs !== undefined && typeof fields.timeoutMs !== 'number') {
    throw new InvalidJobDataError('timeoutMs', `must be a number of milliseconds, got ${describeValue(fields.timeoutMs)}`);
  }
  if (fields.maxRetries !== undefined && typeof fields.maxRetries !== 'number') {
    throw new InvalidJobDataError('maxRetries', `must be a whole number, got ${describeValue(fields.maxRetries)}`);
  }
  if ((fields.maxRetries ?? 0) > 0 && (attempts ?? 1) > 1) {
    throw new InvalidJobDataError('maxRetries', `is ${fields.maxRetries} while the job's BullMQ attempts is ${attempts}: set one of them, not both (they would multiply)`);
  }
  return fields as unknown as TaskJobData;
}

// The job data field behind each of the runtime's refusals that mean the data is wrong (not, say, that the
// runtime is closing).
const FIELD_OF_REFUSAL: ReadonlyArray<readonly [new (...args: never[]) => TaskTrackerError, string]> = [
  [UnknownProcessorError, 'processor'],
  [InvalidTimeoutError, 'timeoutMs'],
  [InvalidRetriesError, 'maxRetries'],
  [ParamsNotCloneableError, 'params'],
  [ParamsTooLargeError, 'params'],
];

/**
 * The text of a `runtime.submit()` refusal, for the job's `InvalidJobDataError`: its message, but what a producer
 * can do about params too large (a BullMQ job's data is JSON: no buffer can be moved).
 */
export function refusalText(error: TaskTrackerError): string {
  if (error instanceof ParamsTooLargeError) {
    return `takes ${error.bytes} bytes, over the limit of ${error.limit} (maxParamsBytes): pass a reference to where the data is (a path, a key)`;
  }
  return error.message;
}

/**
 * The job data field a `runtime.submit()` refusal blames, or undefined when the refusal is not about the data.
 * The instance id is made from the job id, so an id the runtime refuses (too long) blames `jobId`.
 */
export function dataFieldOf(error: TaskTrackerError): string | undefined {
  // The children's values come from BullMQ, not from the job's data.
  if ((error instanceof ParamsNotCloneableError || error instanceof ParamsTooLargeError) && error.field === 'childrenValues') return 'childrenValues';
  for (const [refusal, field] of FIELD_OF_REFUSAL) if (error instanceof refusal) return field;
  if (!(error instanceof InvalidRequestError)) return undefined;
  return error.field === 'instanceId' || error.field === 'jobId' ? 'jobId' : error.field;
}
