// The one module the main thread and the worker threads share: what crosses between them.
// Keep it free of runtime dependencies: the worker entry imports it on every worker start.

/** Marks a value made by `defineProcessor`, across copies of this package. */
export const PROCESSOR_BRAND = Symbol.for('light-task-tracker.processor');

/** Tags a log message posted by a worker, so the main thread tells it from anything else. */
export const LOG_MESSAGE = 'light-task-tracker:log';

/** Tags the message a worker posts once booted, its processors imported. */
export const BOOTED_MESSAGE = 'light-task-tracker:booted';

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

/**
 * One attempt of one instance, as posted to a worker. A tuple, not an object: the structured clone of every
 * message would otherwise carry each key's text, on the dispatch path of every instance.
 */
export type AttemptPayload = readonly [
  /** Index of this attempt's interrupt flag in `WorkerBootData.flags`. */
  slot: number,
  /** Index of the processor module in `WorkerBootData.preload` (the registry, in its order). */
  processor: number,
  instanceId: string,
  jobId: string | number | undefined,
  jobParams: unknown,
  instanceParams: unknown,
  wfInstanceId: string | number | undefined,
  currentRetryTimes: number,
  maxRetryTimes: number,
];

/** How an attempt ended, seen from inside the worker. */
export const AttemptEnd = Object.freeze({
  /** The processor returned a result object. */
  RETURNED: 0,
  /** The processor returned null or undefined. */
  RETURNED_NULL: 1,
  /** The processor threw (or its promise rejected). */
  THREW: 2,
  /** The processor module could not be imported, or exports no processor. */
  LOAD_FAILED: 3,
} as const);
export type AttemptEnd = (typeof AttemptEnd)[keyof typeof AttemptEnd];

/** The worker's answer for one attempt, a tuple for the same reason as the payload. Always cloneable. */
export type AttemptReply = readonly [
  end: AttemptEnd,
  success: boolean,
  /** The processor's message, or the thrown error's text, or the load failure's text. */
  msg: string,
  /** Whether the interrupt flag was set when the attempt ended. */
  interrupted: boolean,
  /** Workflow context the processor appended during this attempt; undefined when none. */
  appended: Record<string, unknown> | undefined,
  /** Log lines posted during this attempt: the tracker holds the reply until they have all arrived. */
  logLines: number,
];

/** Log levels a processor may write with. */
export type ProcessorLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A log line written by a processor, posted to the main thread as it happens. */
export interface WorkerLogMessage {
  readonly type: typeof LOG_MESSAGE;
  readonly instanceId: string;
  /** The attempt that wrote it (its currentRetryTimes). */
  readonly attempt: number;
  readonly level: ProcessorLogLevel;
  readonly msg: string;
  readonly fields: Record<string, unknown> | undefined;
}

export function isWorkerLogMessage(value: unknown): value is WorkerLogMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === LOG_MESSAGE;
}

/** A worker's word that it has booted: `threadId` is ready for attempts. */
export interface WorkerBootedMessage {
  readonly type: typeof BOOTED_MESSAGE;
  readonly threadId: number;
}

export function isWorkerBootedMessage(value: unknown): value is WorkerBootedMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === BOOTED_MESSAGE;
}
