// The worker pool: piscina, fed ahead of its workers (prefetched attempts wait in piscina's queue, in dispatch order,
// and piscina posts the next one the moment a worker answers), with two shared words per dispatch slot: an
// interrupt flag, and a stamp that says whether the slot's attempt is waiting (its ticket), cancelled (0) or started
// (the epoch µs it did).
import type { MessagePort, ResourceLimits, TransferListItem } from 'node:worker_threads';
import { Piscina, type TaskQueue } from 'piscina';
import { channels, epochNow, type RetireMessage, type WorkerMessage } from './channels.js';
import type { RecycleWorkers } from './options.js';
import {
  FLAG_INTERRUPTED,
  FLAG_RUNNING,
  isWorkerBootedMessage,
  MAX_TICKET,
  type AttemptReply,
  type AttemptRequest,
  type WorkerBootData,
} from './protocol.js';

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
  /** Processor module URLs every worker imports while it boots. */
  readonly preload: readonly string[];
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
    const workerData: WorkerBootData = heaps === undefined ? { flags, stamps, preload: options.preload } : { flags, stamps, preload: options.preload, heaps };
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
      if (isWorkerBootedMessage(message)) this.#onBooted(message.threadId);
      else options.onMessage(message);
    });
    this.#piscina.on('error', options.onError);
    // piscina emits workerCreate when it marks a worker ready, just before it offers the worker the waiting tasks.
    this.#piscina.on('workerCreate', (worker: { id: number }) => {
      started.add(worker.id);
      this.#workersStarted++;
      if (channels.workerStart.hasSubscribers) channels.workerStart.publish({ threadId: worker.id, time: epochNow() } satisfies WorkerMessage);
    });
    // A worker that has exited no longer has its threadId (-1): what is known of the workers is checked against those
    // still alive instead.
    this.#piscina.on('workerDestroy', () => {
      const alive = new Set(this.#piscina.threads.map((thread) => thread.threadId));
      if (channels.workerExit.hasSubscribers) {
        for (const id of started) if (!alive.has(id)) channels.workerExit.publish({ threadId: id, time: epochNow() } satisfies WorkerMessage);
      }
      for (const known of [started, doomed, this.#booted, this.#retiring]) for (const id of known) if (!alive.has(id)) known.delete(id);
      for (const known of [this.#attemptsOf, this.#lastSlotOf, inWorker]) for (const id of known.keys()) if (!alive.has(id)) known.delete(id);
      this.#onBooted(0);
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
  // Force-stops not yet carried out: until they are, piscina's thread count still holds the worker to be replaced.
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

  /** Resolves once the pool holds its full set of workers (minThreads + spares), each booted, its processors imported. */
  ready(): Promise<void> {
    if (this.#destroyed || this.#isReady()) return Promise.resolve();
    return new Promise((resolve) => this.#whenReady.push(resolve));
  }

  #isReady(): boolean {
    if (this.#abortsDue > 0 || this.#doomed.size > 0) return false;
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
   * Force-stops `attempt`, one event-loop turn from now: its worker is terminated (a real `worker.terminate()`),
   * and piscina replaces it once it has exited, off this call's path. Not at once: should the attempt's reply already
   * be on its way, it is read first, and the worker, free and correct, is left alone (terminating it would kill the
   * next instance it runs). The worker is marked first, so that piscina gives it nothing more; and the attempts
   * waiting in the queue are offered again, so that a spare takes the next one at once.
   */
  abortSoon(attempt: PoolAttempt): void {
    this.#terminateSoon(() => (attempt.settled ? 0 : attempt.workerId));
  }

  /** Interrupts the attempt running in `slot`: its hot loop sees the flag now, its signal fires when its loop turns. */
  interrupt(slot: number): void {
    Atomics.store(this.#flags, slot, FLAG_INTERRUPTED);
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
    // The attempt rides on piscina's queue options (a symbol key: never copied to the worker), for the queue and the
    // balancer.
    (request as unknown as Record<symbol, PoolAttempt>)[Piscina.queueOptionsSymbol] = attempt;
    const running = transfer === undefined ? this.#piscina.run(request) : this.#piscina.run(request, { transferList: transfer as TransferListItem[] });
    running.then(
      (reply) => {
        if (attempt.launch !== launch) return;
        this.#leftWorker(attempt);
        attempt.settled = true;
        attempt.owner[kAttemptReply](attempt, reply);
      },
      (error: unknown) => {
        if (attempt.launch !== launch) return;
        this.#leftWorker(attempt);
        // Its worker died before starting it (it was on its way there): it runs elsewhere, a few times at most.
        if (Atomics.load(this.#stamps, request.slot) === BigInt(request.ticket) && launch < MAX_LAUNCHES && !this.#destroyed) {
          attempt.workerId = 0;
          this.#launch(attempt);
          return;
        }
        attempt.settled = true;
        attempt.owner[kAttemptError](attempt, error);
      },
    );
  }

  // piscina offers its queue only when a worker answers or comes up: after a terminate, a spare stands idle while
  // the attempts wait for the replacement. Taken out and run again, in order, the first of them goes to the spare.
  // (A launch taken out of the queue never settles: piscina keeps no other hold on it.)
  #reoffer(): void {
    if (this.#queue.size === 0 || this.#destroyed) return;
    for (const attempt of this.#queue.takeAll()) this.#launch(attempt);
  }

  // An attempt's launch has settled: it no longer occupies its worker. A worker due for retirement is retired now,
  // before its next attempt (if piscina has posted one already, the worker is retired once that one ends).
  #leftWorker(attempt: PoolAttempt): void {
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

  // A retired worker, idle now: terminated on the next turn (not inside piscina's balancer or reply handler).
  #retire(id: number): void {
    this.#retiring.delete(id);
    this.#terminateSoon(() => id);
  }

  /**
   * On the next event-loop turn, terminates the worker `which()` names then (0: none any more), marked first so
   * that piscina gives it nothing more; then offers the waiting attempts again, so that a spare takes the next.
   */
  #terminateSoon(which: () => number): void {
    this.#abortsDue++;
    setImmediate(() => {
      this.#abortsDue--;
      const id = which();
      const worker = id === 0 ? undefined : this.#piscina.threads.find((thread) => thread.threadId === id);
      if (worker !== undefined) {
        this.#doomed.add(id);
        void worker.terminate();
      }
      this.#reoffer();
      this.#onBooted(0);
    });
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
    for (const resolve of this.#whenReady.splice(0)) resolve();
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

/** How many times one attempt is handed to piscina, at most, when workers die before starting it. */
const MAX_LAUNCHES = 4;
