// The worker pool: piscina, plus one shared interrupt flag per dispatch slot, set up once for the pool's life.
import type { MessagePort, ResourceLimits, TransferListItem } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { FLAG_INTERRUPTED, FLAG_RUNNING, isWorkerBootedMessage, type AttemptReply, type AttemptRequest, type WorkerBootData } from './protocol.js';

const entry = new URL('../workers/entry.cjs', import.meta.url).href;

export interface PoolOptions {
  readonly minThreads: number;
  readonly maxThreads: number;
  /** Idle workers kept beyond `maxThreads`, so that an attempt never waits for a replacement to spawn. */
  readonly spareThreads: number;
  readonly resourceLimits: ResourceLimits | undefined;
  /** Messages a worker posts on its own (processor log lines). */
  readonly onMessage: (message: unknown) => void;
  /** Errors of a worker that had no task to fail. */
  readonly onError: (error: unknown) => void;
  /** Processor module URLs every worker imports while it boots. */
  readonly preload: readonly string[];
}

/**
 * Runs attempts on piscina, one per worker at a time. The runtime dispatches at most `maxThreads` attempts at
 * once, each holding a slot: the index of its interrupt flag, which it keeps across its retries.
 */
export class WorkerPool {
  readonly #piscina: Piscina<AttemptRequest, AttemptReply>;
  readonly #flags: Int32Array;
  readonly #freeSlots: number[];

