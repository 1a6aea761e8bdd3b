// What a processor module imports: `import { defineProcessor } from 'light-task-tracker/processor'`.
import { PROCESSOR_BRAND } from '../src/protocol.js';

/** What a processor returns: whether the job succeeded, and a message reported with the outcome. */
export interface ProcessResult {
  readonly success: boolean;
  /** Any value is turned into text (`String(msg)`); the report cuts it to `maxResultLength`. */
  readonly msg?: unknown;
}

/** A pino-style logger whose lines reach the main thread's logger as they happen, tagged with the instanceId. */
export interface ProcessorLogger {
  debug(msg: string): void;
  debug(fields: Record<string, unknown>, msg?: string): void;
  info(msg: string): void;
  info(fields: Record<string, unknown>, msg?: string): void;
  warn(msg: string): void;
  warn(fields: Record<string, unknown>, msg?: string): void;
  error(msg: string): void;
  error(fields: Record<string, unknown>, msg?: string): void;
}

/** The workflow this instance belongs to, if any. */
export interface WorkflowContext {
  /** The workflow instance id, or undefined when the instance is not part of a workflow. */
  readonly instanceId: string | number | undefined;
  /**
   * Adds a key to the context passed on to the workflow's next nodes (sent with the final report).
   * The value must be structured-cloneable; a value that is not throws a `TypeError` here.
   */
  append(key: string, value: unknown): void;
  /** What this attempt has appended so far. */
  readonly appended: Readonly<Record<string, unknown>>;
}

/** Everything a processor gets for one attempt. */
export interface ProcessorContext {
  readonly instanceId: string;
  readonly jobId: string | number | undefined;
  readonly jobParams: unknown;
  readonly instanceParams: unknown;
  /** 0 on the first attempt, then 1, 2, … on each retry. */
  readonly currentRetryTimes: number;
  /** How many retries this instance may have after a failed attempt. */
  readonly maxRetryTimes: number;
  /** Aborts when the tracker interrupts this attempt (timeout or stop), as soon as the event loop turns. */
  readonly signal: AbortSignal;
  /** Whether the tracker has interrupted this attempt. A shared-memory read: cheap enough for every loop iteration. */
  readonly interrupted: boolean;
  /** Throws an `InterruptedError` if the tracker has interrupted this attempt. */
  throwIfInterrupted(): void;
  /** Resolves after `ms` milliseconds; rejects at once with an `InterruptedError` on interrupt. */
  sleep(ms: number): Promise<void>;
  readonly log: ProcessorLogger;
  readonly workflow: WorkflowContext;
}

export type ProcessorFunction = (ctx: ProcessorContext) => ProcessResult | null | undefined | Promise<ProcessResult | null | undefined>;

/** A processor as `defineProcessor` returns it: the module's default export. */
export interface Processor {
  readonly [PROCESSOR_BRAND]: true;
  readonly process: ProcessorFunction;
}

/** Declares a processor. Use it as the module's default export. */
export function defineProcessor(process: ProcessorFunction): Processor {
  if (typeof process !== 'function') {
    throw new TypeError(`defineProcessor expects a function, got ${typeof process}`);
  }
  return Object.freeze({ [PROCESSOR_BRAND]: true as const, process });
}

export function isProcessor(value: unknown): value is Processor {
  return typeof value === 'object' && value !== null && (value as Partial<Processor>)[PROCESSOR_BRAND] === true;
}

/** Thrown inside a processor by `throwIfInterrupted()` and `sleep()`, and the reason of `signal`, on interrupt. */
export class InterruptedError extends Error {
  override readonly name = 'InterruptedError';
  readonly code = 'ERR_INTERRUPTED';
  constructor(message = 'The attempt was interrupted') {
    super(message);
  }
}
