// The one module the main thread and the worker threads share: what crosses between them (the messages, the
// shared-memory layout, the tags), and the few helpers both sides use to produce it.
// Keep it free of runtime dependencies: the worker entry imports it on every worker start.

/** Marks a value made by `defineProcessor`, across copies of this package. */
export const PROCESSOR_BRAND = Symbol.for('light-task-tracker.processor');

/** Tags a log message posted by a worker, so the main thread tells it from anything else. */
export const LOG_MESSAGE = 'light-task-tracker:log';

/** Tags the message a worker posts once booted, its processors imported. */
export const BOOTED_MESSAGE = 'light-task-tracker:booted';

/** Interrupt flag values, one Int32 per dispatch slot in `WorkerBootData.flags`. */
export const FLAG_RUNNING = 0;
export const FLAG_INTERRUPTED = 1;

/** What each worker receives once, as piscina's `workerData`. */
export interface WorkerBootData {
  /** One Int32 interrupt flag per dispatch slot. */
  readonly flags: SharedArrayBuffer;
  /** The registry's module URLs, imported while the worker boots so that its first attempt starts warm. */
  readonly preload: readonly string[];
}

/** One attempt of one instance, as posted to a worker. Fields the instance does not have are left out. */
export interface AttemptRequest {
  /** Index of this attempt's interrupt flag in `WorkerBootData.flags`. */
  readonly slot: number;
  /** Index of the processor module in `WorkerBootData.preload` (the registry, in its order). */
  readonly processorIndex: number;
  readonly instanceId: string;
  readonly jobId?: string | number;
  readonly jobParams?: unknown;
  readonly instanceParams?: unknown;
  readonly wfInstanceId?: string | number;
  /** 0 on the first attempt, then 1, 2, … */
  readonly currentRetryTimes: number;
  readonly maxRetryTimes: number;
}

/** How an attempt ended, seen from inside the worker. */
export const AttemptEnd = Object.freeze({
  /** The processor returned `{ success: true }`. */
  SUCCEEDED: 0,
  /** The processor returned `{ success: false }`. */
  FAILED: 1,
  /** The processor returned null or undefined. */
  RETURNED_NULL: 2,
  /** The processor threw (or its promise rejected). */
  THREW: 3,
  /** The processor module could not be imported, or exports no processor. */
  LOAD_FAILED: 4,
} as const);
export type AttemptEnd = (typeof AttemptEnd)[keyof typeof AttemptEnd];

/**
 * The worker's answer for one attempt. Always cloneable. A field at its default is left out: each key is copied
 * across on every attempt, and most attempts end with no message, no context and no log line.
 */
export interface AttemptReply {
  readonly end: AttemptEnd;
  /** The processor's message, or the thrown error's text, or the load failure's text. @default '' */
  readonly msg?: string;
  /** Workflow context the processor appended during this attempt. @default none */
  readonly appended?: Record<string, unknown>;
  /** Log lines posted during this attempt: the tracker holds the reply until they have all arrived. @default 0 */
  readonly logLines?: number;
}

/** The levels a processor may log at, lowest first. */
export const LOG_LEVELS = Object.freeze(['debug', 'info', 'warn', 'error'] as const);
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A log line written by a processor, posted to the main thread as it happens. */
export interface WorkerLogMessage {
  readonly type: typeof LOG_MESSAGE;
  readonly instanceId: string;
  /** The attempt that wrote it (its currentRetryTimes). */
  readonly attempt: number;
  readonly level: LogLevel;
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

// ---------------------------------------------------------------------------------------------------------------
// Helpers both threads use

/**
 * The text of a value that crossed (or will cross) the boundary: a processor's message, a thrown error, a worker's
 * death. For an error this is its own text, "Name: message", as Java's Throwable.toString(). Runs the value's own
 * `toString` (it is the processor's or the runtime's, never a caller's request); never throws.
 */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * Resolves after `ms` milliseconds; rejects with the signal's reason as soon as `signal` aborts (at once if it
 * already has). The timer and the listener are both gone once it settles.
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
