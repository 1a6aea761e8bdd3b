// The worker pool: piscina, fed ahead of its workers (prefetched attempts wait in piscina's queue, in dispatch order,
// and piscina posts the next one the moment a worker answers), with two shared words per dispatch slot: an
// interrupt flag, and a stamp that says whether the slot's attempt is waiting (its ticket), cancelled (0) or started
// (the epoch µs it did).
import type { MessagePort, ResourceLimits, TransferListItem, Worker } from 'node:worker_threads';
import { Piscina, type TaskQueue } from 'piscina';
import type { Logger } from 'pino';
import { channels, epochNow, type RetireMessage, type WorkerMessage } from './channels.js';
import { WorkerBootError } from './errors.js';
import type { RecycleWorkers } from './options.js';
import {
  AttemptEnd,
  BOOT_FAILED_MESSAGE,
  BOOTED_MESSAGE,
  LOADED_MESSAGE,
  LOADING_MESSAGE,
  messageType,
  type AttemptReply,
  type AttemptRequest,
  type BootFailedMessage,
  type LoadedMessage,
  type LoadingMessage,
  type WorkerBootData,
  type WorkerBootedMessage,
} from './messages.js';
import { FLAG_ENDED, FLAG_INTERRUPTED, FLAG_RUNNING, MAX_TICKET } from './shared-memory.js';

const entry = new URL('../workers/entry.cjs', import.meta.url).href;

export interface PoolOptions {
  readonly minThreads: number;
  readonly maxThreads: number;
  /** Idle workers kept beyond `maxThreads`, so that an attempt never waits for a replacement to spawn. */
  readonly spareThreads: number;
  readonly resourceLimits: ResourceLimits | undefined;
  /** Messages a worker posts on its own (processor log lines, progress). */
  readonly onMessage: (message: unknown) => void;
  /** Errors of a worker that had no task to fail. */
  readonly onError: (error: unknown) => void;
  /** The registry's processor module URLs, in its order. */
  readonly preload: readonly string[];
  /** How long an attempt may wait for its processor module's first import in a worker (ms). */
  readonly loadTimeoutMs: number;
  /** For the lines about modules loading and workers that cannot boot. */
  readonly logger: Logger;
  /** When a worker is retired, between attempts; undefined: never. */
  readonly recycle: RecycleWorkers | undefined;
}

/** What `run()` re-queues over buffers of our own when an attempt holding the caller's cannot be posted at once. */
export type Rescue = () => { readonly request: AttemptRequest; readonly transfer: ReadonlyArray<ArrayBuffer | MessagePort> };

/** The owner's handles for an attempt's end: symbols, so that a Tracker keeps them off its public API. */
export const kAttemptReply = Symbol('attemptReply');
export const kAttemptError = Symbol('attemptError');

/** Who hears how an attempt ended. */
export interface AttemptOwner {
  [kAttemptReply](attempt: PoolAttempt, reply: AttemptReply): void;
  /** Its worker died under it (or was terminated), or piscina refused it. */
  [kAttemptError](attempt: PoolAttempt, error: unknown): void;
}

/** One attempt handed to the pool. */
export class PoolAttempt {
  request: AttemptRequest;
  transfer: ReadonlyArray<ArrayBuffer | MessagePort> | undefined;
  readonly owner: AttemptOwner;
  /** Dispatch order: piscina's queue hands attempts out by it. */
  readonly order: number;
  /** The current launch: a withdrawn launch's result is never reported. */
  launch = 0;
  /** The worker (threadId) piscina gave it; 0 while it waits in the queue. */
  workerId = 0;
  /** Its launch has settled: the worker answered or died. */
  settled = false;

  constructor(request: AttemptRequest, owner: AttemptOwner, transfer: ReadonlyArray<ArrayBuffer | MessagePort> | undefined, order: number) {
    this.request = request;
    this.owner = owner;
    this.transfer = transfer;
    this.order = order;
  }
}

/** A piscina task, as its queue and balancer see it. */
type Task = Parameters<TaskQueue['push']>[0];
/** Our attempt rides on a task's queue options. */
const attemptOf = (task: object): PoolAttempt => (task as Record<symbol, unknown>)[Piscina.queueOptionsSymbol] as PoolAttempt;

/**
 * piscina's queue, kept in dispatch order whatever piscina does with a task its balancer turns away (it puts such
 * a task back at the front or the back): attempts start in the order they were dispatched.
 */
class DispatchOrderQueue implements TaskQueue {
  readonly #tasks: Task[] = [];

