// A consumer's options: one type, its defaults, and the check that fills them in.
import { availableParallelism, hostname } from 'node:os';
import type { WorkerOptions } from 'bullmq';
import { describeValue } from '../errors.js';
import type { TaskRuntimeOptions } from '../options.js';
import type { QueueLocation } from './control.js';

/** BullMQ `Worker` options a consumer passes on; the consumer sets the others itself. */
export type ConsumerWorkerOptions = Omit<WorkerOptions, 'concurrency' | 'autorun' | 'connection' | 'prefix' | 'useWorkerThreads'>;

export interface ConsumerOptions extends QueueLocation {
  /**
   * The options of the consumer's own `TaskRuntime`, as for `new TaskRuntime()`. Its `maxThreads` is the BullMQ
   * worker's concurrency. A `reporter` and an `onProcessorLog` given here are called too, after the consumer has
   * turned the report into `job.updateProgress` and the line into `job.log`.
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
}

export const defaultConsumerOptions = Object.freeze({
  closeDeadlineMs: 30_000,
  prefix: 'bull',
});

/** The longest timer Node keeps as given (a longer one fires after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Checks `close()`'s or the options' deadline. */
export function checkDeadline(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number of milliseconds, got ${describeValue(value)}`);
  }
  if (value < 0 || value > MAX_TIMER_MS) throw new RangeError(`${name} must be from 0 to ${MAX_TIMER_MS} ms, got ${value}`);
  return value;
}

export interface ResolvedConsumerOptions {
  readonly concurrency: number;
  readonly address: string;
  readonly closeDeadlineMs: number;
  readonly worker: ConsumerWorkerOptions;
}

/** Fills in what the consumer needs beside what `new TaskRuntime()` and `new Worker()` check themselves. */
export function resolveConsumerOptions(options: ConsumerOptions): ResolvedConsumerOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError(`startConsumer: options must be an object, got ${describeValue(options)}`);
  if (typeof options.runtime !== 'object' || options.runtime === null) {
    throw new TypeError(`startConsumer: options.runtime must be the runtime's options, got ${describeValue(options.runtime)}`);
  }
  if (options.worker !== undefined && (typeof options.worker !== 'object' || options.worker === null)) {
    throw new TypeError(`startConsumer: options.worker must be an object of BullMQ Worker options, got ${describeValue(options.worker)}`);
  }
  const runtime = options.runtime;
  // new TaskRuntime() checks these two; here they only size the BullMQ worker.
  const maxThreads = runtime.maxThreads ?? availableParallelism();
  const maxInstances = runtime.maxInstances ?? Number.MAX_SAFE_INTEGER;
  return {
    concurrency: Math.min(maxThreads, maxInstances),
    address: runtime.address ?? `${hostname()}:${process.pid}`,
    closeDeadlineMs: checkDeadline('startConsumer: options.closeDeadlineMs', options.closeDeadlineMs ?? defaultConsumerOptions.closeDeadlineMs),
    worker: options.worker ?? {},
  };
}
