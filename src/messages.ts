// What the main thread and the workers say to each other: the tags and fields of every message between them, the
// attempt request and its reply, a worker's channel and the batches of one attempt's messages on it, the log levels.
// The one module of types the two sides share (with shared-memory.ts); free of package dependencies, as every worker
// loads it as it starts.
import type { MessagePort } from 'node:worker_threads';

/** What every tag of the runtime's messages starts with: a message so tagged that the runtime does not take is refused. */
export const TAG_PREFIX = 'light-task-tracker:';

/** Tags the message a worker posts once booted, its processors imported. */
export const BOOTED_MESSAGE = 'light-task-tracker:booted';

/**
 * Tags the message a worker posts first, on its parentPort, before any processor code can run there: the port of its
 * own channel to the main thread, on which its attempts' messages travel (see WorkerBatch).
 */
export const CHANNEL_MESSAGE = 'light-task-tracker:channel';

/** Tags a batch of one attempt's messages (log lines, progress values, its start), on a worker's channel. */
export const BATCH_MESSAGE = 'light-task-tracker:batch';

/** Tags the runtime's settings for a worker's channel, posted to the worker on it once the runtime has the port. */
export const SETTINGS_MESSAGE = 'light-task-tracker:settings';

/** Tags a worker's word, on its channel, of an error thrown outside its running attempt: logged, no instance fails. */
export const STRAY_ERROR_MESSAGE = 'light-task-tracker:stray-error';

/** Tags a worker's word that an attempt waits for its processor module's first import in this worker. */
export const LOADING_MESSAGE = 'light-task-tracker:loading';

/** Tags a worker's word that the import it announced (LOADING_MESSAGE) has settled, loaded or failed. */
export const LOADED_MESSAGE = 'light-task-tracker:loaded';

/** Tags a worker's word that its attempt runner itself could not be loaded: no worker can run anything. */
export const BOOT_FAILED_MESSAGE = 'light-task-tracker:boot-failed';

/** What each worker receives once, as piscina's `workerData`. */
export interface WorkerBootData {
  /** One Int32 of flags per dispatch slot (shared-memory.ts: FLAG_*). */
  readonly flags: SharedArrayBuffer;
  /** One BigInt64 stamp per dispatch slot (shared-memory.ts: MAX_TICKET). */
  readonly stamps: SharedArrayBuffer;
  /** One Int32 heartbeat count per dispatch slot (shared-memory.ts). */
  readonly beats: SharedArrayBuffer;
  /**
   * The registry's module URLs, in its order. A module is imported on its first use in a worker, or while the worker
   * boots once another worker has imported it (`verified`), so that a spare or a replacement starts warm.
   */
  readonly preload: readonly string[];
  /** One Int32 per registry module: MODULE_VERIFIED once any worker has imported it, else MODULE_UNTRIED. */
  readonly verified: SharedArrayBuffer;
  /** How long a booting worker waits for the verified modules' imports before it serves without them (ms). */
  readonly loadTimeoutMs: number;
  /**
   * With `recycleWorkers.heapUsedMb` only: one Int32 per dispatch slot, where a worker leaves its used heap (MB,
   * rounded up) as it ends an attempt in that slot, before it replies.
   */
  readonly heaps?: SharedArrayBuffer;
  /** One Int32 per dispatch slot: the chunks of the slot's stream attempt its caller has consumed (see AttemptRequest.highWaterMark). */
  readonly consumed: SharedArrayBuffer;
}

/** One attempt of one instance, as posted to a worker. Fields the instance does not have are left out. */
export interface AttemptRequest {
  /** Index of this attempt's interrupt flag and stamp in `WorkerBootData`. */
  readonly slot: number;
  /** This attempt's ticket: its worker starts it by taking the ticket from the slot's stamp. */
  readonly ticket: number;
  /** Index of the processor module in `WorkerBootData.preload` (the registry, in its order). */
  readonly processorIndex: number;
  readonly instanceId: string;
  readonly jobId?: string | number;
  readonly jobParams?: unknown;
  readonly instanceParams?: unknown;
  readonly wfInstanceId?: string | number;
  /** 0 on the first attempt, then 1, 2, … @default 0 */
  readonly currentRetryTimes?: number;
  /** @default 0 */
  readonly maxRetryTimes?: number;
  /** The values of the instance's children (a BullMQ flow's parent job): child key → value. */
  readonly childrenValues?: Record<string, unknown>;
  /** Trace context entries (W3C `traceparent`, `tracestate`) put in by a submit subscriber: `ctx.trace`. */
  readonly trace?: Readonly<Record<string, string>>;
  /** The checkpoint this attempt resumes from (`ctx.resumeFrom`): the last of an earlier attempt, or the request's. */
  readonly resumeFrom?: unknown;
  /** Set when someone listens for starts: the worker posts a StartedMessage as the attempt starts. */
  readonly announce?: true;
  /**
   * Set for an instance of `runtime.stream()` only: its processor must be a stream processor, and its generator is
   * not resumed while this many of its chunks are not consumed (the slot's `consumed` word).
   */
  readonly highWaterMark?: number;
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
  /** The processor returned `{ success: true, value }` with a value that cannot be cloned. */
  VALUE_NOT_CLONEABLE: 5,
  /** Not run: the attempt was cancelled before its worker started it. */
  CANCELLED: 6,
  /** Not run: a stream processor asked for by `run()`, or the other way round; `msg` is the processor's kind. */
  WRONG_KIND: 7,
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
  /**
   * Set when the attempt posted on its worker's channel: the main thread reads the channel (at once, what was posted
   * before the reply is there) before it takes the reply. @default not set: nothing to read
   */
  readonly posted?: true;
  /** The attempt's last batch (the lines written since its last post, and its counts), carried by the reply itself. */
  readonly batch?: WorkerBatch;
  /** A successful attempt's value when it is a primitive, or holds shared memory (then cloned as it is). */
  readonly value?: unknown;
  /** A successful attempt's value, written by `ValueWriter` (see `moved`). */
  readonly valueBytes?: Uint8Array;
  /** The buffers and ports `valueBytes` refers to, transferred with the reply. */
  readonly moved?: Array<ArrayBuffer | MessagePort>;
  /** The shared memory of the moved views on it that `valueBytes` refers to (shared, not copied). */
  readonly sharedViews?: SharedArrayBuffer[];
}

