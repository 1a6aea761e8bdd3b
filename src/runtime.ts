// The runtime (PowerJob's LightTaskTrackerManager and WorkerRuntime together): the wiring of its parts — the registry
// of live trackers and its admission limit, the queue of instances waiting for a slot, the worker pool, the report
// sender and the processor log — and close().
import type { Logger } from 'pino';
import type { Processor, StreamProcessor } from '../workers/processor.js';
import { checkDeadline } from './checks.js';
import { AdmissionLimitError, DuplicateInstanceError, InstanceError, RuntimeClosedError, describeValue } from './errors.js';
import { keySet, refuseUnknownOptions } from './keys.js';
import { defaultLogger, type ResolvedOptions, type TaskRuntimeOptions } from './options.js';
import { resolveOptions } from './resolve-options.js';
import { MapResults } from './map.js';
import type { MapItems, MapSettled } from './map-types.js';
import type { MapOptions } from './map-options.js';
import { WorkerPool } from './pool.js';
import { Metrics, type MetricsListener, type MetricsSnapshot } from './metrics.js';
import { FifoQueue } from './queue.js';
import { ReleasingMap } from './releasing-map.js';
import { resolveRegistry } from './registry.js';
import { ReportSender, type ReportCounters } from './report-sender.js';
import { acceptRequest, checkRunOptions, type Admission, type SubmitRequest } from './request.js';
import { OutcomeStatus } from './status.js';
import { StreamResults } from './stream.js';
import type { StreamOptions } from './stream-options.js';
import { kCallerAbort, kListenMetrics, kReportTick, kStart, kStopForClose } from './symbols.js';
import { Tracker } from './tracker.js';
import type { ChunkSink, TrackerHost } from './tracker-host.js';
import { WorkerChannels } from './worker-channel.js';

/** The type of a processor module, as `typeof import('./processor.js')`: its default export is a processor. */
export interface ProcessorModule {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly default: Processor<any, any, any, any> | StreamProcessor<any, any, any, any, any>;
}

/** The types of a registry: processor name → the type of its module. */
export type ProcessorModules = Record<string, ProcessorModule>;

/** What the processor of a module takes as `jobParams`. */
export type ParamsOf<M> = M extends { readonly default: Processor<infer P, infer _V, infer _G, infer _S> } ? P
  : M extends { readonly default: StreamProcessor<infer P, infer _C, infer _V, infer _G, infer _S> } ? P : unknown;
/** What the processor of a module returns as its `value` (a stream processor: its generator's return value). */
export type ValueOf<M> = M extends { readonly default: Processor<infer _P, infer V, infer _G, infer _S> } ? V
  : M extends { readonly default: StreamProcessor<infer _P, infer _C, infer V, infer _G, infer _S> } ? V : unknown;
/** What the processor of a module reports as its progress. */
export type ProgressOf<M> = M extends { readonly default: Processor<infer _P, infer _V, infer G, infer _S> } ? G
  : M extends { readonly default: StreamProcessor<infer _P, infer _C, infer _V, infer G, infer _S> } ? G : unknown;
/** What the processor of a module keeps as its checkpoints (`ctx.checkpoint`), and so takes as `resumeFrom`. */
export type CheckpointOf<M> = M extends { readonly default: Processor<infer _P, infer _V, infer _G, infer S> } ? S
  : M extends { readonly default: StreamProcessor<infer _P, infer _C, infer _V, infer _G, infer S> } ? S : unknown;
/** What the stream processor of a module yields as its chunks. */
export type ChunkOf<M> = M extends { readonly default: StreamProcessor<infer _P, infer C, infer _V, infer _G, infer _S> } ? C : unknown;

/** The names of a registry's processors that `submit()`, `run()` and `map()` take: all but its stream processors. */
export type RunName<M> = { [K in keyof M & string]: M[K] extends { readonly default: { readonly kind: 'stream' } } ? never : K }[keyof M & string];
/** The names of a registry's processors that `stream()` takes: all but those known not to be stream processors. */
export type StreamName<M> = { [K in keyof M & string]: M[K] extends { readonly default: { readonly kind: 'run' } } ? never : K }[keyof M & string];

