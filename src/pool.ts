// The worker pool: attempts run on piscina, one per worker at a time, at most `maxThreads` at once, spare workers
// idle for the moment a force-stop takes one away (dispatch.ts hands them over). Each attempt is behind one handle
// (attempt.ts): its slot, ticket and thread never leave the pool, which hears how it ended, holds its end behind the
// lines it posted before, and carries out its cancel and terminate.
import type { MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import { Place, PooledAttempt, type AttemptDriver, type AttemptExit, type AttemptListener } from './attempt.js';
import { Dispatcher } from './dispatch.js';
import { WorkerBootError } from './errors.js';
import { ModuleLoads, type Load } from './module-loads.js';
import { ATTEMPTS_PER_THREAD, deathBackoff, MAX_LAUNCHES, type AttemptFields, type ChannelSink, type PoolOptions, type Rescue } from './pool-options.js';
import { Recycler } from './recycle.js';
import { describeDeath, terminateThread, ThreadWatch } from './threads.js';
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
  type WorkerBatch,
  type WorkerBootData,
  type WorkerBootedMessage,
} from './messages.js';
import { SharedSlots } from './slots.js';
import { captureStack, prepareStackCapture } from './stack-capture.js';

const entry = new URL('../workers/entry.cjs', import.meta.url).href;
/** The longest a force-stop's capture, terminate and replacement wait for what a spare was just given to start (ms). */
const SPARE_START_WAIT_MS = 20;

export class WorkerPool implements AttemptDriver {
  /** Attempts the pool takes at once: running, or waiting for a worker. */
  readonly capacity: number;
  readonly #piscina: Piscina<AttemptRequest, AttemptReply>;
  readonly #slots: SharedSlots;
  readonly #loads: ModuleLoads;
  readonly #threads: ThreadWatch;
  readonly #dispatch: Dispatcher;
  readonly #channels: ChannelSink;
  readonly #recycler: Recycler | undefined;
  readonly #logger: Logger;
  readonly #stackCaptureMs: number | undefined;
  // The attempt each slot holds, for the workers' messages that name a slot and a ticket.
  readonly #bySlot: Array<PooledAttempt | undefined> = [];
  #nextOrder = 0;
  // Attempts whose worker died under them since the last attempt that answered.
  #deathsInARow = 0;