  constructor(options: PoolOptions) {
    const flags = new SharedArrayBuffer(options.maxThreads * Int32Array.BYTES_PER_ELEMENT);
    this.#flags = new Int32Array(flags);
    this.#freeSlots = Array.from({ length: options.maxThreads }, (_, slot) => options.maxThreads - 1 - slot);
    const workerData: WorkerBootData = { flags, preload: options.preload };
    const started = this.#started;
    this.#piscina = new Piscina<AttemptRequest, AttemptReply>({
      // An idle worker that has finished starting, or none (the attempt waits for the next one that has). piscina's
      // own balancer also picks a worker still starting: an attempt there waits for the whole boot, and should it
      // be force-stopped before the boot ends, terminating that worker makes piscina stop replacing dead workers
      // for the rest of the pool's life (it takes the death for a worker that cannot boot).
      loadBalancer: (_task, workers) => {
        for (const worker of workers) {
          if (worker.currentUsage === 0 && started.has(worker.id)) {
            this.#placed = true;
            return worker;
          }
        }
        return null;
      },
      filename: entry,
      minThreads: options.minThreads + options.spareThreads,
      maxThreads: options.maxThreads + options.spareThreads,
      // Workers above minThreads stay a while, so that a burst does not pay a spawn per instance.
      idleTimeout: 30_000,
      concurrentTasksPerWorker: 1,
      recordTiming: false,
      resourceLimits: options.resourceLimits,
      workerData,
    });
    this.#piscina.on('message', (message: unknown) => {
      if (isWorkerBootedMessage(message)) this.#onBooted(message.threadId);
      else options.onMessage(message);
    });
    this.#piscina.on('error', options.onError);
    // piscina emits workerCreate when it marks a worker ready, just before it offers the worker the waiting tasks.
    this.#piscina.on('workerCreate', (worker: { id: number }) => started.add(worker.id));
    this.#piscina.on('workerDestroy', (worker: { id: number }) => {
      started.delete(worker.id);
      this.#booted.delete(worker.id);
    });
    this.#size = options.minThreads + options.spareThreads;
  }

  // Workers piscina has marked ready (those it started with are marked at once, before their boot ends).
  readonly #started = new Set<number>();
  // Workers that have said they booted: their processors are imported.
  readonly #booted = new Set<number>();
  readonly #size: number;
  #whenReady: Array<() => void> = [];
  #destroyed = false;
  // Force-stops not yet passed to piscina: until they are, its thread count still holds the worker to be replaced.
  #abortsDue = 0;
  // Set by the balancer when it gives a task a worker: read right after piscina.run() to know whether it posted.
  #placed = false;

  /** Resolves once the pool holds its full set of workers (minThreads + spares), each booted, its processors imported. */
  ready(): Promise<void> {
    if (this.#destroyed || this.#isReady()) return Promise.resolve();
    return new Promise((resolve) => this.#whenReady.push(resolve));
  }

  #isReady(): boolean {
    if (this.#abortsDue > 0) return false;
    const threads = this.#piscina.threads;
    return threads.length >= this.#size && threads.every((thread) => this.#booted.has(thread.threadId));
  }

  #onBooted(threadId: number): void {
    if (threadId !== 0) this.#booted.add(threadId);
    if (this.#whenReady.length === 0 || !this.#isReady()) return;
    const waiting = this.#whenReady;
    this.#whenReady = [];
    for (const resolve of waiting) resolve();
  }

  /** Whether a slot is free, so that one more attempt may be dispatched now. */
  get hasFreeSlot(): boolean {
    return this.#freeSlots.length > 0;
  }

  /** Takes a free slot, its flag cleared. Call only when `hasFreeSlot`. */
  takeSlot(): number {
    const slot = this.#freeSlots.pop() as number;
    this.rearm(slot);
    return slot;
  }

  releaseSlot(slot: number): void {
    this.#freeSlots.push(slot);
  }

  /** Clears a slot's flag for the next attempt of the instance that holds it. */
  rearm(slot: number): void {
    Atomics.store(this.#flags, slot, FLAG_RUNNING);
  }

  /**
   * Force-stops the attempt of `handle`, one event-loop turn from now, through piscina's abort: piscina then
   * terminates the worker running it (a real `worker.terminate()`) and spawns a replacement, or withdraws it if it
   * is still queued. Not at once: should the attempt's reply already be on its way, piscina reads it first, the
   * worker is free and correct, and the abort does nothing — terminating it behind piscina's back would kill the
   * next instance piscina gives it.
   */
  abortSoon(handle: ForceStopHandle, reason: unknown): void {
    this.#abortsDue++;
    setImmediate(() => {
      handle.abort(reason);
      this.#abortsDue--;
      this.#onBooted(0);
    });
  }

  /** Interrupts the attempt running in `slot`: its hot loop sees the flag now, its signal fires when its loop turns. */
  interrupt(slot: number): void {
    Atomics.store(this.#flags, slot, FLAG_INTERRUPTED);
    Atomics.notify(this.#flags, slot);
  }

  /**
   * Runs one attempt. Aborting `handle` while it runs terminates its worker; piscina then spawns a replacement
   * synchronously, inside `handle.abort()`. `transfer` goes with it. With `rescue`, the transfer list holds the
   * caller's own buffers, which must be gone once the call returns: when no worker takes the attempt at once (one
   * is still booting, others queue before it), the attempt is withdrawn from piscina's queue and what `rescue`
   * gives (the same params over buffers of our own) is queued instead.
   */
  run(request: AttemptRequest, handle: ForceStopHandle, transfer?: ReadonlyArray<ArrayBuffer | MessagePort>, rescue?: () => { request: AttemptRequest; transfer: ReadonlyArray<ArrayBuffer | MessagePort> }): Promise<AttemptReply> {
    if (transfer === undefined) return this.#piscina.run(request, { signal: handle });
    if (rescue === undefined) return this.#piscina.run(request, { signal: handle, transferList: transfer as TransferListItem[] });
    this.#placed = false;
    const first = new ForceStopHandle();
    const running = this.#piscina.run(request, { signal: first, transferList: transfer as TransferListItem[] });
    if (this.#placed) {
      handle.addEventListener('abort', () => first.abort(handle.reason));
      return running;
    }
    running.catch(() => undefined); // withdrawn: piscina rejects it with an AbortError
    first.abort('withdrawn: no worker free at once');
    const again = rescue();
    return this.#piscina.run(again.request, { signal: handle, transferList: again.transfer as TransferListItem[] });
  }

  /** The live worker threads. */
  get threads(): number {
    return this.#piscina.threads.length;
  }

  destroy(): Promise<void> {
    // Nobody waits for a pool that will not be ready again.
    this.#destroyed = true;
    for (const resolve of this.#whenReady.splice(0)) resolve();
    return this.#piscina.destroy();
  }
}

/**
 * The lightest object piscina takes as a task's abort signal (one listener, no EventTarget): aborting it while the
 * task runs terminates the task's worker.
 */
export class ForceStopHandle {
  aborted = false;
  reason: unknown = undefined;
  #listener: (() => void) | undefined;

  addEventListener(_type: 'abort', listener: () => void): void {
    this.#listener = listener;
  }

  removeEventListener(): void {
    this.#listener = undefined;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.();
  }
}