  get size(): number {
    return this.#tasks.length;
  }

  push(task: Task): void {
    const order = attemptOf(task).order;
    let at = this.#tasks.length;
    while (at > 0 && attemptOf(this.#tasks[at - 1] as Task).order > order) at--;
    this.#tasks.splice(at, 0, task);
  }

  unshift(task: Task): void {
    this.push(task);
  }

  shift(): Task | null {
    return this.#tasks.shift() ?? null;
  }

  remove(task: Task): void {
    const at = this.#tasks.indexOf(task);
    if (at !== -1) this.#tasks.splice(at, 1);
  }

  /** Takes out the task of `attempt`, if it waits here. */
  take(attempt: PoolAttempt): boolean {
    const at = this.#tasks.findIndex((task) => attemptOf(task) === attempt);
    if (at === -1) return false;
    this.#tasks.splice(at, 1);
    return true;
  }

  /** Takes out every task, oldest first. */
  takeAll(): PoolAttempt[] {
    return this.#tasks.splice(0).map(attemptOf);
  }
}

/**
 * Runs attempts on piscina, one per worker at a time, at most `maxThreads` at once: spare workers stay idle for the
 * moment a force-stop takes a worker away. The runtime dispatches up to `slots` attempts (twice `maxThreads`): the
 * next attempts wait in piscina's queue, so piscina posts one inside its answer to the previous, and the worker
 * finds it without sleeping. An attempt is started only by its worker, which takes the slot's ticket (a
 * compare-and-swap in shared memory) and leaves its start time in its place; the main thread cancels an attempt that
 * has not started the same way, and it then never runs.
 */
export class WorkerPool {
  /** Dispatch slots: attempts running or waiting in piscina's queue. */
  readonly slots: number;
  readonly #piscina: Piscina<AttemptRequest, AttemptReply>;
  readonly #queue = new DispatchOrderQueue();
  readonly #flags: Int32Array;
  readonly #stamps: BigInt64Array;
  readonly #freeSlots: number[];
  #nextTicket = 0;
  #nextOrder = 0;
  // Workers being terminated: piscina gives them nothing more, and they count for nothing.
  readonly #doomed = new Set<number>();

  constructor(options: PoolOptions) {
    this.slots = options.maxThreads * 2;
    const flags = new SharedArrayBuffer(this.slots * Int32Array.BYTES_PER_ELEMENT);
    const stamps = new SharedArrayBuffer(this.slots * BigInt64Array.BYTES_PER_ELEMENT);
    this.#flags = new Int32Array(flags);
    this.#stamps = new BigInt64Array(stamps);
    this.#freeSlots = Array.from({ length: this.slots }, (_, slot) => this.slots - 1 - slot);
    const recycle = (this.#recycle = options.recycle);
    const heaps = recycle?.heapUsedMb === undefined ? undefined : new SharedArrayBuffer(this.slots * Int32Array.BYTES_PER_ELEMENT);
    this.#heaps = heaps === undefined ? undefined : new Int32Array(heaps);
    this.#urls = options.preload;
    this.#logger = options.logger;
    this.#loadTimeoutMs = options.loadTimeoutMs;
    this.#loadFailures = options.preload.map(() => undefined);
    const verified = new SharedArrayBuffer(Math.max(1, options.preload.length) * Int32Array.BYTES_PER_ELEMENT);
    const common = { flags, stamps, preload: options.preload, verified, loadTimeoutMs: options.loadTimeoutMs };
    const workerData: WorkerBootData = heaps === undefined ? common : { ...common, heaps };
    const started = this.#started;
    const doomed = this.#doomed;
    const inWorker = this.#inWorker;
    const maxThreads = options.maxThreads;
    this.#piscina = new Piscina<AttemptRequest, AttemptReply>({
      // An idle worker that has finished starting, while fewer than maxThreads work; else none (the attempt waits in
      // the queue, and piscina asks again when a worker answers or comes up). piscina's own balancer also picks a
      // worker still starting: an attempt there waits for the whole boot, and should it be force-stopped before the
      // boot ends, the worker's death makes piscina stop replacing dead workers for the rest of the pool's life (it
      // takes it for a worker that cannot boot).
      loadBalancer: (task, workers) => {
        let busy = 0;
        let idle: (typeof workers)[number] | null = null;
        for (const worker of workers) {
          if (doomed.has(worker.id)) continue;
          if (worker.currentUsage > 0) busy++;
          // A worker due for retirement has just answered: it is retired here, before it is given anything more.
          else if (idle === null && started.has(worker.id) && (recycle === undefined || !this.#retireIfDue(worker.id))) idle = worker;
        }
        if (idle === null || busy >= maxThreads) return null;
        const attempt = attemptOf(task);
        attempt.workerId = idle.id;
        this.#inWorkers++;
        if (recycle !== undefined) {
          inWorker.set(idle.id, attempt);
          this.#attemptsOf.set(idle.id, (this.#attemptsOf.get(idle.id) ?? 0) + 1);
          this.#lastSlotOf.set(idle.id, attempt.request.slot);
        }
        return idle;
      },
      taskQueue: this.#queue,
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
      switch (messageType(message)) {
        case BOOTED_MESSAGE:
          this.#onBooted((message as WorkerBootedMessage).threadId);
          return;
        case LOADING_MESSAGE:
          this.#onLoading(message as LoadingMessage);
          return;
        case LOADED_MESSAGE:
          this.#endLoad((message as LoadedMessage).threadId);
          return;
        case BOOT_FAILED_MESSAGE:
          this.#break(new WorkerBootError(`no worker can start: the worker entry cannot be loaded: ${(message as BootFailedMessage).error}`));
          return;
        default:
          options.onMessage(message);
      }
    });
    this.#piscina.on('error', (error: unknown) => {
      this.#lastWorkerError = error;
      options.onError(error);
    });
    // piscina emits workerCreate when it marks a worker ready, just before it offers the worker the waiting tasks.
    this.#piscina.on('workerCreate', (worker: { id: number }) => {
      started.add(worker.id);
      this.#workersStarted++;
      if (channels.workerStart.hasSubscribers) channels.workerStart.publish({ threadId: worker.id, time: epochNow() } satisfies WorkerMessage);
    });
    // A worker that has exited no longer has its threadId (-1): what is known of the workers is checked against those
    // still alive instead.
    // piscina emits it before it lets go of the worker, and before it fails the worker's task with the cause: who is
    // gone, and why, is known on the next turn.
    this.#piscina.on('workerDestroy', () => setImmediate(() => {
      this.#onWorkerGone();
      const alive = new Set(this.#piscina.threads.map((thread) => thread.threadId));
      if (channels.workerExit.hasSubscribers) {
        for (const id of started) if (!alive.has(id)) channels.workerExit.publish({ threadId: id, time: epochNow() } satisfies WorkerMessage);
      }
      for (const known of [started, doomed, this.#booted, this.#retiring]) for (const id of known) if (!alive.has(id)) known.delete(id);
      for (const known of [this.#attemptsOf, this.#lastSlotOf, inWorker]) for (const id of known.keys()) if (!alive.has(id)) known.delete(id);
      this.#onBooted(0);
    }));
    this.#size = options.minThreads + options.spareThreads;
  }

  // Workers piscina has marked ready (those it started with are marked at once, before their boot ends).
  readonly #started = new Set<number>();
  // Workers that have said they booted: their processors are imported.
  readonly #booted = new Set<number>();
  readonly #size: number;
  #whenReady: Array<{ resolve: () => void; reject: (error: WorkerBootError) => void }> = [];
  #destroyed = false;
  // Retirements not yet carried out: until they are, piscina's thread count still holds the worker to be replaced.
  #abortsDue = 0;
  // Attempts given to a worker and not yet settled; with recycle, which worker (threadId) runs which.
  #inWorkers = 0;
  readonly #inWorker = new Map<number, PoolAttempt>();
  #workersStarted = 0;
  #workersRetired = 0;
  readonly #recycle: RecycleWorkers | undefined;
  // Where workers leave their used heap (MB) as an attempt ends, per slot: with recycle.heapUsedMb only.
  readonly #heaps: Int32Array | undefined;
  // Per worker (threadId): attempts given to it, and the slot of the last one.
  readonly #attemptsOf = new Map<number, number>();
  readonly #lastSlotOf = new Map<number, number>();
  // Workers retired and still running an attempt: terminated once it settles.
  readonly #retiring = new Set<number>();
  readonly #urls: readonly string[];
  // Force-stopped threads that have not exited (STUCK_THREAD_MS after their terminate).
  readonly #stuck = new Set<number>();
  // Attempts whose worker died under them since the last attempt that answered.
  #deathsInARow = 0;
  readonly #logger: Logger;
  readonly #loadTimeoutMs: number;
  // Per registry module: why it cannot be loaded in this runtime (its import hung a worker), else undefined.
  readonly #loadFailures: Array<string | undefined>;
  // First imports under way, per worker (threadId).
  readonly #loads = new Map<number, Load>();
  // The attempt launched in each slot, until it leaves its worker: a worker's LOADING message names its slot.
  readonly #bySlot: Array<PoolAttempt | undefined> = [];
  // Workers that have booted (the objects: a worker that has exited has no threadId), and departures they explain.
  readonly #bootedWorkers = new Set<Worker>();
  #departuresExplained = 0;
  #lastWorkerError: unknown;
  #broken: WorkerBootError | undefined;

  /**
   * Resolves once the pool holds its full set of workers (minThreads + spares), each booted, the processors that have
   * loaded before imported. Rejects with a `WorkerBootError` once no worker can boot.
   */
  ready(): Promise<void> {
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    if (this.#destroyed || this.#isReady()) return Promise.resolve();
    return new Promise((resolve, reject) => this.#whenReady.push({ resolve, reject }));
  }

  #isReady(): boolean {
    if (this.#abortsDue > 0 || this.#doomed.size > 0) return false;
    const threads = this.#piscina.threads;
    return threads.length >= this.#size && threads.every((thread) => this.#booted.has(thread.threadId));
  }

  #onBooted(threadId: number): void {
    if (threadId !== 0) {
      this.#booted.add(threadId);
      const worker = this.#piscina.threads.find((thread) => thread.threadId === threadId);
      if (worker !== undefined) this.#bootedWorkers.add(worker);
    }
    if (this.#whenReady.length === 0 || !this.#isReady()) return;
    const waiting = this.#whenReady;
    this.#whenReady = [];
    for (const { resolve } of waiting) resolve();
  }

  /** Whether a slot is free, so that one more attempt may be dispatched now. */
  get hasFreeSlot(): boolean {
    return this.#freeSlots.length > 0;
  }

  /** Takes a free slot. Call only when `hasFreeSlot`. */
  takeSlot(): number {
    return this.#freeSlots.pop() as number;
  }

  releaseSlot(slot: number): void {
    this.#freeSlots.push(slot);
  }

  /**
   * Prepares `slot` for its next attempt: the interrupt flag cleared, and a fresh ticket in its stamp, which the
   * attempt's worker takes when it starts. Returns the ticket, for the attempt request.
   */
  arm(slot: number): number {
    const ticket = (this.#nextTicket = (this.#nextTicket % MAX_TICKET) + 1);
    Atomics.store(this.#flags, slot, FLAG_RUNNING);
    Atomics.store(this.#stamps, slot, BigInt(ticket));
    // A heap left by an earlier attempt in this slot is not this one's worker's.
    if (this.#heaps !== undefined) Atomics.store(this.#heaps, slot, 0);
    return ticket;
  }

  /** When the slot's attempt started in its worker (epoch ms, µs precision), or null while it has not (or never will). */
  startedAt(slot: number): number | null {
    const stamp = Atomics.load(this.#stamps, slot);
    return stamp > MAX_TICKET_BIG ? Number(stamp) / 1000 : null;
  }

  /**
   * Cancels the attempt with `ticket` in `slot` if it has not started: it then never runs (its worker, if it gets
   * it, answers at once without running it), and it leaves piscina's queue if it waits there. False when it has
   * started.
   */
  cancel(slot: number, ticket: number, attempt: PoolAttempt | undefined): boolean {
    const expected = BigInt(ticket);
    if (Atomics.compareExchange(this.#stamps, slot, expected, 0n) !== expected) return false;
    if (attempt !== undefined && this.#queue.take(attempt)) attempt.launch++;
    return true;
  }

  /**
   * Force-stops `attempt`, which has started and not ended (its reply is not on its way: see `hasEnded`): its worker
   * is terminated now (a real `worker.terminate()`; it cannot be running another attempt, as it has not answered
   * this one), marked first so that piscina gives it nothing more, and the attempts waiting in the queue are offered
   * again on the next turn, so that a spare takes the next one; `beforeTerminate` runs once the worker is marked and
   * before it is terminated (the owner hands its slot on there). Resolves true once the thread has exited, false when
   * it has not after STUCK_THREAD_MS (see #terminate).
   */
  forceStop(attempt: PoolAttempt, beforeTerminate: () => void): Promise<boolean> {
    attempt.launch++; // the rejection its worker's end brings is not the attempt's end
    this.#leftWorker(attempt);
    attempt.settled = true;
    // Marked first, so that what `beforeTerminate` dispatches goes to a spare at once, before the terminate's cost.
    if (attempt.workerId !== 0) this.#doomed.add(attempt.workerId);
    beforeTerminate();
    const exited = this.#terminate(attempt.workerId);
    this.#reofferSoon();
    return exited;
  }

  /**
   * Terminates worker `id` now. Resolves true once its thread has exited; false when it has not after
   * STUCK_THREAD_MS: a thread blocked in a system call or in native code runs until that call returns, whatever
   * terminate() asks. Such a thread is counted as stuck and the pool lets go of it: piscina is told it has exited, so
   * that it takes it out of the pool (which then no longer waits for it, in `ready()` or `destroy()`) and starts a
   * replacement as it needs one. Should it exit later, that is logged.
   */
  #terminate(id: number): Promise<boolean> {
    const worker = id === 0 ? undefined : this.#piscina.threads.find((thread) => thread.threadId === id);
    if (worker === undefined) return Promise.resolve(true);
    this.#doomed.add(id);
    return new Promise((resolve) => {
      let stuck = false;
      const timer = setTimeout(() => {
        stuck = true;
        this.#stuck.add(id);
        this.#logger.error(
          { threadId: id, waitedMs: STUCK_THREAD_MS },
          'a terminated thread has not exited: it is blocked in a system call or in native code, which terminate() cannot cut short; the pool lets go of it',
        );
        resolve(false);
        // piscina takes a worker out of its pool on the worker's 'exit' event (a contract test pins it); the thread's
        // own exit, should it come, is the next one.
        worker.emit('exit', STUCK_EXIT_CODE);
        worker.once('exit', () => {
          this.#stuck.delete(id);
          this.#logger.warn({ threadId: id }, 'a stuck thread has exited at last');
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

  /** Whether the attempt in `slot` has ended in its worker: its reply is on its way (or here). */
  hasEnded(slot: number): boolean {
    return (Atomics.load(this.#flags, slot) & FLAG_ENDED) !== 0;
  }

  /** Threads force-stopped that have not exited (their ids). */
  get stuckThreads(): readonly number[] {
    return [...this.#stuck];
  }

  /** Interrupts the attempt running in `slot`: its hot loop sees the flag now, its signal fires when its loop turns. */
  interrupt(slot: number): void {
    Atomics.or(this.#flags, slot, FLAG_INTERRUPTED);
    Atomics.notify(this.#flags, slot);
  }

  /**
   * Runs one attempt (its request carries its slot and ticket); `owner` hears how it ended. `transfer` goes with it.
   * With `rescue`, the transfer list holds the caller's own buffers, which must be gone once the call returns: when
   * piscina does not post the attempt at once, it leaves the queue and what `rescue` gives (the same params over
   * buffers of our own) is queued instead.
   */
  run(request: AttemptRequest, owner: AttemptOwner, transfer?: ReadonlyArray<ArrayBuffer | MessagePort>, rescue?: Rescue): PoolAttempt {
    const attempt = new PoolAttempt(request, owner, transfer, this.#nextOrder++);
    // Its module failed to load in a way that cost a worker, or no worker can boot: it ends now, without a worker.
    const failure = this.#broken ?? this.#loadFailures[request.processorIndex];
    if (failure !== undefined) {
      attempt.settled = true;
      queueMicrotask(() => this.#settleWithout(attempt, failure));
      return attempt;
    }
    this.#launch(attempt);
    if (rescue !== undefined && attempt.workerId === 0 && this.#queue.take(attempt)) {
      const again = rescue();
      attempt.request = again.request;
      attempt.transfer = again.transfer;
      this.#launch(attempt);
    }
    return attempt;
  }

  #launch(attempt: PoolAttempt): void {
    const { request, transfer } = attempt;
    const launch = ++attempt.launch;
    this.#bySlot[request.slot] = attempt;
    // The attempt rides on piscina's queue options (a symbol key: never copied to the worker), for the queue and the
    // balancer.
    (request as unknown as Record<symbol, PoolAttempt>)[Piscina.queueOptionsSymbol] = attempt;
    const running = transfer === undefined ? this.#piscina.run(request) : this.#piscina.run(request, { transferList: transfer as TransferListItem[] });
    running.then(
      (reply) => {
        if (attempt.launch !== launch) return;
        if (reply.end !== AttemptEnd.CANCELLED) this.#deathsInARow = 0;
        this.#leftWorker(attempt);
        attempt.settled = true;
        attempt.owner[kAttemptReply](attempt, reply);
      },
      (error: unknown) => {
        if (attempt.launch !== launch) return;
        const load = this.#loads.get(attempt.workerId);
        if (load !== undefined) this.#endLoad(attempt.workerId);
        this.#leftWorker(attempt);
        const notStarted = Atomics.load(this.#stamps, request.slot) === BigInt(request.ticket);
        // Its worker died while importing its processor module: the module may be the cause (its heap cap), or a
        // timer an earlier attempt left behind. A worker death, said so, and never run elsewhere at once (it could
        // kill worker after worker): retried as deaths are, with their backoff.
        if (notStarted && load !== undefined && load.slot === request.slot && load.ticket === request.ticket) {
          attempt.settled = true;
          this.#deathsInARow++;
          const died = new Error(`the worker died while ${this.#urls[load.index]} loaded: ${describeDeath(error)}`, { cause: error });
          if (this.#startFailed(request)) attempt.owner[kAttemptError](attempt, died);
          else attempt.owner[kAttemptReply](attempt, CANCELLED);
          return;
        }
        if (notStarted) this.#lastWorkerError = error; // a worker that dies as it boots may be telling why
        if (notStarted && this.#broken !== undefined) {
          attempt.settled = true;
          this.#settleWithout(attempt, this.#broken);
          return;
        }
        // Its worker died before starting it (it was on its way there): it runs elsewhere, a few times at most.
        if (notStarted && launch < MAX_LAUNCHES && !this.#destroyed) {
          attempt.workerId = 0;
          this.#launch(attempt);
          return;
        }
        attempt.settled = true;
        this.#deathsInARow++;
        attempt.owner[kAttemptError](attempt, error);
      },
    );
  }

  /**
   * How long the retry of an attempt whose worker died waits (ms): nothing after one death, then, while workers keep
   * dying under their attempts with no attempt answering in between, DEATH_BACKOFF_MS doubled on each further death,
   * at most DEATH_BACKOFF_MAX_MS. A processor that kills its worker on every attempt so costs a worker every two
   * seconds at most, not dozens a second.
   */
  deathBackoffMs(): number {
    const deaths = this.#deathsInARow;
    return deaths <= 1 ? 0 : Math.min(DEATH_BACKOFF_MAX_MS, DEATH_BACKOFF_MS * 2 ** (deaths - 2));
  }

  // piscina offers its queue only when a worker answers or comes up: after a terminate, a spare stands idle while
  // the attempts wait for the replacement. Taken out and run again, in order, the first of them goes to the spare.
  // (A launch taken out of the queue never settles: piscina keeps no other hold on it.)
  #reoffer(): void {
    if (this.#queue.size === 0 || this.#destroyed) return;
    for (const attempt of this.#queue.takeAll()) this.#launch(attempt);
  }

  #reofferSoon(): void {
    setImmediate(() => {
      this.#reoffer();
      this.#onBooted(0);
    });
  }

  // An attempt's launch has settled: it no longer occupies its worker. A worker due for retirement is retired now,
  // before its next attempt (if piscina has posted one already, the worker is retired once that one ends).
  #leftWorker(attempt: PoolAttempt): void {
    if (this.#bySlot[attempt.request.slot] === attempt) this.#bySlot[attempt.request.slot] = undefined;
    const id = attempt.workerId;
    if (id === 0) return;
    this.#inWorkers--;
    if (this.#recycle === undefined) return;
    // piscina may have given the worker its next attempt already (inside its answer to this one).
    if (this.#inWorker.get(id) === attempt) this.#inWorker.delete(id);
    if (!this.#retiring.has(id)) this.#retireIfDue(id);
    else if (!this.#inWorker.has(id)) this.#retire(id);
  }

  /**
   * Retires worker `id` if it has run `afterAttempts` attempts or its heap after its last one is above `heapUsedMb`:
   * piscina gives it nothing more, and it is terminated once idle (its replacement spawns when it has exited).
   * True when it is retired.
   */
  #retireIfDue(id: number): boolean {
    const recycle = this.#recycle;
    if (recycle === undefined || this.#doomed.has(id)) return false;
    const attempts = this.#attemptsOf.get(id) ?? 0;
    const slot = this.#lastSlotOf.get(id);
    const heapUsedMb = slot === undefined || this.#heaps === undefined ? 0 : Atomics.load(this.#heaps, slot);
    let reason: RetireMessage['reason'];
    if (recycle.afterAttempts !== undefined && attempts >= recycle.afterAttempts) reason = 'afterAttempts';
    else if (recycle.heapUsedMb !== undefined && heapUsedMb > recycle.heapUsedMb) reason = 'heapUsedMb';
    else return false;
    this.#doomed.add(id);
    this.#workersRetired++;
    if (channels.workerRetire.hasSubscribers) channels.workerRetire.publish({ threadId: id, time: epochNow(), reason, attempts, heapUsedMb } satisfies RetireMessage);
    if (this.#inWorker.has(id)) this.#retiring.add(id);
    else this.#retire(id);
    return true;
  }

  // A retired worker, idle now: marked at once, so that piscina gives it nothing more, and terminated on the next turn
  // (not inside piscina's balancer or reply handler); then the waiting attempts are offered again.
  #retire(id: number): void {
    this.#retiring.delete(id);
    this.#doomed.add(id);
    this.#abortsDue++;
    setImmediate(() => {
      this.#abortsDue--;
      void this.#terminate(id);
      this.#reoffer();
      this.#onBooted(0);
    });
  }

  // --- Processor modules' first imports, and workers that cannot boot ---------------------------------------------

  /** A worker's attempt waits for its module's first import there: the wait gets `loadTimeoutMs`. */
  #onLoading(message: LoadingMessage): void {
    this.#endLoad(message.threadId);
    this.#logger.debug({ threadId: message.threadId, module: this.#urls[message.processorIndex] }, 'a processor module is loading');
    const timer = setTimeout(() => this.#onLoadOverdue(message.threadId), this.#loadTimeoutMs);
    const attempt = this.#bySlot[message.slot];
    this.#loads.set(message.threadId, {
      slot: message.slot,
      ticket: message.ticket,
      index: message.processorIndex,
      attempt: attempt?.request.ticket === message.ticket ? attempt : undefined,
      timer,
      lookedAgain: false,
    });
  }

  #endLoad(threadId: number): void {
    const load = this.#loads.get(threadId);
    if (load === undefined) return;
    clearTimeout(load.timer);
    this.#loads.delete(threadId);
  }

  /**
   * An import has run for `loadTimeoutMs`: its attempt is cancelled and fails, its worker (stuck in the module's
   * top level, or holding an import that never settles) is terminated, and the module is not tried again.
   */
  #onLoadOverdue(threadId: number): void {
    const load = this.#loads.get(threadId);
    if (load === undefined) return;
    const ticket = BigInt(load.ticket);
    // Started here, and failed: unless it has started in its worker, or was cancelled, in the meantime.
    const was = Atomics.compareExchange(this.#stamps, load.slot, ticket, startStamp());
    if (was !== ticket && was !== 0n && !load.lookedAgain) {
      // Started just now (the import's end is on its way), or cancelled and its slot taken by another attempt:
      // the end of a load that did finish arrives well within another period.
      load.lookedAgain = true;
      load.timer = setTimeout(() => this.#onLoadOverdue(threadId), this.#loadTimeoutMs);
      return;
    }
    this.#endLoad(threadId);
    const text = `${this.#urls[load.index]}: did not finish loading within ${this.#loadTimeoutMs} ms`;
    this.#loadFailures[load.index] = text;
    this.#logger.error({ threadId, module: this.#urls[load.index], loadTimeoutMs: this.#loadTimeoutMs }, 'a processor module did not finish loading: its worker is terminated, and the module is not loaded again');
    const attempt = load.attempt;
    if (attempt !== undefined && !attempt.settled) {
      attempt.launch++; // the rejection its worker's end brings is not the attempt's end
      this.#leftWorker(attempt);
      attempt.settled = true;
      if (was === ticket) attempt.owner[kAttemptReply](attempt, { end: AttemptEnd.LOAD_FAILED, msg: text });
    }
    void this.#terminate(threadId);
    this.#reofferSoon();
  }

  /** An attempt that never reaches a worker ends with the pool's failure (a load failure's text, or a boot error). */
  #settleWithout(attempt: PoolAttempt, failure: string | WorkerBootError): void {
    if (!this.#startFailed(attempt.request)) attempt.owner[kAttemptReply](attempt, CANCELLED);
    else if (typeof failure === 'string') attempt.owner[kAttemptReply](attempt, { end: AttemptEnd.LOAD_FAILED, msg: failure });
    else attempt.owner[kAttemptError](attempt, failure);
  }

  /**
   * Starts an attempt that fails before its processor can run (its module, or its worker, failed): its stamp takes
   * the time now, as a worker's would. False when it was cancelled first.
   */
  #startFailed(request: AttemptRequest): boolean {
    const ticket = BigInt(request.ticket);
    return Atomics.compareExchange(this.#stamps, request.slot, ticket, startStamp()) === ticket;
  }

  /**
   * A worker has left the pool. Each one that had booted accounts for one departure; a departure none accounts for is
   * a worker that died while it booted, and piscina replaces no worker after that: the pool is broken.
   */
  #onWorkerGone(): void {
    if (this.#destroyed || this.#broken !== undefined) return;
    const alive = new Set<Worker>(this.#piscina.threads);
    for (const worker of this.#bootedWorkers) {
      if (alive.has(worker)) continue;
      this.#bootedWorkers.delete(worker);
      this.#departuresExplained++;
    }
    if (this.#departuresExplained > 0) {
      this.#departuresExplained--;
      return;
    }
    const cause = this.#lastWorkerError;
    this.#break(new WorkerBootError(`no worker can start: a worker died while it booted${cause === undefined ? '' : `: ${describeDeath(cause)}`}`, cause === undefined ? undefined : { cause }));
  }

  /** No worker can boot: `ready()` rejects, and every attempt waiting for a worker, or run later, fails with `error`. */
  #break(error: WorkerBootError): void {
    if (this.#broken !== undefined || this.#destroyed) return;
    this.#broken = error;
    this.#logger.error({ err: error }, 'no worker can boot: every instance fails with WORKER_BOOT_FAILED');
    for (const { reject } of this.#whenReady.splice(0)) reject(error);
    for (const attempt of this.#queue.takeAll()) {
      attempt.launch++; // taken out of piscina's queue: its launch never settles
      attempt.settled = true;
      this.#settleWithout(attempt, error);
    }
  }

  /** The live worker threads. */
  get threads(): number {
    return this.#piscina.threads.length;
  }

  /** Live worker threads running no attempt. */
  get idleThreads(): number {
    const threads = this.#piscina.threads.length;
    return Math.max(0, threads - this.#inWorkers);
  }

  /** Slots taken: attempts handed to the pool, running or waiting for a worker. */
  get slotsInUse(): number {
    return this.slots - this.#freeSlots.length;
  }

  /** Worker threads started since the pool was made. */
  get workersStarted(): number {
    return this.#workersStarted;
  }

  /** Worker threads retired since the pool was made. */
  get workersRetired(): number {
    return this.#workersRetired;
  }

  destroy(): Promise<void> {
    // Nobody waits for a pool that will not be ready again.
    this.#destroyed = true;
    for (const { resolve } of this.#whenReady.splice(0)) resolve();
    for (const threadId of [...this.#loads.keys()]) this.#endLoad(threadId);
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

const MAX_TICKET_BIG = BigInt(MAX_TICKET);

/**
 * How long a force-stopped thread has to exit before it is taken for stuck (ms): a thread blocked in a system call
 * (a read of a pipe no one writes to, `execSync`) or in native code (a long `pbkdf2Sync`) runs on until that call
 * returns, whatever terminate() asks. A thread that spins in JavaScript exits within milliseconds.
 */
export const STUCK_THREAD_MS = 1000;

/** The first backoff of a retry after repeated worker deaths (ms): see WorkerPool.deathBackoffMs. */
export const DEATH_BACKOFF_MS = 20;
/** The longest backoff of a retry after repeated worker deaths (ms). */
export const DEATH_BACKOFF_MAX_MS = 2000;

/** The exit code piscina is told of for a thread the pool lets go of while it is stuck. */
const STUCK_EXIT_CODE = -1;

/** The reply of an attempt that was cancelled before it started. */
const CANCELLED: AttemptReply = Object.freeze({ end: AttemptEnd.CANCELLED });

/** A slot's stamp for an attempt starting now: epoch microseconds, as a worker writes it. */
function startStamp(): bigint {
  return BigInt(Math.round(epochNow() * 1000));
}

/** A processor module's first import in a worker, for the attempt in `slot` with `ticket`. */
interface Load {
  readonly slot: number;
  readonly ticket: number;
  /** The module's index in the registry. */
  readonly index: number;
  /** The attempt waiting for it, while it is this worker's. */
  readonly attempt: PoolAttempt | undefined;
  timer: NodeJS.Timeout;
  /** The overdue check has found the attempt moved on once, and looks again one period later. */
  lookedAgain: boolean;
}

/** "Name: message" of a worker's death, without the [code] Node's own errors add to their text. */
function describeDeath(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** How many times one attempt is handed to piscina, at most, when workers die before starting it. */
const MAX_LAUNCHES = 4;