  constructor(options: PoolOptions) {
    this.capacity = options.maxThreads * ATTEMPTS_PER_THREAD;
    this.#channels = options.channels;
    this.#logger = options.logger;
    this.#stackCaptureMs = options.stackCaptureMs;
    const recycler = (this.#recycler = options.recycle === undefined ? undefined : new Recycler(options.recycle));
    const slots = (this.#slots = new SharedSlots(this.capacity, options.recycle?.heapUsedMb !== undefined));
    this.#loads = new ModuleLoads(options.preload, options.loadTimeoutMs, options.logger, slots, (threadId, load, startedHere, text) =>
      this.#onLoadOverdue(threadId, load, startedHere, text),
    );
    const verified = new SharedArrayBuffer(Math.max(1, options.preload.length) * Int32Array.BYTES_PER_ELEMENT);
    const common = {
      flags: slots.flags.buffer as SharedArrayBuffer,
      stamps: slots.stamps.buffer as SharedArrayBuffer,
      beats: slots.beats.buffer as SharedArrayBuffer,
      consumed: slots.consumed.buffer as SharedArrayBuffer,
      preload: options.preload,
      verified,
      loadTimeoutMs: options.loadTimeoutMs,
    };
    const workerData: WorkerBootData = slots.heaps === undefined ? common : { ...common, heaps: slots.heaps.buffer as SharedArrayBuffer };
    // Before the first worker starts: see prepareStackCapture for why never later.
    if (options.stackCaptureMs !== undefined) prepareStackCapture();
    let dispatch: Dispatcher | undefined;
    this.#piscina = new Piscina<AttemptRequest, AttemptReply>({
      loadBalancer: (task, workers) => (dispatch as Dispatcher).balancer(task, workers),
      filename: entry,
      // One worker at first (its boot alone); the pool starts the rest, and each force-stopped worker's replacement as it
      // is terminated (ThreadWatch.topUp: hence the room), and retires idle ones above its full set (Dispatcher).
      minThreads: Math.min(1, options.minThreads + options.spareThreads),
      maxThreads: 2 * options.maxThreads + options.spareThreads,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
      recordTiming: false,
      resourceLimits: options.resourceLimits,
      workerData,
    });
    const threads = (this.#threads = new ThreadWatch(this.#piscina, options.minThreads + options.spareThreads, options.maxThreads + options.spareThreads, options.logger, {
      onBooted: () => {
        this.#dispatch.pump();
        this.#dispatch.watchIdle();
        if (threads.restDue && this.#dispatch.busy.size === 0) threads.startRest();
      },
      onBroken: (error) => this.#break(error),
      onGone: (alive) => {
        for (const id of this.#dispatch.busy.keys()) if (!alive.has(id)) this.#dispatch.busy.delete(id);
        recycler?.keepOnly(alive);
        this.#dispatch.pump();
      },
    }));
    dispatch = this.#dispatch = new Dispatcher(threads, options.maxThreads, {
      isDue: (id) => recycler?.isDue(id) === true,
      onAssign: (id) => recycler?.assigned(id),
      onReply: (attempt, reply) => {
        if (reply.end !== AttemptEnd.CANCELLED) this.#deathsInARow = 0;
        const threadId = attempt.threadId;
        this.#leftWorker(attempt);
        if (attempt.place !== Place.DONE) this.#end(attempt, { kind: 'reply', reply }, reply.posted === true ? threadId : 0, reply.batch);
      },
      onFailed: (attempt, error, launch) => this.#onLaunchFailed(attempt, error, launch),
    });
    dispatch.attach(this.#piscina);
    this.#piscina.on('message', (message: unknown) => {
      switch (messageType(message)) {
        case BOOTED_MESSAGE:
          threads.booted((message as WorkerBootedMessage).threadId);
          return;
        case LOADING_MESSAGE: {
          const loading = message as LoadingMessage;
          const attempt = this.#bySlot[loading.slot];
          this.#loads.begin(loading, attempt?.ticket === loading.ticket ? attempt : undefined);
          return;
        }
        case LOADED_MESSAGE:
          this.#loads.end((message as LoadedMessage).threadId);
          return;
        case BOOT_FAILED_MESSAGE:
          this.#break(new WorkerBootError(`no worker can start: the worker entry cannot be loaded: ${(message as BootFailedMessage).error}`));
          return;
        default:
          options.channels.onParentMessage(message);
      }
    });
    this.#piscina.on('error', (error: unknown) => {
      threads.lastError = error;
      options.onError(error);
    });
  }

  /**
   * Resolves once the pool holds its full set of workers (minThreads + spares), each booted, the processors that have
   * loaded before imported. Rejects with a `WorkerBootError` once no worker can boot.
   */
  ready(): Promise<void> {
    return this.#threads.ready();
  }

  /** Hands an attempt to the pool; `listener` hears of it. Call only while fewer than `capacity` are in hand. */
  run(fields: AttemptFields, listener: AttemptListener, transfer?: ReadonlyArray<ArrayBuffer | MessagePort>, rescue?: Rescue): PooledAttempt {
    const slot = this.#slots.take();
    if (slot === -1) throw new Error('WorkerPool.run: every slot is taken');
    const request = fields as { -readonly [K in keyof AttemptRequest]: AttemptRequest[K] };
    request.slot = slot;
    request.ticket = this.#slots.lastTicket;
    const attempt = new PooledAttempt(this, request, listener, transfer, this.#nextOrder++);
    this.#bySlot[slot] = attempt;
    // Its module failed to load in a way that cost a worker, or no worker can boot: it ends now, without a worker.
    const failure = this.#threads.broken ?? this.#loads.failureOf(request.processorIndex);
    if (failure !== undefined) {
      queueMicrotask(() => this.#endWithout(attempt, failure));
      return attempt;
    }
    this.#dispatch.enqueue(attempt);
    this.#dispatch.pump();
    // The caller's buffers must be gone once the call returns: not posted now, it waits over buffers of our own.
    if (rescue !== undefined && attempt.place === Place.WAITING) {
      const again = rescue();
      attempt.request = Object.assign(again.request, { slot, ticket: request.ticket });
      attempt.transfer = again.transfer;
    }
    return attempt;
  }

  #onLaunchFailed(attempt: PooledAttempt, error: unknown, launch: number): void {
    const threadId = attempt.threadId;
    const load = this.#loads.get(threadId);
    if (load !== undefined) this.#loads.end(threadId);
    this.#leftWorker(attempt);
    if (attempt.place === Place.DONE) return;
    const notStarted = Atomics.load(this.#slots.stamps, attempt.slot) === BigInt(attempt.ticket);
    // Its worker died while importing its processor module: the module may be the cause (its heap cap), or a timer an
    // earlier attempt left behind. A worker death, said so, and never run elsewhere at once (it could kill worker
    // after worker): retried as deaths are, with their backoff.
    if (notStarted && load !== undefined && load.slot === attempt.slot && load.ticket === attempt.ticket) {
      this.#deathsInARow++;
      const died = new Error(`the worker died while ${this.#loads.urlOf(load.index)} loaded: ${describeDeath(error)}`, { cause: error });
      if (this.#slots.startHere(attempt.slot, attempt.ticket) === 'waiting') this.#end(attempt, { kind: 'died', error: died }, 0, undefined);
      else this.#done(attempt);
      return;
    }
    if (notStarted) this.#threads.lastError = error; // a worker that dies as it boots may be telling why
    const broken = this.#threads.broken;
    if (notStarted && broken !== undefined) {
      this.#endWithout(attempt, broken);
      return;
    }
    // Its worker died before starting it (it was on its way there): it runs elsewhere, a few times at most.
    if (notStarted && launch < MAX_LAUNCHES && !this.#threads.destroyed) {
      this.#dispatch.enqueue(attempt);
      this.#dispatch.pump();
      return;
    }
    this.#deathsInARow++;
    this.#end(attempt, { kind: 'died', error }, threadId, undefined);
  }

  /** How long the retry of an attempt whose worker died waits (ms): see deathBackoff. */
  deathBackoffMs(): number {
    return deathBackoff(this.#deathsInARow);
  }

  // An attempt's launch has settled (or it was taken from its worker): it no longer occupies its worker, which is
  // retired now if it is due, and the waiting attempts are offered again.
  #leftWorker(attempt: PooledAttempt): void {
    const id = attempt.threadId;
    if (!this.#dispatch.leave(attempt, id)) return;
    // The rest of the pool's workers start once the first attempt's end is delivered (their spawns take the main thread).
    if (this.#threads.restDue) setImmediate(() => this.#threads.startRest());
    const recycler = this.#recycler;
    if (recycler !== undefined && !this.#threads.doomed.has(id)) {
      recycler.left(id, this.#slots.heapOf(attempt.slot));
      // Due: marked at once, and terminated on the next turn (not inside piscina's reply handler); its replacement
      // spawns when it has exited.
      if (recycler.isDue(id)) {
        recycler.retire(id);
        this.#threads.retire(id);
      }
    }
    this.#dispatch.pump();
  }

  // --- Ends, and the handle -----------------------------------------------------------------------------------------

  /**
   * Its end is heard once what its worker `threadId` posted before it is in, and `batch`, its reply's own (0: nothing
   * on the channel to read: it reached no worker, or its reply says it posted nothing there).
   */
  #end(attempt: PooledAttempt, exit: AttemptExit, threadId: number, batch: WorkerBatch | undefined): void {
    if (threadId === 0 && batch === undefined) {
      this.#deliver(attempt, exit);
      return;
    }
    attempt.held = exit;
    if (this.#channels.settle(threadId, threadId !== 0, batch, () => this.#deliver(attempt, exit))) this.#deliver(attempt, exit);
  }

  #deliver(attempt: PooledAttempt, exit: AttemptExit): void {
    if (attempt.place === Place.DONE) return;
    this.#done(attempt);
    attempt.listener.attemptEnded(attempt, exit);
  }

  /** Nothing more is said of it; its slot goes back (its start read first). */
  #done(attempt: PooledAttempt): void {
    attempt.place = Place.DONE;
    attempt.held = undefined;
    if (attempt.slotFreed) return;
    attempt.slotFreed = true;
    attempt.startedAtWhenFreed = this.#slots.startedAt(attempt.slot);
    if (this.#bySlot[attempt.slot] === attempt) this.#bySlot[attempt.slot] = undefined;
    this.#slots.release(attempt.slot);
  }

  /** An attempt that never reaches a worker ends with the pool's failure (a load failure's text, or a boot error). */
  #endWithout(attempt: PooledAttempt, failure: string | WorkerBootError): void {
    if (attempt.place === Place.DONE) return;
    if (this.#slots.startHere(attempt.slot, attempt.ticket) !== 'waiting') this.#done(attempt);
    else if (typeof failure === 'string') this.#deliver(attempt, { kind: 'reply', reply: { end: AttemptEnd.LOAD_FAILED, msg: failure } });
    else this.#deliver(attempt, { kind: 'died', error: failure });
  }

  startedAtOf(attempt: PooledAttempt): number | null {
    return attempt.slotFreed ? attempt.startedAtWhenFreed : this.#slots.startedAt(attempt.slot);
  }

  heartbeatsOf(attempt: PooledAttempt): number {
    return attempt.slotFreed ? -1 : this.#slots.beatsOf(attempt.slot);
  }

  hasEnded(attempt: PooledAttempt): boolean {
    return attempt.held === undefined && !attempt.slotFreed && this.#slots.hasEnded(attempt.slot);
  }

  interrupt(attempt: PooledAttempt): void {
    if (!attempt.slotFreed) this.#slots.interrupt(attempt.slot);
  }

  cancel(attempt: PooledAttempt): boolean {
    if (attempt.place === Place.DONE || !this.#slots.cancel(attempt.slot, attempt.ticket)) return false;
    // Given to a worker already, it answers at once without running it, and its launch settles unheard.
    this.#dispatch.withdraw(attempt);
    this.#done(attempt);
    return true;
  }

  terminate(attempt: PooledAttempt): boolean {
    if (attempt.place === Place.DONE) return false;
    if (attempt.held !== undefined) {
      // It has ended: its end is here, held only while its last messages are taken in. There is nothing to terminate
      // (its worker is free, and may run another instance's attempt by now): the end is taken as it is.
      this.#deliver(attempt, attempt.held);
      return false;
    }
    const id = attempt.threadId;
    const spare = this.#dispatch.idleWorker(); // what comes next runs on it
    attempt.launch++; // the rejection its worker's end brings is not its end
    this.#threads.doomed.add(id);
    this.#leftWorker(attempt);
    this.#done(attempt);
    // Once the caller's turn is over (what it dispatches goes to the spare): its stack (bounded), the terminate, and its
    // replacement's boot; that at once with no spare. With one, what it was just given starts first: the three would
    // take the CPU it starts on (on two cores its start went from 1.3 to 2.4 ms p50).
    queueMicrotask(() => {
      this.#dispatch.pump();
      if (spare === 0) this.#threads.topUp();
      const next = spare === 0 ? undefined : this.#dispatch.busy.get(spare);
      void (next === undefined ? Promise.resolve() : this.#slots.started(next.slot, next.ticket, SPARE_START_WAIT_MS)).then(() => {
        const worker = this.#threads.workerOf(id);
        const timeoutMs = this.#stackCaptureMs;
        return timeoutMs === undefined || worker === undefined ? undefined : captureStack(worker, { timeoutMs, logger: this.#logger });
      }).then((found) => (this.#threads.topUp(), terminateThread(this.#threads, id))
        .then((exited) => attempt.listener.attemptEnded(attempt, { kind: 'terminated', exited, stack: found })));
    });
    return true;
  }

  chunksConsumed(attempt: PooledAttempt, count: number): void {
    if (!attempt.slotFreed) this.#slots.consume(attempt.slot, count);
  }

  // --- Overdue imports, broken boots -------------------------------------------------------------------------------

  #onLoadOverdue(threadId: number, load: Load, startedHere: boolean, text: string): void {
    const attempt = load.attempt;
    if (attempt !== undefined && attempt.place !== Place.DONE) {
      attempt.launch++; // the rejection its worker's end brings is not its end
      this.#leftWorker(attempt);
      if (startedHere) this.#deliver(attempt, { kind: 'reply', reply: { end: AttemptEnd.LOAD_FAILED, msg: text } });
      else this.#done(attempt);
    }
    this.#threads.doomed.add(threadId);
    void terminateThread(this.#threads, threadId);
    this.#threads.topUp();
    setImmediate(() => this.#dispatch.pump());
  }

  /** No worker can boot: every attempt waiting for a worker, or run later, fails with `error`. */
  #break(error: WorkerBootError): void {
    if (!this.#threads.break(error)) return;
    for (const attempt of this.#dispatch.withdrawAll()) this.#endWithout(attempt, error);
  }

  // --- Counts, and the end --------------------------------------------------------------------------------------------

  /** The attempt in `slot` with `ticket`, while it is current: its worker's messages are its own. */
  attemptAt(slot: number, ticket: number): PooledAttempt | undefined {
    const attempt = this.#bySlot[slot];
    return attempt !== undefined && attempt.ticket === ticket ? attempt : undefined;
  }

  /** The live worker threads. */
  get threads(): number {
    return this.#piscina.threads.length;
  }

  /** Live worker threads running no attempt. */
  get idleThreads(): number {
    return Math.max(0, this.#piscina.threads.length - this.#dispatch.busy.size);
  }

  get workersStarted(): number {
    return this.#threads.started;
  }

  get workersRetired(): number {
    return this.#recycler?.retired ?? 0;
  }

  /** Threads force-stopped that have not exited (their ids). */
  get stuckThreads(): readonly number[] {
    return [...this.#threads.stuck];
  }

  destroy(): Promise<void> {
    this.#loads.clear();
    this.#dispatch.stopIdleWatch();
    return this.#threads.destroy();
  }
}
