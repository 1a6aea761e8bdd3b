// What a processor module imports: `import { defineProcessor, move } from 'light-task-tracker/processor'`.
export { move } from '../src/move.js';

/** Marks a value made by `defineProcessor`, across copies of this package. */
const PROCESSOR_BRAND = Symbol.for('light-task-tracker.processor');

/**
 * What a processor returns: whether the job succeeded, a message reported with the outcome, and the value the
 * caller gets (`outcome.value`, `runtime.run()`'s result).
 */
export interface ProcessResult<V = unknown> {
  readonly success: boolean;
  /** Any value is turned into text (`String(msg)`); the report cuts it to `maxResultLength`. */
  readonly msg?: unknown;
  /**
   * The job's value, for the caller: any structured-cloneable value. Buffers marked with `move()`, at any depth,
   * move to the main thread instead of being copied. Kept only when `success` is true.
   */
  readonly value?: V;
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
   * The value must be structured-cloneable; a value that is not throws a `TypeError` here. It is copied now: what
   * is sent is the value as it was when appended, whatever becomes of it afterwards.
   */
  append(key: string, value: unknown): void;
  /** What this attempt has appended so far (the copies taken when appended). */
  readonly appended: Readonly<Record<string, unknown>>;
}

/**
 * Everything a processor gets for one attempt. `P` is the type of `jobParams`, `G` the type of the progress values
 * it reports, `S` the type of its checkpoints (what `checkpoint()` takes and `resumeFrom` holds).
 */
export interface ProcessorContext<P = unknown, G = unknown, S = unknown> {
  readonly instanceId: string;
  readonly jobId: string | number | undefined;
  readonly jobParams: P;
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
  /**
   * Sets the instance's progress: any structured-cloneable value (a number, a small object). Cheap enough for a hot
   * loop: at most one message per 10 ms reaches the main thread, and the latest value always does (a value held
   * back is sent when the attempt ends, before its result). A value that cannot be cloned throws a `TypeError` here
   * when it is sent at once, or is dropped with a warning line when it was held back.
   */
  progress(value: G): void;
  /**
   * Says the attempt is alive: one shared-memory add, no message, cheap enough for every loop iteration. With
   * `heartbeatTimeoutMs`, an attempt with no heartbeat for that long (from its start or its last heartbeat) is
   * stalled: interrupted, force-stopped after the grace, and retried while retries remain. `progress()` and
   * `checkpoint()` are heartbeats too.
   */
  heartbeat(): void;
  /**
   * Keeps `state` as the instance's latest checkpoint, on the main thread (`tracker.checkpoint`, `outcome.checkpoint`,
   * `onCheckpoint`): any value that can cross threads, its buffers marked with `move()` moved, not copied. A retry
   * (after a failure, a worker's death or a stall) gets it as `ctx.resumeFrom`. Posted at once, in order with the
   * attempt's log lines and progress; a value that cannot be cloned throws a `TypeError` here. A heartbeat too.
   */
  checkpoint(state: S): void;
  /**
   * The checkpoint this attempt resumes from: the last one an earlier attempt of the instance made, else the
   * request's `resumeFrom`; undefined when there is none.
   */
  readonly resumeFrom: S | undefined;
  /**
   * The values of the instance's children, child key → value: a BullMQ flow's parent job gets its children's
   * return values. Undefined when the instance has none.
   */
  readonly childrenValues: Readonly<Record<string, unknown>> | undefined;
  /**
   * The instance's trace context, as W3C propagation entries (`traceparent`, `tracestate`), when a subscriber of
   * the submit channel put them in (the `light-task-tracker/otel` entry does); undefined otherwise.
   */
  readonly trace: Readonly<Record<string, string>> | undefined;
}

export type ProcessorFunction<P = unknown, V = unknown, G = unknown, S = unknown> = (
  ctx: ProcessorContext<P, G, S>,
) => ProcessResult<V> | null | undefined | Promise<ProcessResult<V> | null | undefined>;

