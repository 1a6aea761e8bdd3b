// runtime.map(): one processor over the items of an iterable, pulled as room comes, at most `concurrency` instances
// at once, their values yielded in order or as they come; the first failure (or a break, an abort) stops the rest.
// Built on the runtime's public API only: submit(), a tracker's done, stop() and runningStatus().
import { AdmissionLimitError, MapInstanceError, MapItemRefusedError, RuntimeClosedError, TaskTrackerError, describeValue } from './errors.js';
import { DONE, stopIfRunning, type Waiter } from './iteration.js';
import { MapBuffer } from './map-buffer.js';
import { iterationOf, resolveMapOptions, type MapOptions } from './map-options.js';
import type { MapItems, MapProgress, MapRuntime } from './map-types.js';
import type { Outcome } from './outcome.js';
import { OutcomeStatus } from './status.js';
import type { Tracker } from './tracker.js';

/** Items held per unit of concurrency: running, or ended and waiting for their turn to be yielded. */
const HELD_PER_SLOT = 2;
/** The pauses between tries of an item the admission limit refused: doubling from the first to the last. */
const ADMISSION_RETRY_FIRST_MS = 1;
const ADMISSION_RETRY_MAX_MS = 32;

const Phase = { IDLE: 0, RUNNING: 1, ENDING: 2, ENDED: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** Why the map is ending with an error: what the iteration throws. */
type Failure = { readonly error: unknown };

/**
 * The results of `runtime.map()`: an async iterable (and its own iterator) of the items' values, or of their
 * `MapSettled` records with `settle: true`. Nothing is pulled before the first `next()`.
 */
export class MapResults<T> implements AsyncIterableIterator<T, undefined, undefined> {
  readonly #runtime: MapRuntime;
  readonly #processor: string;
  readonly #items: object;
  readonly #open: () => unknown; // the items' [Symbol.asyncIterator] or [Symbol.iterator]
  readonly #async: boolean;
  readonly #request: Readonly<Record<string, unknown>> | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #concurrency: number;
  readonly #window: number; // items held at most: pulled and not yet yielded
  readonly #settle: boolean;

  #phase: Phase = Phase.IDLE;
  #iterator: Iterator<unknown> | AsyncIterator<unknown> | undefined;
  #sourceDone = false; // no more items are taken: the iterable is exhausted, has thrown, or is closed
  #pulling = false; // an async iterable's next() is pending
  #closing = false; // the iterable's return() is pending: the map ends once it settles
  #pulled = 0;
  #inFlight = 0;
  #succeeded = 0;
  #failed = 0;
  #stopped = 0;
  readonly #trackers = new Set<Tracker>();
  readonly #results: MapBuffer<T>; // waiting for the loop
  readonly #waiters: Array<Waiter<T>> = [];
  readonly #returnWaiters: Array<Waiter<T>> = [];
  /** An item the admission limit refused, tried again when room may have come. */
  #held: { readonly index: number; readonly item: unknown } | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelay = ADMISSION_RETRY_FIRST_MS;
  #failure: Failure | undefined; // the error the iteration throws, once
  #closeFailure: Failure | undefined; // what the iterable's return() threw on a break: what return() rejects with

  /** map(): checks its arguments; throws an `InvalidRequestError` naming the one that is wrong. */
  constructor(runtime: MapRuntime, processor: string, items: MapItems<unknown>, options: MapOptions | undefined) {
    const resolved = resolveMapOptions(options);
    const { open, async } = iterationOf(items);
    this.#runtime = runtime;
    this.#processor = processor;
    this.#items = items as object;
    this.#open = open;
    this.#async = async;
    this.#request = resolved.request;
    this.#signal = resolved.signal;
    this.#concurrency = resolved.concurrency ?? runtime.maxThreads;
    this.#window = this.#concurrency * HELD_PER_SLOT;
    this.#settle = resolved.settle;
    this.#results = new MapBuffer<T>(resolved.ordered, this.#window);
  }

  /** A snapshot of the map's counts, made afresh. */
  get progress(): MapProgress {
    return { pulled: this.#pulled, inFlight: this.#inFlight, succeeded: this.#succeeded, failed: this.#failed, stopped: this.#stopped, yielded: this.#results.taken };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#phase === Phase.IDLE) this.#start();
    if (this.#waiters.length === 0) {
      const result = this.#results.take();
      if (result !== undefined) {
        this.#fill();
        return Promise.resolve(result);
      }
    }
    if (this.#phase === Phase.ENDED) return this.#endResult();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * Ends the map early (a `break` out of `for await` calls it): stops the instances in flight, closes the iterable,
   * and resolves once every instance has ended and the iterable's `return()` has settled (rejecting with what it
   * threw, as a `for … of` loop does).
   */
  return(): Promise<IteratorResult<T, undefined>> {
    if (this.#phase === Phase.IDLE) this.#phase = Phase.ENDED;
    if (this.#phase === Phase.RUNNING) this.#end(true, undefined);
    // The loop has left: an error still to be thrown has no one to reach.
    this.#failure = undefined;
    if (this.#phase === Phase.ENDED) return this.#closeResult();
    return new Promise((resolve, reject) => this.#returnWaiters.push({ resolve, reject }));
  }

  #start(): void {
    this.#phase = Phase.RUNNING;
    const signal = this.#signal;
    if (signal?.aborted === true) {
      this.#end(false, { error: signal.reason });
      return;
    }
    let iterator: unknown;
    try {
      iterator = this.#open.call(this.#items);
    } catch (error) {
      this.#sourceDone = true;
      this.#end(false, { error });
      return;
    }
    if (typeof iterator !== 'object' || iterator === null) {
      this.#sourceDone = true;
      this.#end(false, { error: new TypeError(`map(): the items' iterator is not an object, got ${describeValue(iterator)}`) });
      return;
    }
    this.#iterator = iterator as Iterator<unknown> | AsyncIterator<unknown>;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#fill();
  }

  /** Pulls and submits items while there is room, then sees whether the map is complete. */
  #fill(): void {
    while (
      this.#phase === Phase.RUNNING &&
      !this.#sourceDone &&
      !this.#pulling &&
      this.#held === undefined &&
      this.#inFlight < this.#concurrency &&
      this.#pulled - this.#results.taken < this.#window
    ) {
      if (this.#async) {
        this.#pullAsync();
        return;
      }
      let step: IteratorResult<unknown>;
      try {
        step = (this.#iterator as Iterator<unknown>).next();
        if (typeof step !== 'object' || step === null) throw new TypeError(`map(): the items' iterator result is not an object, got ${describeValue(step)}`);
      } catch (error) {
        this.#sourceFailed(error);
        return;
      }
      if (step.done === true) {
        this.#sourceDone = true;
        break;
      }
      this.#submit(this.#pulled++, step.value);
    }
    // Complete: every item taken has been yielded, and there are no more.
    if (this.#phase === Phase.RUNNING && this.#sourceDone && this.#pulled === this.#results.taken) {
      this.#phase = Phase.ENDED;
      this.#cleanUp();
      this.#settleWaiters();
    }
  }

  #pullAsync(): void {
    this.#pulling = true;
    let step: Promise<IteratorResult<unknown>>;
    try {
      step = Promise.resolve((this.#iterator as AsyncIterator<unknown>).next());
    } catch (error) {
      this.#pulling = false;
      this.#sourceFailed(error);
      return;
    }
    step.then(this.#onPulled, this.#onPullFailed);
  }

  readonly #onPulled = (step: IteratorResult<unknown>): void => {
    this.#pulling = false;
    if (typeof step !== 'object' || step === null) {
      this.#onPullFailed(new TypeError(`map(): the items' iterator result is not an object, got ${describeValue(step)}`));
      return;
    }
    if (this.#phase !== Phase.RUNNING) {
      // Ended while the pull was pending: the iterable is closed now, and the end does not wait for it.
      if (step.done !== true) void this.#closeSource(true);
      return;
    }
    if (step.done === true) this.#sourceDone = true;
    else this.#submit(this.#pulled++, step.value);
    this.#fill();
  };

  readonly #onPullFailed = (error: unknown): void => {
    this.#pulling = false;
    if (this.#phase === Phase.RUNNING) this.#sourceFailed(error);
  };

  /** The iterable threw: the map ends with its error (and does not call its return()). */
  #sourceFailed(error: unknown): void {
    this.#sourceDone = true;
    this.#end(true, { error });
  }

  #submit(index: number, item: unknown): void {
    const shared = this.#request;
    const request = shared === undefined ? { processor: this.#processor, jobParams: item } : { ...shared, processor: this.#processor, jobParams: item };
    let tracker: Tracker;
    try {
      tracker = this.#runtime.submit(request);
    } catch (error) {
      this.#refused(index, item, error);
      return;
    }
    this.#inFlight++;
    this.#trackers.add(tracker);
    void tracker.done.then((outcome) => this.#onOutcome(index, tracker, outcome));
  }

  /**
   * A submit refused the item. The admission limit: the item waits for room. Its params: the item fails. Anything
   * else (the processor's name, the options, a closed runtime) would refuse every item alike: the map ends with it.
   */
  #refused(index: number, item: unknown, error: unknown): void {
    if (error instanceof AdmissionLimitError) {
      this.#held = { index, item };
      this.#retryTimer ??= setTimeout(this.#retryHeld, this.#retryDelay);
      this.#retryDelay = Math.min(this.#retryDelay * 2, ADMISSION_RETRY_MAX_MS);
      return;
    }
    if (!isParamsRefusal(error)) {
      // close() stops the instances itself.
      this.#end(!(error instanceof RuntimeClosedError), { error });
      return;
    }
    this.#failed++;
    if (!this.#settle) {
      this.#end(true, { error: new MapItemRefusedError(index, error) });
      return;
    }
    this.#results.store(index, { index, refusal: error } as T);
    this.#deliver();
  }

  readonly #retryHeld = (): void => {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const held = this.#held;
    if (held === undefined || this.#phase !== Phase.RUNNING) return;
    this.#held = undefined;
    this.#submit(held.index, held.item);
    if (this.#held === undefined) this.#retryDelay = ADMISSION_RETRY_FIRST_MS;
    this.#fill();
  };

  #onOutcome(index: number, tracker: Tracker, outcome: Outcome): void {
    this.#inFlight--;
    this.#trackers.delete(tracker);
    const succeeded = outcome.status === OutcomeStatus.SUCCEED;
    if (succeeded) this.#succeeded++;
    else if (outcome.status === OutcomeStatus.STOPPED) this.#stopped++;
    else this.#failed++;
    if (this.#phase !== Phase.RUNNING) {
      this.#endIfSettled();
      return;
    }
    if (!succeeded && !this.#settle) {
      // close() stops the others itself.
      this.#end(outcome.stoppedBy !== 'close', { error: new MapInstanceError(index, tracker.instanceId, outcome) });
      return;
    }
    this.#results.store(index, (this.#settle ? { index, outcome } : outcome.value) as T);
    this.#deliver();
    if (this.#held !== undefined) this.#retryHeld();
    else this.#fill();
  }

  /** Hands results to the loop's pending next() calls. */
  #deliver(): void {
    while (this.#waiters.length > 0) {
      const result = this.#results.take();
      if (result === undefined) return;
      (this.#waiters.shift() as Waiter<T>).resolve(result);
    }
  }

  readonly #onAbort = (): void => {
    // The signal stops the instances itself: each was given it.
    if (this.#phase === Phase.RUNNING) this.#end(false, { error: this.#signal?.reason });
  };

  /**
   * Ends the map early: with `failure` for the iteration to throw, or none (a break). Nothing more is taken or
   * yielded; the instances in flight are stopped when `stop`, and the map has ended once every one of them has.
   */
  #end(stop: boolean, failure: Failure | undefined): void {
    if (this.#phase !== Phase.RUNNING) return;
    this.#phase = Phase.ENDING;
    this.#failure = failure;
    this.#cleanUp();
    this.#results.clear();
    if (stop) for (const tracker of this.#trackers) stopIfRunning(tracker);
    if (!this.#sourceDone && !this.#pulling) {
      const closing = this.#closeSource(failure !== undefined);
      if (closing !== undefined) {
        this.#closing = true;
        void closing.then(() => {
          this.#closing = false;
          this.#endIfSettled();
        });
      }
    }
    this.#sourceDone = true;
    this.#endIfSettled();
  }

  /**
   * Calls the iterable's return(), as a `for … of` loop does when it is left early; what it throws is kept for
   * return() when `quiet` is false (a break), else dropped (the map ends with another error, or no one waits).
   * Returns a promise, never rejecting, when return() gave one.
   */
  #closeSource(quiet: boolean): Promise<void> | undefined {
    const keep = (error: unknown): void => {
      if (!quiet) this.#closeFailure = { error };
    };
    const iterator = this.#iterator;
    if (iterator === undefined) return undefined;
    let closed: unknown;
    try {
      closed = iterator.return?.();
    } catch (error) {
      keep(error);
      return undefined;
    }
    if (!this.#async) return undefined;
    return Promise.resolve(closed).then(() => undefined, keep);
  }

  #endIfSettled(): void {
    if (this.#phase !== Phase.ENDING || this.#inFlight > 0 || this.#closing) return;
    this.#phase = Phase.ENDED;
    this.#settleWaiters();
    const returns = this.#returnWaiters.splice(0);
    for (const waiter of returns) void this.#closeResult().then(waiter.resolve, waiter.reject);
  }

  #cleanUp(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#held = undefined;
  }

  /** The map has ended: its pending next() calls get the error (the first of them), or the end. */
  #settleWaiters(): void {
    const waiters = this.#waiters.splice(0);
    for (const waiter of waiters) void this.#endResult().then(waiter.resolve, waiter.reject);
  }

  /** What next() gives once the map has ended: its error, once, then the end. */
  #endResult(): Promise<IteratorResult<T, undefined>> {
    const failure = this.#failure;
    if (failure === undefined) return Promise.resolve(DONE);
    this.#failure = undefined;
    return Promise.reject(failure.error);
  }

  /** What return() gives once the map has ended: what the iterable's return() threw, once, then the end. */
  #closeResult(): Promise<IteratorResult<T, undefined>> {
    const failure = this.#closeFailure;
    if (failure === undefined) return Promise.resolve(DONE);
    this.#closeFailure = undefined;
    return Promise.reject(failure.error);
  }
}

/** A refusal of the item's own params, which another item's params may pass. */
function isParamsRefusal(error: unknown): error is TaskTrackerError {
  return error instanceof TaskTrackerError && (error as { readonly field?: unknown }).field === 'jobParams';
}
