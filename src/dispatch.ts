// How the pool's attempts reach piscina's workers: they wait in the pool's own queue, in dispatch order, and one is
// handed to piscina when a worker is known idle, that worker named to piscina's balancer. While none is idle, the pool
// has piscina start workers for them (ThreadWatch.grow), and they wait here until those have booted: nothing is ever
// left in piscina's queue, where each answer would make piscina start another worker, up to its cap.
import type { TransferListItem } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Place, type PooledAttempt } from './attempt.js';
import type { AttemptReply, AttemptRequest } from './messages.js';
import { ReleasingMap } from './releasing-map.js';
import type { ThreadWatch } from './threads.js';

/** How long a worker above the pool's full set (minThreads + spares) stays idle before it is retired (ms). */
export const IDLE_TIMEOUT_MS = 30_000;

/** What the dispatcher tells the pool. */
export interface DispatchEvents {
  /** Whether worker `id` is due for retirement: it is given nothing more. */
  isDue(id: number): boolean;
  /** An attempt was given to worker `id`. */
  onAssign(id: number): void;
  /** The launch numbered `launch` of `attempt` answered, or failed (its worker died, or piscina refused it). */
  onReply(attempt: PooledAttempt, reply: AttemptReply): void;
  onFailed(attempt: PooledAttempt, error: unknown, launch: number): void;
}

/** piscina's `loadBalancer` option (its type is not exported by name). */
type LoadBalancer = NonNullable<NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']>;

/** Our attempt rides on a task's queue options (a symbol key: never copied to the worker); piscina gives null for a task without. */
const attemptOf = (task: object): PooledAttempt | null | undefined => (task as Record<symbol, unknown>)[Piscina.queueOptionsSymbol] as PooledAttempt | null | undefined;

/** Takes the attempt off a request whose launch has settled (a relaunch puts it back). */
const release = (request: AttemptRequest): void => {
  (request as unknown as Record<symbol, PooledAttempt | undefined>)[Piscina.queueOptionsSymbol] = undefined;
};

export class Dispatcher {
  readonly #threads: ThreadWatch;
  readonly #maxThreads: number;
  readonly #events: DispatchEvents;
  #piscina: Piscina<AttemptRequest, AttemptReply> | undefined;
  // Attempts waiting for a worker, in dispatch order.
  readonly #waiting: PooledAttempt[] = [];
  /** The attempt each worker runs (threadId → attempt), from its hand-over until its launch settles. */
  readonly busy = new ReleasingMap<number, PooledAttempt>();
  // The worker the attempt being handed over goes to, named to piscina's balancer; 0: any idle one.
  #handingTo = 0;
  // While the pool holds more than its full set: the timer that retires workers idle too long, and when each worker last
  // went idle (threadId → performance.now()). Nothing of it runs otherwise.
  readonly #idleSince = new Map<number, number>();
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(threads: ThreadWatch, maxThreads: number, events: DispatchEvents) {
    this.#threads = threads;
    this.#maxThreads = maxThreads;
    this.#events = events;
  }

  attach(piscina: Piscina<AttemptRequest, AttemptReply>): void {
    this.#piscina = piscina;
  }

