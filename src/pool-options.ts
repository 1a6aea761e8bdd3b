// What the worker pool is made with and hands over: its options, where it takes in the workers' messages, an
// attempt's fields before the pool gives it a slot, and the pool's named numbers.
import type { MessagePort, ResourceLimits } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { AttemptRequest, WorkerBatch } from './messages.js';
import type { RecycleWorkers } from './options.js';

/** Attempts handed to the pool per thread: those running, and as many waiting for the next free worker. */
export const ATTEMPTS_PER_THREAD = 2;
/** The first backoff of a retry after repeated worker deaths (ms): see deathBackoff. */
export const DEATH_BACKOFF_MS = 20;
/** The longest backoff of a retry after repeated worker deaths (ms). */
export const DEATH_BACKOFF_MAX_MS = 2000;

/**
 * How long the retry of an attempt whose worker died waits (ms), after `deaths` deaths in a row with no attempt
 * answering in between: nothing after one, then DEATH_BACKOFF_MS doubled on each further death, at most
 * DEATH_BACKOFF_MAX_MS. A processor that kills its worker on every attempt so costs a worker every two seconds at
 * most, not dozens a second.
 */
export function deathBackoff(deaths: number): number {
  return deaths <= 1 ? 0 : Math.min(DEATH_BACKOFF_MAX_MS, DEATH_BACKOFF_MS * 2 ** (deaths - 2));
}
/** How many times one attempt is handed to piscina, at most, when workers die before starting it. */
export const MAX_LAUNCHES = 4;
/** Where an attempt's messages are taken in before its end: the workers' channels. */
export interface ChannelSink {
  /** A message a worker posted on its parentPort that is not the pool's own. */
  onParentMessage(message: unknown): void;
  /**
   * What worker `threadId` posted (read at once when `drain`), then `batch`, taken in: true when done now, else `then`
   * is called once it is.
   */
  settle(threadId: number, drain: boolean, batch: WorkerBatch | undefined, then: () => void): boolean;
}

export interface PoolOptions {
  readonly minThreads: number;
  readonly maxThreads: number;
  /** Idle workers kept beyond `maxThreads`, so that an attempt never waits for a replacement to spawn. */
  readonly spareThreads: number;
  readonly resourceLimits: ResourceLimits | undefined;
  readonly channels: ChannelSink;
  /** Errors of a worker that had no task to fail. */
  readonly onError: (error: unknown) => void;
  /** The registry's processor module URLs, in its order. */
  readonly preload: readonly string[];
  /** How long an attempt may wait for its processor module's first import in a worker (ms). */
  readonly loadTimeoutMs: number;
  readonly logger: Logger;
  /** When a worker is retired, between attempts; undefined: never. */
  readonly recycle: RecycleWorkers | undefined;
  /** How long a force-stop may spend capturing the thread's stack before its terminate (ms); undefined: no capture. */
  readonly stackCaptureMs: number | undefined;
}

/** An attempt's request before the pool gives it a slot and a ticket. */
export type AttemptFields = Omit<AttemptRequest, 'slot' | 'ticket'>;

/** What `run()` hands over instead when the caller's own buffers cannot be posted at once: buffers of our own. */
export type Rescue = () => { readonly request: AttemptFields; readonly transfer: ReadonlyArray<ArrayBuffer | MessagePort> };
