// The pool's worker threads as piscina runs them: which have booted (said so, their processors imported), which are
// doomed (being terminated: given nothing more), which are stuck (terminated and not exited), when the pool is ready,
// and when it is broken (no worker can boot). Also the terminate of one thread, bounded by STUCK_THREAD_MS.
import type { Worker } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type { Logger } from 'pino';
import { channels, type WorkerMessage } from './channels.js';
import { epochNow } from './clock.js';
import { WorkerBootError } from './errors.js';

/**
 * How long a force-stopped thread has to exit before it is taken for stuck (ms): a thread blocked in a system call
 * (a read of a pipe no one writes to, `execSync`) or in native code (a long `pbkdf2Sync`) runs on until that call
 * returns, whatever terminate() asks. A thread that spins in JavaScript exits within milliseconds.
 */
export const STUCK_THREAD_MS = 1000;

/**
 * How long the first attempt runs alone, at most, before the rest of the pool's workers start (ms): their boots would
 * take the CPU it runs on. They start as soon as it ends.
 */
const FIRST_ATTEMPT_HEAD_START_MS = 100;

/** The task that makes piscina start a worker (see ThreadWatch.#spawn): the balancer gives it no worker. */
const SPAWN_TASK = Object.freeze({});

/** The exit code piscina is told of for a thread the pool lets go of while it is stuck. */
const STUCK_EXIT_CODE = -1;

export interface ThreadEvents {
  /** A worker has booted, a retirement was carried out, or the first attempt's head start is over: attempts may be handed on (or make the pool grow). */
  onBooted(): void;
  /** No worker can boot. */
  onBroken(error: WorkerBootError): void;
  /** Workers have left the pool: `alive` holds the threadIds of those still in it. */
  onGone(alive: ReadonlySet<number>): void;
}

export class ThreadWatch {
  /** Workers being terminated (threadIds): piscina's balancer is given none of them, and they count for nothing. */
  readonly doomed = new Set<number>();
  /** Force-stopped threads that have not exited (STUCK_THREAD_MS after their terminate). */
  readonly stuck = new Set<number>();
  /** The last error a worker died of: a worker that dies as it boots may be telling why. */
  lastError: unknown;
  broken: WorkerBootError | undefined;
  destroyed = false;
  /** Worker threads started since the pool was made. */
  started = 0;
  readonly #piscina: Piscina;
  readonly #size: number;
  readonly #maxTotal: number;
  readonly #logger: Logger;
  readonly #events: ThreadEvents;
  // Workers that have said they booted (threadIds), and the Worker objects (an exited one has no threadId).
  readonly #booted = new Set<number>();
  readonly #bootedWorkers = new Set<Worker>();
  // Departures that a booted worker's exit accounts for.
  #departuresExplained = 0;
  // Retirements not yet carried out: until they are, piscina's thread count still holds the worker to be replaced.
  #retirementsDue = 0;
  // Workers piscina has marked ready (threadIds): their exits are published.
  readonly #startedIds = new Set<number>();
  // Whether a worker has booted yet: until one has, the pool holds one worker only, so that the first boots alone.
  #anyBooted = false;
  /** From the first boot until the rest of the full set is started (startRest()): the first attempt runs alone. */
  restDue = false;
  #headStart: NodeJS.Timeout | undefined;
  #whenReady: Array<{ resolve: () => void; reject: (error: WorkerBootError) => void }> = [];