  /**
   * piscina's `loadBalancer`: the worker the dispatcher names, or else (an attempt piscina offers from its own queue,
   * which none is put in) an idle one that has booted, while fewer than maxThreads work. piscina's own would also pick
   * a worker still booting.
   */
  readonly balancer: LoadBalancer = (task, workers) => {
    const attempt = attemptOf(task);
    // A task with no attempt only makes piscina start a worker (ThreadWatch.topUp): it runs nowhere.
    if (attempt == null) return null;
    const named = this.#handingTo;
    let chosen: (typeof workers)[number] | null = null;
    for (const worker of workers) {
      if (named !== 0 ? worker.id === named : worker.currentUsage === 0 && this.#isIdle(worker.id)) {
        chosen = worker;
        break;
      }
    }
    if (chosen === null || (named === 0 && this.running() >= this.#maxThreads)) return null;
    this.#assign(attempt, chosen.id);
    return chosen;
  };

  /** Attempts running in workers that are not being terminated. */
  running(): number {
    let running = 0;
    for (const id of this.busy.keys()) if (!this.#threads.doomed.has(id)) running++;
    return running;
  }

  /** Whether worker `id` can take an attempt now: booted, not given one, not doomed, not due for retirement. */
  #isIdle(id: number): boolean {
    return this.#threads.isBooted(id) && !this.busy.has(id) && !this.#threads.doomed.has(id) && !this.#events.isDue(id);
  }

  /** A worker that can take an attempt now (the one the next pump gives it to); 0 when none can. */
  idleWorker(): number {
    return this.#idleWorker();
  }

  #idleWorker(): number {
    for (const id of this.#threads.bootedIds()) if (this.#isIdle(id)) return id;
    return 0;
  }

  /** Queues `attempt` at its place in dispatch order. */
  enqueue(attempt: PooledAttempt): void {
    attempt.place = Place.WAITING;
    attempt.threadId = 0;
    let at = this.#waiting.length;
    while (at > 0 && (this.#waiting[at - 1] as PooledAttempt).order > attempt.order) at--;
    this.#waiting.splice(at, 0, attempt);
  }

  /** Takes a cancelled attempt out of the queue, if it waits there (given to a worker, its launch settles unheard). */
  withdraw(attempt: PooledAttempt): void {
    if (attempt.place !== Place.WAITING) return;
    const at = this.#waiting.indexOf(attempt);
    if (at !== -1) this.#waiting.splice(at, 1);
  }

  /** Takes every attempt that waits for a worker out of the queue, oldest first. */
  withdrawAll(): PooledAttempt[] {
    return this.#waiting.splice(0);
  }

  /** The attempt no longer occupies worker `threadId`: false if it did not (anymore). */
  leave(attempt: PooledAttempt, threadId: number): boolean {
    if (threadId === 0 || this.busy.get(threadId) !== attempt) return false;
    this.busy.delete(threadId);
    if (this.#idleTimer !== undefined) this.#idleSince.set(threadId, performance.now());
    return true;
  }

  /** A worker has booted: if the pool now holds more than its full set, the idle ones above it are watched. */
  watchIdle(): void {
    if (this.#idleTimer === undefined && this.#threads.canExceed) this.#watchIdle(IDLE_TIMEOUT_MS);
  }

  /**
   * Retires, in `inMs`, the workers above the pool's full set that have been idle IDLE_TIMEOUT_MS by then, and watches
   * again while some remain. The excess only grows when a worker boots (watchIdle()).
   */
  #watchIdle(inMs: number): void {
    if (this.#threads.excess() <= 0 || this.#threads.destroyed) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      const now = performance.now();
      let excess = this.#threads.excess();
      let next = IDLE_TIMEOUT_MS;
      for (const id of [...this.#threads.bootedIds()]) {
        if (excess <= 0) break;
        if (!this.#isIdle(id)) continue;
        // A worker idle since before the watch began (or since it booted) counts from now.
        const since = this.#idleSince.get(id) ?? (this.#idleSince.set(id, now), now);
        const left = since + IDLE_TIMEOUT_MS - now;
        if (left > 0) next = Math.min(next, left);
        else {
          this.#idleSince.delete(id);
          this.#threads.retire(id);
          excess--;
        }
      }
      if (excess > 0) this.#watchIdle(next);
    }, inMs).unref();
  }

  /** Stops retiring idle workers (the pool is being destroyed). */
  stopIdleWatch(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  /**
   * Gives the waiting attempts to idle workers, in order; while none is idle, has piscina start workers for the rest
   * (one per attempt that could run, fewer than maxThreads running).
   */
  pump(): void {
    if (this.#waiting.length === 0 || this.#threads.destroyed) return;
    let running = this.running();
    while (this.#waiting.length > 0 && running < this.#maxThreads) {
      const id = this.#idleWorker();
      if (id === 0) {
        this.#threads.grow(Math.min(this.#waiting.length, this.#maxThreads - running));
        return;
      }
      this.#launch(this.#waiting.shift() as PooledAttempt, id);
      running++;
    }
  }

  #assign(attempt: PooledAttempt, id: number): void {
    attempt.threadId = id;
    attempt.place = Place.IN_WORKER;
    this.busy.set(id, attempt);
    if (this.#idleTimer !== undefined) this.#idleSince.delete(id);
    this.#events.onAssign(id);
  }

  /** Runs `attempt` on piscina, on worker `id` (idle and booted). */
  #launch(attempt: PooledAttempt, id: number): void {
    const piscina = this.#piscina as Piscina<AttemptRequest, AttemptReply>;
    const { request, transfer } = attempt;
    const launch = ++attempt.launch;
    (request as unknown as Record<symbol, PooledAttempt>)[Piscina.queueOptionsSymbol] = attempt;
    this.#handingTo = id;
    let running: Promise<AttemptReply>;
    try {
      running = transfer === undefined ? piscina.run(request) : piscina.run(request, { transferList: transfer as TransferListItem[] });
    } finally {
      this.#handingTo = 0;
    }
    // piscina's record of the task outlives the launch (and what it held may then be kept by the GC, as a Map's old
    // table keeps its entries: see releasing-map.ts): the request lets go of the attempt once the launch has settled.
    running.then(
      (reply) => {
        release(request);
        if (attempt.launch === launch) this.#events.onReply(attempt, reply);
      },
      (error: unknown) => {
        release(request);
        if (attempt.launch === launch) this.#events.onFailed(attempt, error, launch);
      },
    );
  }
}