/** The levels a processor may log at, lowest first. */
export const LOG_LEVELS = Object.freeze(['debug', 'info', 'warn', 'error'] as const);
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The first item of each entry of a batch: a log line's level (its index in LOG_LEVELS), or another kind. */
export const Item = Object.freeze({
  /** A log line at LOG_LEVELS[level]: the level, then its message (a string), then its fields (an object, or undefined). */
  DEBUG: 0,
  INFO: 1,
  WARN: 2,
  ERROR: 3,
  /** A progress value: PROGRESS, then the value. */
  PROGRESS: 4,
  /** The attempt has started: STARTED, then the worker's threadId (posted only when the request asks, `announce`). */
  STARTED: 5,
  /** A checkpoint (`ctx.checkpoint`): CHECKPOINT, then the state (its moved buffers transferred with the batch). */
  CHECKPOINT: 6,
  /** A stream's chunk: CHUNK, then its ChunkCargo (posted at once, its moved buffers transferred with the batch). */
  CHUNK: 7,
} as const);

/** A chunk as it crosses, in the fields a reply's value travels in: as it is, or written by ValueWriter with what it moves. */
export type ChunkCargo = Pick<AttemptReply, 'value' | 'valueBytes' | 'moved' | 'sharedViews'>;

/**
 * The first message a worker posts on its parentPort: its channel's port, transferred. Every message of its attempts
 * travels on that channel, none on parentPort, which any processor can post on (or close).
 */
export interface ChannelMessage {
  readonly type: typeof CHANNEL_MESSAGE;
  readonly threadId: number;
  readonly port: MessagePort;
}

/**
 * One attempt's messages, in the order the processor made them, posted on the worker's channel. The first lines of
 * each BATCH_AGE_MS go one by one (a processor that logs a little has each line posted as it writes it); past them,
 * one post takes many lines (a batch is posted when it holds BATCH_LINES lines, when its first line is BATCH_AGE_MS
 * old, when the worker's event loop turns, or at once with a progress value or a start); the attempt's last batch
 * travels inside its reply. The attempt is named by its slot and ticket, which the next instance cannot have (an instance id can be
 * reused): the tracker takes only its current attempt's.
 */
export interface WorkerBatch {
  readonly type: typeof BATCH_MESSAGE;
  readonly slot: number;
  readonly ticket: number;
  /** The entries, flat: each an Item code, then its fields. */
  readonly items: unknown[];
  /** Lines of this attempt the worker dropped (over `processorLogRate`) since the attempt's last count. */
  readonly dropped?: number;
  /** Messages of attempts that had ended (code they left behind), dropped in the worker since its last count. */
  readonly late?: number;
}

/** Lines a batch holds at most: it is posted once it holds this many. */
export const BATCH_LINES = 128;
/** How long a batch's first line waits at most before the batch is posted, when the processor keeps logging (ms). */
export const BATCH_AGE_MS = 10;

/** The runtime's settings for a worker's channel. */
export interface ChannelSettings {
  readonly type: typeof SETTINGS_MESSAGE;
  /**
   * One Int32: the lowest level (its index in LOG_LEVELS) whose lines are sent, LOG_LEVELS.length for none. Shared by
   * the runtime's workers, and changed when the runtime's logger changes its level.
   */
  readonly levels: SharedArrayBuffer;
  /** The most lines the worker sends per second (`processorLogRate`). */
  readonly rate: number;
  /** The most lines it sends at once (`processorLogBurst`). */
  readonly burst: number;
}

/** A worker's word of an error thrown outside its running attempt. */
export interface StrayErrorMessage {
  readonly type: typeof STRAY_ERROR_MESSAGE;
  readonly threadId: number;
  /** The instance whose finished attempt left the code that threw; undefined when it was no attempt's. */
  readonly instanceId: string | undefined;
  /** The error's text, with its stack. */
  readonly error: string;
}

/** A worker's word that it has booted: `threadId` is ready for attempts. */
export interface WorkerBootedMessage {
  readonly type: typeof BOOTED_MESSAGE;
  readonly threadId: number;
}

/**
 * A worker's word that the attempt in `slot` (with `ticket`) waits for the first import of registry module
 * `processorIndex` in this worker: the main thread bounds the wait (`loadTimeoutMs`), a worker stuck there included.
 */
export interface LoadingMessage {
  readonly type: typeof LOADING_MESSAGE;
  readonly threadId: number;
  readonly slot: number;
  readonly ticket: number;
  readonly processorIndex: number;
}

/** A worker's word that the import it announced has settled. */
export interface LoadedMessage {
  readonly type: typeof LOADED_MESSAGE;
  readonly threadId: number;
}

/** A worker's word that its attempt runner could not be loaded, with the error's text and stack. */
export interface BootFailedMessage {
  readonly type: typeof BOOT_FAILED_MESSAGE;
  readonly error: string;
}

/** The `type` of a message a worker posted on its own, or undefined for anything else. */
export function messageType(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
}