  constructor(piscina: Piscina, size: number, maxTotal: number, logger: Logger, events: ThreadEvents) {
    this.#piscina = piscina;
    this.#size = size;
    this.#maxTotal = maxTotal;
    this.#logger = logger;
    this.#events = events;
    // piscina emits it when it marks a worker ready: it offers the worker to its balancer from then on (a contract
    // test pins it). Its first workers are marked at once, before they boot; later ones once they have.
    piscina.on('workerCreate', (worker: { id: number }) => {
      this.started++;
      this.#startedIds.add(worker.id);
      queueMicrotask(() => {
        this.#checkReady();
        this.#events.onBooted();
      });
      if (channels.workerStart.hasSubscribers) channels.workerStart.publish({ threadId: worker.id, time: epochNow() } satisfies WorkerMessage);
    });
    // piscina emits it before it lets go of the worker, and before it fails the worker's task with the cause: who is
    // gone, and why, is known on the next turn. An exited worker no longer has its threadId (-1): what is known of
    // the workers is checked against those still alive.
    // A worker piscina lets go of while its thread still runs (an error, an idle timeout) is given nothing more at once
    // (it still has its threadId then; one that has exited is known gone from its 'exit', see booted()).
    piscina.on('workerDestroy', (worker: { id: number }) => {
      if (worker.id > 0) this.#booted.delete(worker.id);
      setImmediate(() => this.#onGone());
    });
  }

  /** Whether worker `id` can be given an attempt: it has booted, and piscina has marked it ready (its balancer is offered it). */
  isBooted(id: number): boolean {
    return this.#booted.has(id) && this.#startedIds.has(id);
  }

  bootedIds(): Iterable<number> {
    return this.#booted;
  }

  /** Whether the pool may hold more workers than its full set (minThreads + spares below maxThreads + spares). */
  get canExceed(): boolean {
    return this.#maxTotal > this.#size;
  }

  /** Workers beyond the pool's full set, not counting those being terminated. */
  excess(): number {
    return this.#staying() - this.#size;
  }

  /** The pool's workers not being terminated. */
  #staying(): number {
    let staying = 0;
    for (const thread of this.#piscina.threads) if (!this.doomed.has(thread.threadId)) staying++;
    return staying;
  }

  /**
   * Starts workers until `wanted` are booting, within maxThreads + spares: attempts wait that no idle worker can take.
   * None while the pool's first worker boots, nor while its first attempt has its head start (startRest() ends it),
   * nor once the pool is broken or destroyed.
   */
  grow(wanted: number): void {
    if (this.restDue || (!this.#anyBooted && this.#piscina.threads.length > 0)) return;
    // Coming: every worker not yet given attempts, one that has said it booted before piscina marked it ready included.
    let booting = 0;
    for (const worker of this.#piscina.threads) if (!this.isBooted(worker.threadId) && !this.doomed.has(worker.threadId)) booting++;
    for (; booting < wanted && this.#piscina.threads.length < this.#maxTotal && this.broken === undefined && !this.destroyed; booting++) {
      if (!this.#spawn()) return;
    }
  }

  /** Worker `threadId` says it has booted. */
  booted(threadId: number): void {
    const worker = this.#piscina.threads.find((thread) => thread.threadId === threadId);
    if (worker === undefined) return; // gone already
    this.#booted.add(threadId);
    this.#bootedWorkers.add(worker);
    // A worker that has died is given nothing more from its exit on (piscina, which heard it first, has let go of
    // it): a hand-over named to it would be left in piscina's queue.
    worker.once('exit', () => this.#booted.delete(threadId));
    if (!this.#anyBooted) {
      this.#anyBooted = this.restDue = true;
      this.#headStart = setTimeout(() => this.startRest(), FIRST_ATTEMPT_HEAD_START_MS).unref();
    }
    this.#checkReady();
    this.#events.onBooted();
  }

  /** Starts the rest of the full set, once: the first attempt has ended, or has had its head start, or none came. */
  startRest(): void {
    if (!this.restDue) return;
    this.restDue = false;
    clearTimeout(this.#headStart);
    this.topUp();
    this.#events.onBooted(); // what waits may now make the pool grow beyond its full set
  }

  /**
   * Starts workers until the pool holds its full set (minThreads + spares): piscina is told to keep one only, so that
   * the first worker boots, and the first attempt runs, with the machine to itself; the rest follow (startRest()), and
   * a worker that leaves is replaced here too, from the moment it is doomed: its replacement boots while it is being
   * terminated (piscina's maxThreads leaves room for that). Nothing before the first attempt, nor once the pool is
   * broken or destroyed.
   */
  topUp(): void {
    if (!this.#anyBooted || this.restDue) return;
    for (let staying = this.#staying(); staying < this.#size && this.broken === undefined && !this.destroyed; staying++) {
      if (!this.#spawn()) return;
    }
  }

  /**
   * Makes piscina start a worker, through run(): a task the balancer turns away (it carries no attempt) makes piscina
   * start one below maxThreads, and its abort, at once, takes the task back while the worker boots on (a contract
   * test pins both). False when piscina started none.
   */
  #spawn(): boolean {
    const before = this.#piscina.threads.length;
    const controller = new AbortController();
    this.#piscina.run(SPAWN_TASK, { signal: controller.signal }).catch(() => undefined);
    controller.abort();
    return this.#piscina.threads.length > before;
  }

  /**
   * Resolves once the pool holds its full set of workers, each booted and marked ready by piscina. Rejects with a
   * `WorkerBootError` once no worker can boot; resolves at once after destroy().
   */
  ready(): Promise<void> {
    if (this.broken !== undefined) return Promise.reject(this.broken);
    if (this.destroyed || this.#isReady()) return Promise.resolve();
    return new Promise((resolve, reject) => this.#whenReady.push({ resolve, reject }));
  }

  #isReady(): boolean {
    if (this.#retirementsDue > 0 || this.doomed.size > 0) return false;
    const threads = this.#piscina.threads;
    return threads.length >= this.#size && threads.every((thread) => this.isBooted(thread.threadId));
  }

  #checkReady(): void {
    if (this.#whenReady.length === 0 || !this.#isReady()) return;
    for (const { resolve } of this.#whenReady.splice(0)) resolve();
  }

  /** Retires worker `id`, idle now: marked at once, and terminated on the next turn (not inside piscina's handler). */
  retire(id: number): void {
    this.doomed.add(id);
    this.#retirementsDue++;
    setImmediate(() => {
      this.#retirementsDue--;
      void terminateThread(this, id);
      this.topUp();
      this.#events.onBooted();
      this.#checkReady();
    });
  }

  /**
   * A worker has left the pool. Each one that had booted accounts for one departure; a departure none accounts for is
   * a worker that died while it booted, and piscina replaces no worker after that: the pool is broken.
   */
  #onGone(): void {
    const threads = this.#piscina.threads;
    const alive = new Set(threads.map((thread) => thread.threadId));
    if (channels.workerExit.hasSubscribers) {
      for (const id of this.#startedIds) if (!alive.has(id)) channels.workerExit.publish({ threadId: id, time: epochNow() } satisfies WorkerMessage);
    }
    for (const known of [this.#startedIds, this.#booted, this.doomed]) for (const id of known) if (!alive.has(id)) known.delete(id);
    if (!this.destroyed && this.broken === undefined) {
      const objects = new Set<Worker>(threads);
      for (const worker of this.#bootedWorkers) {
        if (objects.has(worker)) continue;
        this.#bootedWorkers.delete(worker);
        this.#departuresExplained++;
      }
      if (this.#departuresExplained > 0) this.#departuresExplained--;
      else {
        const cause = this.lastError;
        const text = `no worker can start: a worker died while it booted${cause === undefined ? '' : `: ${describeDeath(cause)}`}`;
        this.#events.onBroken(new WorkerBootError(text, cause === undefined ? undefined : { cause }));
      }
    }
    this.topUp();
    this.#events.onGone(alive);
    this.#checkReady();
  }

  /** Marks the pool broken, once: `ready()` rejects. False when it was already (or is destroyed). */
  break(error: WorkerBootError): boolean {
    if (this.broken !== undefined || this.destroyed) return false;
    this.broken = error;
    this.#logger.error({ err: error }, 'no worker can boot: every instance fails with WORKER_BOOT_FAILED');
    for (const { reject } of this.#whenReady.splice(0)) reject(error);
    return true;
  }

  /** The live Worker of thread `id`, if any. */
  workerOf(id: number): Worker | undefined {
    return id === 0 ? undefined : this.#piscina.threads.find((thread) => thread.threadId === id);
  }

  get logger(): Logger {
    return this.#logger;
  }

  destroy(): Promise<void> {
    // Nobody waits for a pool that will not be ready again.
    this.destroyed = true;
    clearTimeout(this.#headStart);
    for (const { resolve } of this.#whenReady.splice(0)) resolve();
    // piscina terminates every worker and waits for each one's exit. On Node 22 and 24 a termination that lands
    // while a booting worker evaluates a CommonJS module its processors import (the OpenTelemetry SDK, say) can be
    // lost: Node's loader catches it there, the importing module goes on with the CommonJS bindings undefined, and
    // the error it then throws takes the termination's place. The import merely fails, the boot carries on, and
    // piscina parks the worker in a synchronous Atomics.wait, where the stop Node left queued on its event loop never
    // runs: it would never exit, and destroy() never settle. Such a worker always speaks before it parks (its
    // booted message, piscina's ready): a worker that speaks after its termination is terminated again, which wakes
    // it from the wait and stops it.
    for (const worker of this.#piscina.threads) worker.on('message', () => void worker.terminate());
    return this.#piscina.destroy();
  }
}

/**
 * Terminates worker `id` now (a real `worker.terminate()`). Resolves true once its thread has exited; false when it
 * has not after STUCK_THREAD_MS: a thread blocked in a system call or in native code runs until that call returns,
 * whatever terminate() asks. Such a thread is counted as stuck and the pool lets go of it: piscina is told it has
 * exited, so that it takes it out of the pool (which then no longer waits for it, in `ready()` or `destroy()`) and
 * starts a replacement as it needs one. Should it exit later, that is logged.
 */
export function terminateThread(watch: ThreadWatch, id: number): Promise<boolean> {
  const worker = watch.workerOf(id);
  if (worker === undefined) return Promise.resolve(true);
  watch.doomed.add(id);
  return new Promise((resolve) => {
    let stuck = false;
    const timer = setTimeout(() => {
      stuck = true;
      watch.stuck.add(id);
      watch.logger.error(
        { threadId: id, waitedMs: STUCK_THREAD_MS },
        'a terminated thread has not exited: it is blocked in a system call or in native code, which terminate() cannot cut short; the pool lets go of it',
      );
      resolve(false);
      // piscina takes a worker out of its pool on the worker's 'exit' event (a contract test pins it); the thread's
      // own exit, should it come, is the next one.
      worker.emit('exit', STUCK_EXIT_CODE);
      worker.once('exit', () => {
        watch.stuck.delete(id);
        watch.logger.warn({ threadId: id }, 'a stuck thread has exited at last');
      });
    }, STUCK_THREAD_MS);
    // A termination Node 22 and 24 lose in a CommonJS module's evaluation (see destroy()) is asked again when the
    // worker speaks.
    const again = (): void => void worker.terminate();
    worker.on('message', again);
    void worker.terminate().then(() => {
      worker.off('message', again);
      if (stuck) return;
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** "Name: message" of a worker's death, without the [code] Node's own errors add to their text. */
export function describeDeath(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
