// runtime.stream(): the chunks a stream processor yields, as an async iterable, in order, each handed to the loop once,
// with the instance's tracker and outcome beside them. The loop's side of backpressure: each chunk the loop takes is
// counted to the instance's current attempt, whose generator waits in its worker while `highWaterMark` of its chunks
// are not consumed (workers/stream.ts). Leaving the loop stops the instance; an instance that does not succeed makes
// the loop throw its InstanceError once the chunks that reached this thread have been taken.
import { readCargo } from './attempt-fields.js';
import { InstanceError } from './errors.js';
import { DONE, stopIfRunning, type Waiter } from './iteration.js';
import type { ChunkCargo } from './messages.js';
import type { Outcome } from './outcome.js';
import { FifoQueue } from './queue.js';
import type { SubmitRequest } from './request.js';
import { OutcomeStatus } from './status.js';
import { resolveStreamOptions, type StreamOptions } from './stream-options.js';
import { kConsumed } from './symbols.js';
import { messageOf } from './text.js';
import type { Tracker } from './tracker.js';
import type { ChunkSink } from './tracker-host.js';

/** How a stream submits its instance: the runtime's submit, its chunks going to `sink`. */
export type StreamSubmit = (request: SubmitRequest, sink: ChunkSink) => Tracker;

/**
 * What `runtime.stream()` returns: an async iterable (and its own iterator) of the chunks the instance's generator
 * yields (`C`), with its `tracker` and its outcome (`done`, whose `value` is the generator's return value, `V`).
 * `G` is the type of its progress, `S` of its checkpoints.
 */
export class StreamResults<C, V = unknown, G = unknown, S = unknown> implements AsyncIterableIterator<C, undefined, undefined> {
  /** The instance's tracker: `stop()`, `taskStatus`, `progress`, `checkpoint`, `runningStatus()`. */
  readonly tracker: Tracker<V, G, S>;
  /** The instance's outcome, once decided (its `value` is the generator's return value); never rejects. */
  readonly done: Promise<Outcome<V, S>>;
  /** Chunks here, not yet taken by the loop. */
  readonly #chunks = new FifoQueue<ChunkCargo>();
  /** next() calls waiting for a chunk (there is none here while one waits). */
  readonly #waiters: Array<Waiter<C>> = [];
  #outcome: Outcome<V> | undefined;
  /** The loop has left, or the iteration has ended: nothing more is yielded, and nothing thrown. */
  #closed = false;

  /** stream(): checks the options and submits the instance; throws what the submit throws. */
  constructor(processor: string, jobParams: unknown, options: StreamOptions<S> | undefined, submit: StreamSubmit) {
    const { highWaterMark, request } = resolveStreamOptions(options);
    const sink: ChunkSink = { highWaterMark, chunk: (cargo) => this.#onChunk(cargo), held: () => this.#chunks.size >= highWaterMark };
    this.tracker = submit(request === undefined ? { processor, jobParams } : { ...request, processor, jobParams }, sink) as Tracker<V, G, S>;
    this.done = this.tracker.done;
    void this.done.then((outcome) => this.#onEnd(outcome));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<C, undefined>> {
    if (this.#waiters.length === 0) {
      const cargo = this.#chunks.shift();
      if (cargo !== undefined) {
        try {
          return Promise.resolve(this.#hand(cargo));
        } catch (error) {
          return Promise.reject(error);
        }
      }
    }
    if (this.#closed) return Promise.resolve(DONE);
    if (this.#outcome !== undefined) return this.#end(this.#outcome);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * Leaves the stream (a `break` out of `for await` calls it): the chunks not taken are dropped, the instance is
   * stopped (`STOPPED`, `stoppedBy: 'stop'`, through its interrupt, grace and force-stop) unless it has ended, and
   * this resolves once it has.
   */
  async return(): Promise<IteratorResult<C, undefined>> {
    this.#close();
    await this.done;
    return DONE;
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#chunks.clear();
    for (const waiter of this.#waiters.splice(0)) waiter.resolve(DONE);
    if (this.#outcome === undefined) stopIfRunning(this.tracker);
  }

  // A chunk of the instance's current attempt, in order.
  #onChunk(cargo: ChunkCargo): void {
    if (this.#closed) return; // the loop has left: dropped, its moved buffers let go
    const waiter = this.#waiters.shift();
    if (waiter === undefined) {
      this.#chunks.push(cargo);
      return;
    }
    try {
      waiter.resolve(this.#hand(cargo));
    } catch (error) {
      waiter.reject(error);
    }
  }

  /** A chunk handed to the loop: counted as consumed (its generator may go on), and read back. */
  #hand(cargo: ChunkCargo): IteratorYieldResult<C> {
    this.tracker[kConsumed](1);
    try {
      return { done: false, value: readCargo(cargo) as C };
    } catch (cause) {
      // Written by the worker's own codec, it should always read back: should it not, the stream cannot go on.
      this.#close();
      throw new TypeError(`runtime.stream(): a chunk of instance "${this.tracker.instanceId}" cannot be read: ${messageOf(cause)}`, { cause });
    }
  }

  // Every chunk its attempts posted is here before its end: a next() still waiting has none left to take.
  #onEnd(outcome: Outcome<V>): void {
    this.#outcome = outcome;
    for (const waiter of this.#waiters.splice(0)) void this.#end(outcome).then(waiter.resolve, waiter.reject);
  }

  /** What the iteration gives once the chunks are taken and the instance has ended: its InstanceError once, then the end. */
  #end(outcome: Outcome<V>): Promise<IteratorResult<C, undefined>> {
    if (this.#closed) return Promise.resolve(DONE);
    this.#closed = true;
    if (outcome.status === OutcomeStatus.SUCCEED) return Promise.resolve(DONE);
    return Promise.reject(new InstanceError(this.tracker.instanceId, outcome));
  }
}
