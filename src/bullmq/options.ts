// A consumer's options: one type, its defaults, and the check that fills them in.
import type { WorkerOptions } from 'bullmq';
import { describeValue } from '../errors.js';
import { MAX_TIMER_MS, type TaskRuntimeOptions } from '../options.js';
import { DEFAULT_PREFIX, type QueueLocation } from './control.js';

/** BullMQ `Worker` options a consumer passes on; the consumer sets the others itself. */
export type ConsumerWorkerOptions = Omit<WorkerOptions, 'concurrency' | 'autorun' | 'connection' | 'prefix' | 'useWorkerThreads'>;

export interface ConsumerOptions extends QueueLocation {
  /**
   * The options of the consumer's own `TaskRuntime`, as for `new TaskRuntime()`. Its `maxThreads` is the BullMQ
   * worker's concurrency. `maxInstances` does not apply (refused): BullMQ admits the jobs, and an instance whose
   * final report your reporter is still taking must not hold up the next job. A `reporter` and an
   * `onProcessorLog` given here are called too, beside the consumer's own `job.updateProgress` and `job.log`.
   */
  readonly runtime: TaskRuntimeOptions;
  /**
   * Further options of the BullMQ `Worker`: `lockDuration` (ms, default 30000), `stalledInterval` (ms, default
   * 30000), `maxStalledCount` (default 1), `drainDelay` (s, default 5), `removeOnComplete`, `removeOnFail`,
   * `limiter`, … `concurrency`, `autorun`, `connection` and `prefix` are the consumer's.
   * @default {} (BullMQ's defaults; `name` defaults to the runtime's `address`, so `job.processedBy` tells
   * which process ran a job)
   */
  readonly worker?: ConsumerWorkerOptions;
  /**
   * How long `close()` lets running jobs finish before it stops them and returns them to the queue (ms), when
   * `close()` is given no `deadlineMs`. 0 to 2^31-1.
   * @default 30000
   */
  readonly closeDeadlineMs?: number;
  /**
   * Most processor log lines written to one job's log (each is a Redis write the job's completion waits for);
   * past it, lines still reach the logger and `onProcessorLog`, and the job's log ends with a line saying how
   * many were left out. 0 to 2^31-1 (0: none).
   * @default 1000
   */
  readonly maxJobLogLines?: number;
}

export const defaultConsumerOptions = Object.freeze({
  closeDeadlineMs: 30_000,
  maxJobLogLines: 1000,
  prefix: DEFAULT_PREFIX,
});

/** Checks `close()`'s or the options' deadline. */
export function checkDeadline(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number of milliseconds, got ${describeValue(value)}`);
  }
  if (value < 0 || value > MAX_TIMER_MS) throw new RangeError(`${name} must be from 0 to ${MAX_TIMER_MS} ms, got ${value}`);
  return value;
}

export interface ResolvedConsumerOptions {
  readonly prefix: string;
  readonly closeDeadlineMs: number;
  readonly maxJobLogLines: number;
  readonly worker: ConsumerWorkerOptions;
}

// The Worker options BullMQ checks only after it has opened its Redis connections (a refusal there would leave
// them open): checked here first. Each: whether a value is allowed, and what is.
const WORKER_CHECKS: ReadonlyArray<[keyof ConsumerWorkerOptions, (value: number) => boolean, string]> = [
  ['lockDuration', (value) => value > 0, 'a number of ms above 0'],
  ['stalledInterval', (value) => value > 0, 'a number of ms above 0'],
  ['drainDelay', (value) => value > 0, 'a number of seconds above 0'],
  ['maxStalledCount', (value) => value >= 0, 'a number from 0'],
  ['maxStartedAttempts', (value) => value >= 0, 'a number from 0'],
];

/** Checks what the consumer needs beside what `new TaskRuntime()` checks itself. */
export function resolveConsumerOptions(options: ConsumerOptions): ResolvedConsumerOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError(`startConsumer: options must be an object, got ${describeValue(options)}`);
  if (typeof options.runtime !== 'object' || options.runtime === null) {
    throw new TypeError(`startConsumer: options.runtime must be the runtime's options, got ${describeValue(options.runtime)}`);
  }
  if (options.runtime.maxInstances !== undefined) {
    throw new TypeError('startConsumer: options.runtime.maxInstances does not apply to a consumer: BullMQ admits jobs, at most maxThreads at once');
  }
  const given = options.worker ?? {};
  if (typeof given !== 'object' || given === null) {
    throw new TypeError(`startConsumer: options.worker must be an object of BullMQ Worker options, got ${describeValue(given)}`);
  }
  // A key set to undefined would override BullMQ's default with undefined (which it refuses after connecting):
  // it means "the default", so it is left out.
  const worker = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)) as ConsumerWorkerOptions;
  for (const [name, allowed, what] of WORKER_CHECKS) {
    const value = worker[name];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || !allowed(value))) {
      throw new RangeError(`startConsumer: options.worker.${name} must be ${what}, got ${describeValue(value)}`);
    }
  }
  const maxJobLogLines = options.maxJobLogLines ?? defaultConsumerOptions.maxJobLogLines;
  if (typeof maxJobLogLines !== 'number' || !Number.isInteger(maxJobLogLines) || maxJobLogLines < 0 || maxJobLogLines > MAX_TIMER_MS) {
    throw new RangeError(`startConsumer: options.maxJobLogLines must be a whole number from 0 to ${MAX_TIMER_MS}, got ${describeValue(maxJobLogLines)}`);
  }
  return {
    maxJobLogLines,
    prefix: options.prefix ?? defaultConsumerOptions.prefix,
    closeDeadlineMs: checkDeadline('startConsumer: options.closeDeadlineMs', options.closeDeadlineMs ?? defaultConsumerOptions.closeDeadlineMs),
    worker,
  };
}
