// A consumer's options: one type, its defaults, and the check that fills them in; and where a queue lives
// (`QueueLocation`), which a consumer's options hold and `stopJob` takes.
import type { WorkerOptions } from 'bullmq';
import type { Redis, RedisOptions } from 'ioredis';
import { checkDeadline, checkNumber, type NumberRule } from '../checks.js';
import { describeValue } from '../errors.js';
import { keySet, refuseUnknownOptions } from '../keys.js';
import { refuseUnknownRuntimeOptions, type TaskRuntimeOptions } from '../options.js';

/** Where a queue lives: its name, its Redis, and BullMQ's key prefix. */
export interface QueueLocation {
  /** The BullMQ queue's name. */
  readonly queue: string;
  /** ioredis options, or a connected ioredis client (used as it is, and left open). */
  readonly connection: RedisOptions | Redis;
  /**
   * BullMQ's key prefix, as given to the queue and the workers.
   * @default 'bull'
   */
  readonly prefix?: string;
}

/** BullMQ's own default key prefix. */
export const DEFAULT_PREFIX = 'bull';

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

/**
 * Every key `ConsumerOptions` has: `startConsumer` refuses any other. A consumer's options hold a queue location, so
 * they may be given as one: `stopJob` takes these keys in its location too.
 */
export const CONSUMER_OPTION_KEYS = keySet({
  queue: true,
  connection: true,
  prefix: true,
  runtime: true,
  worker: true,
  closeDeadlineMs: true,
  maxJobLogLines: true,
} satisfies Record<keyof ConsumerOptions, true>);

export const defaultConsumerOptions = Object.freeze({
  closeDeadlineMs: 30_000,
  maxJobLogLines: 1000,
  prefix: DEFAULT_PREFIX,
});

export interface ResolvedConsumerOptions {
  readonly prefix: string;
  readonly closeDeadlineMs: number;
  readonly maxJobLogLines: number;
  readonly worker: ConsumerWorkerOptions;
}

// The Worker options BullMQ checks only after it has opened its Redis connections (a refusal there would leave
// them open): checked here first.
const WORKER_RULES: ReadonlyArray<[keyof ConsumerWorkerOptions, NumberRule]> = [
  ['lockDuration', { min: 0, exclusiveMin: true, unit: 'ms' }],
  ['stalledInterval', { min: 0, exclusiveMin: true, unit: 'ms' }],
  ['drainDelay', { min: 0, exclusiveMin: true, unit: 's' }],
  ['maxStalledCount', { min: 0, max: Number.MAX_SAFE_INTEGER }],
  ['maxStartedAttempts', { min: 0, max: Number.MAX_SAFE_INTEGER }],
];

/** Checks what the consumer needs beside what `new TaskRuntime()` checks itself. */
export function resolveConsumerOptions(options: ConsumerOptions): ResolvedConsumerOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError(`startConsumer: options must be an object, got ${describeValue(options)}`);
  refuseUnknownOptions('startConsumer', options, CONSUMER_OPTION_KEYS);
  if (typeof options.runtime !== 'object' || options.runtime === null) {
    throw new TypeError(`startConsumer: options.runtime must be the runtime's options, got ${describeValue(options.runtime)}`);
  }
  // Before any connection is made (the runtime's own check comes after the stop channel's).
  refuseUnknownRuntimeOptions('startConsumer', options.runtime, 'runtime.');
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
  for (const [name, rule] of WORKER_RULES) {
    if (worker[name] !== undefined) checkNumber(`startConsumer: options.worker.${name}`, worker[name], rule);
  }
  return {
    maxJobLogLines: checkNumber('startConsumer: options.maxJobLogLines', options.maxJobLogLines ?? defaultConsumerOptions.maxJobLogLines, { min: 0, integer: true }),
    prefix: options.prefix ?? defaultConsumerOptions.prefix,
    closeDeadlineMs: checkDeadline('startConsumer: options.closeDeadlineMs', options.closeDeadlineMs ?? defaultConsumerOptions.closeDeadlineMs),
    worker,
  };
}