/** `runtime.run()`'s options: the rest of a submit request. `S` is the type of its `resumeFrom`. */
export type RunOptions<S = unknown> = Omit<SubmitRequest<string, unknown, S>, 'processor' | 'jobParams'>;

/**
 * run()'s arguments after the processor's name (stream()'s with `O`): `jobParams` may be left out only when the
 * processor takes none.
 */
export type RunArguments<P, O = RunOptions> = undefined extends P ? [jobParams?: P, options?: O] : [jobParams: P, options?: O];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyTracker = Tracker<any, any, any>;

/** Counters since the runtime was made. */
export interface RuntimeStats extends ReportCounters {
  /** Instances accepted by `submit()`. */
  submitted: number;
}

/** What `runtime.close()` takes. */
export interface RuntimeCloseOptions {
  /**
   * How long `close()` waits for final reports still being delivered (ms, from this call): then every one of them
   * is given up — its try aborted, logged as lost and counted in `stats.reportsLost`. 0 to 2^31-1.
   * @default undefined (each report gets its whole retry budget: up to `finalReportRetries + 1` tries)
   */
  readonly reportDeadlineMs?: number;
}

const CLOSE_OPTION_KEYS = keySet({ reportDeadlineMs: true } satisfies Record<keyof RuntimeCloseOptions, true>);

/**
 * Runs job instances in worker threads, each under a tracker. `M` types the registry (processor name → the type of
 * its module): `new TaskRuntime<{ hash: typeof import('./hash.js') }>(…)` makes `run('hash', params)` check
 * `params` and resolve with the processor's value type.
 */
export class TaskRuntime<M extends ProcessorModules = Record<string, { readonly default: Processor | StreamProcessor }>> {
  readonly #options: ResolvedOptions;
  /** What each submit is checked against (made once: submit() passes it on every call). */
  readonly #admission: Admission;
  readonly #logger: Logger;
  readonly #reports: ReportSender;
  readonly #pool: WorkerPool;
  readonly #host: TrackerHost;
  readonly #live = new ReleasingMap<string, AnyTracker>();
  readonly #queue = new FifoQueue<AnyTracker>();
  readonly #metrics: Metrics;
  /** The workers' channels: their attempts' log lines, progress values and starts. */
  readonly #channels: WorkerChannels;
  /** Instances dispatched to the pool and not yet finished (or force-stopped): at most the pool's capacity. */
  #dispatched = 0;
  #submitted = 0;
  #closing: Promise<void> | undefined;
  #onEmpty: (() => void) | undefined;

