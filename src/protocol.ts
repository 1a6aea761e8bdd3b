// The one module the main thread and the worker threads share: what crosses between them.
// Keep it free of runtime dependencies: the worker entry imports it on every worker start.

/** Marks a value made by `defineProcessor`, across copies of this package. */
export const PROCESSOR_BRAND = Symbol.for('light-task-tracker.processor');

/** Tags a log message posted by a worker, so the main thread tells it from anything else. */
export const LOG_MESSAGE = 'light-task-tracker:log';

/** Interrupt flag values, one Int32 per dispatch slot in the shared buffer. */
export const FLAG_RUNNING = 0;
export const FLAG_INTERRUPTED = 1;

/** What each worker receives once, as piscina's `workerData`. */
export interface WorkerBootData {
  /** One Int32 interrupt flag per dispatch slot. */
  readonly flags: SharedArrayBuffer;
  /** The registry's module URLs, imported while the worker boots so that its first attempt starts warm. */
  readonly preload: readonly string[];
}

/** One attempt of one instance, as posted to a worker. */
export interface AttemptPayload {
  /** Index of this attempt's interrupt flag in `WorkerBootData.flags`. */
  readonly slot: number;
  /** File URL of the processor module (resolved from the registry in the main thread). */
  readonly processorUrl: string;
  readonly instanceId: string;
  readonly jobId: string | number | undefined;
  readonly jobParams: unknown;
  readonly instanceParams: unknown;
  readonly wfInstanceId: string | number | undefined;
  readonly currentRetryTimes: number;
  readonly maxRetryTimes: number;
}

/** How an attempt ended, seen from inside the worker. */
export const AttemptEnd = Object.freeze({
  /** The processor returned a result object. */
  RETURNED: 'RETURNED',
  /** The processor returned null or undefined. */
  RETURNED_NULL: 'RETURNED_NULL',
  /** The processor threw (or its promise rejected). */
  THREW: 'THREW',
  /** The processor module could not be imported, or exports no processor. */
  LOAD_FAILED: 'LOAD_FAILED',
} as const);
export type AttemptEnd = (typeof AttemptEnd)[keyof typeof AttemptEnd];

/** The worker's answer for one attempt. Always structured-cloneable: the worker normalises it. */
export interface AttemptReply {
  readonly end: AttemptEnd;
  readonly success: boolean;
  /** The processor's message, or the thrown error's text, or the load failure's text. */
  readonly msg: string;
  /** Whether the interrupt flag was set when the attempt ended. */
  readonly interrupted: boolean;
  /** Workflow context the processor appended during this attempt; undefined when none. */
  readonly appended: Record<string, unknown> | undefined;
  /** Log lines posted during this attempt: the tracker holds the reply until they have all arrived. */
  readonly logLines: number;
}

/** Log levels a processor may write with. */
export type ProcessorLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A log line written by a processor, posted to the main thread as it happens. */
export interface WorkerLogMessage {
  readonly type: typeof LOG_MESSAGE;
  readonly instanceId: string;
  readonly level: ProcessorLogLevel;
  readonly msg: string;
  readonly fields: Record<string, unknown> | undefined;
}

export function isWorkerLogMessage(value: unknown): value is WorkerLogMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === LOG_MESSAGE;
}