/**
 * A stream processor: an async generator function. Each `yield` sends a chunk (`C`) to the caller's
 * `runtime.stream()` loop, and its `return` value (`V`) is the instance's value.
 */
export type StreamProcessorFunction<P = unknown, C = unknown, V = unknown, G = unknown, S = unknown> = (
  ctx: ProcessorContext<P, G, S>,
) => AsyncGenerator<C, V, undefined>;

/**
 * A processor as `defineProcessor` returns it: the module's default export. Its type parameters carry the types of
 * its params (`P`), its value (`V`), its progress (`G`) and its checkpoints (`S`) to the runtime that runs it
 * (`new TaskRuntime<{ name: typeof import('./processor.js') }>`).
 */
export interface Processor<P = unknown, V = unknown, G = unknown, S = unknown> {
  readonly [PROCESSOR_BRAND]: true;
  /** Run by `submit()`, `run()` and `map()`. */
  readonly kind: 'run';
  readonly process: ProcessorFunction<P, V, G, S>;
}

/** A stream processor as `defineProcessor` returns it: run by `runtime.stream()` only. `C` is the type of its chunks. */
export interface StreamProcessor<P = unknown, C = unknown, V = unknown, G = unknown, S = unknown> {
  readonly [PROCESSOR_BRAND]: true;
  readonly kind: 'stream';
  readonly process: StreamProcessorFunction<P, C, V, G, S>;
}

/** The processor whose annotated context is `X` (a `ProcessorContext<P, G, S>`) and whose value is `V`. */
type ProcessorWith<X, V> = X extends ProcessorContext<infer P, infer G, infer S> ? Processor<P, V, G, S> : never;

/**
 * Declares a processor. Use it as the module's default export. The types of its params, value, progress and
 * checkpoints come from the function (annotate `ctx` as `ProcessorContext<Params, Progress, Checkpoint>`, with no
 * type arguments) or from the type arguments: `defineProcessor<Params, Value, Progress>(async (ctx) => …)`. An async
 * generator function (`async function*`) makes a stream processor: `defineProcessor<Params, Chunk, Value, Progress,
 * Checkpoint>(async function* (ctx) { … })`. Four type arguments are always a stream processor's (its `Checkpoint`
 * is the fifth): a plain processor's checkpoint type comes from its annotated `ctx`. The kind is the function's own:
 * one that returns an async generator some other way is not a stream processor.
 */
export function defineProcessor<P = unknown, V = unknown, G = unknown>(process: ProcessorFunction<P, V, G>): Processor<P, V, G>;
export function defineProcessor<P = unknown, C = unknown, V = unknown, G = unknown, S = unknown>(process: StreamProcessorFunction<P, C, V, G, S>): StreamProcessor<P, C, V, G, S>;
// A plain processor whose annotated `ctx` names a checkpoint type. Generic over the context, so that no explicit type
// arguments reach it (a params type is no context): given three or fewer, the first overload types an unannotated
// `ctx`; given four or five, the stream overload does (TypeScript fixes that type from the first overload it tries).
export function defineProcessor<X extends ProcessorContext, V = unknown>(
  process: (ctx: X) => ProcessResult<V> | null | undefined | Promise<ProcessResult<V> | null | undefined>,
): ProcessorWith<X, V>;
export function defineProcessor(process: ProcessorFunction | StreamProcessorFunction): Processor | StreamProcessor {
  if (typeof process !== 'function') {
    throw new TypeError(`defineProcessor expects a function, got ${typeof process}`);
  }
  const kind = Object.prototype.toString.call(process) === '[object AsyncGeneratorFunction]' ? 'stream' : 'run';
  return Object.freeze({ [PROCESSOR_BRAND]: true as const, kind, process }) as Processor | StreamProcessor;
}

export function isProcessor(value: unknown): value is Processor | StreamProcessor {
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