  constructor(options: TaskRuntimeOptions<M>) {
    this.#options = resolveOptions(options);
    const registry = resolveRegistry(options.processors);
    this.#admission = { registry, maxParamsBytes: this.#options.maxParamsBytes, admit: (id) => this.#admit(id), heartbeatTimeoutMs: this.#options.heartbeatTimeoutMs };
    const logger = (this.#logger = this.#options.logger ?? defaultLogger());
    this.#reports = new ReportSender(this.#options, logger);
    this.#metrics = new Metrics(this.#options.metricsWindowMs);
    const channels = (this.#channels = new WorkerChannels({
      logger,
      onProcessorLog: this.#options.onProcessorLog,
      rate: this.#options.processorLogRate,
      burst: this.#options.processorLogBurst,
      metrics: this.#metrics,
      attemptAt: (slot, ticket) => this.#pool.attemptAt(slot, ticket),
    }));
    this.#pool = new WorkerPool({
      minThreads: this.#options.minThreads,
      maxThreads: this.#options.maxThreads,
      spareThreads: this.#options.spareThreads,
      resourceLimits: this.#options.resourceLimits,
      channels,
      onError: (error) => logger.error({ err: error }, 'a worker failed outside any attempt'),
      preload: registry.urls,
      loadTimeoutMs: this.#options.loadTimeoutMs,
      logger,
      recycle: this.#options.recycleWorkers,
      stackCaptureMs: this.#options.captureStack ? this.#options.stackCaptureMs : undefined,
    });
    this.#reports.startTicker((now) => {
      for (const tracker of this.#live.values()) tracker[kReportTick](now);
    });
    this.#host = {
      options: this.#options,
      logger,
      pool: this.#pool,
      reportRunning: (report) => this.#reports.running(report),
      onProgress: (instanceId, attempt, value) => this.#callBack('onProgress', this.#options.onProgress, { instanceId, attempt, value }),
      onCheckpoint: (instanceId, attempt, state) => this.#callBack('onCheckpoint', this.#options.onCheckpoint, { instanceId, attempt, state }),
      reportFinal: (report) => this.#reports.final(report),
      metrics: this.#metrics,
      release: () => {
        this.#dispatched--;
        this.#dispatch();
      },
      forget: (tracker) => {
        this.#live.delete(tracker.instanceId);
        if (this.#live.size === 0) this.#onEmpty?.();
      },
    };
  }

  /** Hands `event` to the application's callback `name`, if it gave one; a throw is logged, never passed on. */
  #callBack<E extends { readonly instanceId: string }>(name: string, callback: ((event: E) => void) | undefined, event: E): void {
    if (callback === undefined) return;
    try {
      callback(event);
    } catch (error) {
      this.#logger.warn({ instanceId: event.instanceId, err: error }, `${name} threw`);
    }
  }

  /**
   * Accepts one instance and returns its tracker at once; the instance runs when a worker is free.
   * Throws a `TaskTrackerError` subclass, and builds nothing, when the request is refused.
   */
  submit<K extends RunName<M>>(request: SubmitRequest<K, ParamsOf<M[K]>, CheckpointOf<M[K]>>): Tracker<ValueOf<M[K]>, ProgressOf<M[K]>, CheckpointOf<M[K]>> {
    return this.#submit(request, undefined) as Tracker<ValueOf<M[K]>, ProgressOf<M[K]>, CheckpointOf<M[K]>>;
  }

  // submit(), and stream() with its sink.
  #submit(request: SubmitRequest, sink: ChunkSink | undefined): AnyTracker {
    if (this.#closing !== undefined) throw new RuntimeClosedError();
    const accepted = acceptRequest(request, this.#admission);
    const tracker: AnyTracker = new Tracker(this.#host, accepted, sink);
    this.#live.set(tracker.instanceId, tracker);
    this.#submitted++;
    if (accepted.signal?.aborted === true) {
      tracker[kCallerAbort]();
    } else {
      this.#queue.push(tracker);
      this.#dispatch();
    }
    // The caller's moved buffers are gone once submit() returns: posted with the attempt that just started, or
    // taken into buffers of ours while the instance waits (a no-op for every other request).
    accepted.params.own();
    return tracker;
  }

  /**
   * Submits one instance and resolves with its processor's `value` once it succeeds; rejects with an
   * `InstanceError` (`ERR_INSTANCE_FAILED` or `ERR_INSTANCE_STOPPED`, with the whole `outcome`) otherwise, and
   * with the submit's own refusal (a `TaskTrackerError`) when the request is refused. `options` is the rest of a
   * submit request (`timeoutMs`, `maxRetries`, `instanceId`, `signal`, …).
   */
  run<K extends RunName<M>>(processor: K, ...args: RunArguments<ParamsOf<M[K]>, RunOptions<CheckpointOf<M[K]>>>): Promise<ValueOf<M[K]>> {
    const [jobParams, options] = args;
    let tracker: Tracker<ValueOf<M[K]>, ProgressOf<M[K]>, CheckpointOf<M[K]>>;
    try {
      checkRunOptions(options);
      const request = options === undefined ? { processor, jobParams } : { ...options, processor, jobParams };
      tracker = this.submit(request as SubmitRequest<K, ParamsOf<M[K]>, CheckpointOf<M[K]>>);
    } catch (error) {
      return Promise.reject(error);
    }
    return tracker.done.then((outcome) => {
      if (outcome.status === OutcomeStatus.SUCCEED) return outcome.value as ValueOf<M[K]>;
      throw new InstanceError(tracker.instanceId, outcome);
    });
  }

  /**
   * Runs the processor once per item of `items` (any iterable or async iterable of its `jobParams`), at most
   * `options.concurrency` instances at once (default `maxThreads`), and returns an async iterable of their values:
   * in the order of the items, or as they end with `ordered: false`. Items are pulled as room comes. The first item
   * that fails makes the iteration throw (a `MapInstanceError`, with its `index`) and stops the others; with
   * `settle: true` each item yields `{ index, outcome }` instead. Leaving the loop stops the instances in flight.
   * `options` also takes the request fields each instance gets (`timeoutMs`, `maxRetries`, `signal`, …). Throws an
   * `InvalidRequestError` at once for items that are not iterable or options that are wrong; see docs/api.md.
   */
  map<K extends RunName<M>>(processor: K, items: MapItems<ParamsOf<M[K]>>, options: MapOptions<CheckpointOf<M[K]>> & { readonly settle: true }): MapResults<MapSettled<ValueOf<M[K]>>>;
  map<K extends RunName<M>>(processor: K, items: MapItems<ParamsOf<M[K]>>, options?: MapOptions<CheckpointOf<M[K]>> & { readonly settle?: false }): MapResults<ValueOf<M[K]>>;
  map<K extends RunName<M>>(processor: K, items: MapItems<ParamsOf<M[K]>>, options?: MapOptions<CheckpointOf<M[K]>>): MapResults<ValueOf<M[K]> | MapSettled<ValueOf<M[K]>>>;
  map(processor: string, items: MapItems<unknown>, options?: MapOptions): MapResults<unknown> {
    return new MapResults(this as unknown as TaskRuntime, processor, items, options);
  }

  /**
   * Submits one instance of a stream processor (an async generator function) and returns an async iterable of the
   * chunks it yields, in order, with its `tracker` and its outcome (`done`, whose `value` is the generator's return
   * value). The generator is not resumed while `options.highWaterMark` (default 16) of its chunks are not consumed by
   * the loop. Leaving the loop stops the instance; an instance that does not succeed makes the loop throw its
   * `InstanceError` after the chunks that reached this thread. A stream that has delivered a chunk is never retried.
   * `options` are run()'s and `highWaterMark`; a refused request throws at once, as `submit()` does. See docs/api.md.
   */
  stream<K extends StreamName<M>>(processor: K, ...args: RunArguments<ParamsOf<M[K]>, StreamOptions<CheckpointOf<M[K]>>>): StreamResults<ChunkOf<M[K]>, ValueOf<M[K]>, ProgressOf<M[K]>, CheckpointOf<M[K]>> {
    const [jobParams, options] = args;
    return new StreamResults(processor, jobParams, options, this.#submitStream);
  }

  // Made once: every stream() passes it.
  readonly #submitStream = (request: SubmitRequest, sink: ChunkSink): AnyTracker => this.#submit(request, sink);

  #admit(instanceId: string): void {
    if (this.#live.has(instanceId)) throw new DuplicateInstanceError(instanceId);
    if (this.#live.size >= this.#options.maxInstances) throw new AdmissionLimitError(this.#options.maxInstances);
  }

  /** The live tracker with this id (queued, running, or awaiting its final report). */
  get(instanceId: string): AnyTracker | undefined {
    return this.#live.get(instanceId);
  }

  /** Stops the live instance with this id; returns false when there is none. */
  stop(instanceId: string): boolean {
    const tracker = this.#live.get(instanceId);
    if (tracker === undefined) return false;
    tracker.stop();
    return true;
  }

  /** Live instances: queued, running, or awaiting their final report. */
  get size(): number {
    return this.#live.size;
  }

  /**
   * Resolves once every worker of the pool (minThreads + spareThreads) has booted and imported the registry's
   * processors: an instance submitted then starts without waiting for a thread to start. Optional: instances
   * submitted earlier simply wait for their worker. Also useful after a force-stop, while the replacement boots.
   * A processor is imported on its first use in each worker: once it has loaded in one, the workers that boot later
   * import it before they count as booted. Rejects with a `WorkerBootError` when no worker can boot. Once `close()`
   * has begun it resolves at once.
   */
  ready(): Promise<void> {
    return this.#closing === undefined ? this.#pool.ready() : Promise.resolve();
  }

  /** Instances that run at once (`maxThreads`, resolved). */
  get maxThreads(): number {
    return this.#options.maxThreads;
  }

  /** This runtime's address, as written into its reports (`address`, resolved). */
  get address(): string {
    return this.#options.address;
  }

  /** The worker threads alive now. */
  get threads(): number {
    return this.#pool.threads;
  }

  /** A snapshot of the runtime's counters. */
  get stats(): Readonly<RuntimeStats> {
    return { submitted: this.#submitted, ...this.#reports.counters };
  }

  /**
   * A snapshot of the runtime: counts now, counters since it was made, and per processor the wait-time and run-time
   * distributions over the last `metricsWindowMs` (see docs/observability.md). A plain object, made afresh.
   */
  metrics(): MetricsSnapshot {
    const pool = this.#pool;
    const live = this.#live.size;
    const queued = this.#queue.size;
    const running = this.#dispatched;
    return this.#metrics.snapshot({
      live,
      queued,
      running,
      awaitingReport: Math.max(0, live - queued - running),
      threads: pool.threads,
      idleThreads: pool.idleThreads,
      workersStarted: pool.workersStarted,
      workersRetired: pool.workersRetired,
      stuckThreads: pool.stuckThreads.length,
      maxThreads: this.#options.maxThreads,
      submitted: this.#submitted,
      ...this.#reports.counters,
    });
  }

  /** Starts the distributions and `utilization` of `metrics()` afresh; the counters since the runtime was made stay. */
  resetMetrics(): void {
    this.#metrics.reset();
  }

  /** Adds a listener of each wait and run sample `metrics()` records; returns its removal. Not public (a symbol). */
  [kListenMetrics](listener: MetricsListener): () => void {
    return this.#metrics.listen(listener);
  }

  /**
   * Refuses new work, stops every live instance (interrupt, then terminate after the grace, even with
   * `allowForceStop: false`), waits for every final report to be delivered or given up, and destroys the pool.
   * Every call returns the same promise; a call with `reportDeadlineMs` may bring the deadline closer.
   */
  close(options: RuntimeCloseOptions = {}): Promise<void> {
    if (typeof options !== 'object' || options === null) throw new TypeError(`close: options must be an object, got ${describeValue(options)}`);
    refuseUnknownOptions('close', options, CLOSE_OPTION_KEYS);
    const deadlineMs = options.reportDeadlineMs === undefined ? undefined : checkDeadline('close: options.reportDeadlineMs', options.reportDeadlineMs);
    this.#closing ??= this.#close();
    if (deadlineMs !== undefined) this.#reports.giveUpAfter(deadlineMs, this.#closing);
    return this.#closing;
  }

  async #close(): Promise<void> {
    const empty = new Promise<void>((resolve) => {
      this.#onEmpty = resolve;
    });
    for (const tracker of [...this.#live.values()]) tracker[kStopForClose]();
    if (this.#live.size > 0) await empty;
    this.#reports.stopTicker();
    this.#queue.clear();
    await this.#pool.destroy();
    this.#channels.close();
    const stuck = this.#pool.stuckThreads;
    if (stuck.length > 0) {
      this.#logger.error(
        { threadIds: stuck },
        'closed with threads that could not be stopped: blocked in a system call or in native code, they run until it returns, and the process cannot exit before',
      );
    }
  }

  // Starts queued instances while the pool has room; a tracker stopped while queued declines, and the room goes on.
  #dispatch(): void {
    const capacity = this.#pool.capacity;
    while (this.#queue.size > 0 && this.#dispatched < capacity) {
      const tracker = this.#queue.shift() as AnyTracker;
      this.#dispatched++;
      if (!tracker[kStart]()) this.#dispatched--;
    }
  }
}
