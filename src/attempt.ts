// The one handle between a tracker and the pool: an attempt of an instance, which the tracker can interrupt, cancel
// or terminate, and whose start, progress, chunks and end it hears of. Dispatch slots, tickets and shared memory stay behind
// it, in the pool; the class here is the pool's record of an attempt, and only the pool reads its fields.
import type { MessagePort } from 'node:worker_threads';
import type { AttemptReply, AttemptRequest, ChunkCargo } from './messages.js';

/** How an attempt ended. */
export type AttemptExit =
  /** Its worker answered (a cancelled attempt's answer is never heard). */
  | { readonly kind: 'reply'; readonly reply: AttemptReply }
  /** Its worker died under it, or it could run nowhere (a `WorkerBootError`: no worker can boot). */
  | { readonly kind: 'died'; readonly error: unknown }
  /**
   * `terminate()` ended it: `exited` is false when its thread had not exited after STUCK_THREAD_MS; `stack` is where
   * the thread was (with `captureStack`, when the capture finished within `stackCaptureMs`).
   */
  | { readonly kind: 'terminated'; readonly exited: boolean; readonly stack: string | undefined };

/** Who hears of an attempt: its tracker. */
export interface AttemptListener {
  /** Its worker has started it: heard only when its request asked to be told (`announce`). */
  attemptStarted(attempt: Attempt): void;
  /** A progress value its processor reported, in order. */
  attemptProgress(attempt: Attempt, value: unknown): void;
  /** A checkpoint its processor made (`ctx.checkpoint`), in order with its progress and lines. */
  attemptCheckpoint(attempt: Attempt, state: unknown): void;
  /** How it ended: heard once, after everything it posted before; never once `cancel()` has returned true. */
  attemptEnded(attempt: Attempt, exit: AttemptExit): void;
  /** A chunk its stream processor yielded, in order with its log lines and progress values. */
  attemptChunk(attempt: Attempt, chunk: ChunkCargo): void;
}

/** An attempt handed to the pool. */
export interface Attempt {
  readonly instanceId: string;
  /** 0 for its instance's first attempt, then the retry count. */
  readonly number: number;
  /** The worker thread it was given to; 0 while it waits for one. */
  readonly threadId: number;
  /** When its worker started it (epoch ms, µs precision); null while it has not, or if it never will. */
  readonly startedAt: number | null;
  /** Its heartbeats so far (a count that only moves: `ctx.heartbeat()`, progress, checkpoints); -1 once it is done. */
  readonly heartbeats: number;
  /** It has ended in its worker, and its reply is on its way (not here yet). */
  readonly ended: boolean;
  /** Sets its interrupt flag: a hot loop sees it now, its signal fires when its event loop turns. */
  interrupt(): void;
  /** Cancels it if its worker has not started it: then it never runs, and its end is never heard. False once started. */
  cancel(): boolean;
  /**
   * Force-stops it: its worker is marked at once (it is given nothing more) and terminated with a real
   * `worker.terminate()` once the caller's turn is over, so that what the caller dispatches next goes to a spare
   * first. Its end is heard as 'terminated' once the thread has exited, or is known stuck. If its reply is here
   * already, held behind the lines it posted before, there is nothing to terminate: that reply is its end, heard now,
   * and `terminate()` returns false.
   */
  terminate(): boolean;
  /** Its caller has consumed `count` more of its stream's chunks: a generator waiting for room goes on. */
  chunksConsumed(count: number): void;
}

/** What the pool does for an attempt's handle. */
export interface AttemptDriver {
  startedAtOf(attempt: PooledAttempt): number | null;
  heartbeatsOf(attempt: PooledAttempt): number;
  hasEnded(attempt: PooledAttempt): boolean;
  interrupt(attempt: PooledAttempt): void;
  cancel(attempt: PooledAttempt): boolean;
  terminate(attempt: PooledAttempt): boolean;
  chunksConsumed(attempt: PooledAttempt, count: number): void;
}

/** Where an attempt is. */
export const Place = Object.freeze({
  /** In the pool's own queue, waiting for an idle worker. */
  WAITING: 0,
  /** Given to a worker. */
  IN_WORKER: 1,
  /** Its end has been heard, or it was cancelled or terminated: nothing more is said of it. */
  DONE: 2,
} as const);
export type Place = (typeof Place)[keyof typeof Place];

/** The pool's record of an attempt, and its handle. */
export class PooledAttempt implements Attempt {
  readonly instanceId: string;
  readonly number: number;
  request: AttemptRequest;
  transfer: ReadonlyArray<ArrayBuffer | MessagePort> | undefined;
  readonly listener: AttemptListener;
  /** Dispatch order: attempts are given to workers by it. */
  readonly order: number;
  readonly slot: number;
  readonly ticket: number;
  place: Place = Place.WAITING;
  /** The current launch (piscina run): a withdrawn launch's result is never heard. */
  launch = 0;
  threadId = 0;
  /** The slot has been given back; `startedAt` is what its stamp said then. */
  slotFreed = false;
  startedAtWhenFreed: number | null = null;
  /** Its end, here and held while the lines it posted before it are taken in. */
  held: AttemptExit | undefined;
  readonly #driver: AttemptDriver;

  constructor(
    driver: AttemptDriver,
    request: AttemptRequest,
    listener: AttemptListener,
    transfer: ReadonlyArray<ArrayBuffer | MessagePort> | undefined,
    order: number,
  ) {
    this.#driver = driver;
    this.request = request;
    this.instanceId = request.instanceId;
    this.number = request.currentRetryTimes ?? 0;
    this.listener = listener;
    this.transfer = transfer;
    this.order = order;
    this.slot = request.slot;
    this.ticket = request.ticket;
  }

  get startedAt(): number | null {
    return this.#driver.startedAtOf(this);
  }

  get heartbeats(): number {
    return this.#driver.heartbeatsOf(this);
  }

  get ended(): boolean {
    return this.#driver.hasEnded(this);
  }

  interrupt(): void {
    this.#driver.interrupt(this);
  }

  cancel(): boolean {
    return this.#driver.cancel(this);
  }

  terminate(): boolean {
    return this.#driver.terminate(this);
  }

  chunksConsumed(count: number): void {
    this.#driver.chunksConsumed(this, count);
  }
}
