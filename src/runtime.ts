// The runtime: owns the worker pool, the registry of live trackers, the admission limit, the dispatch queue,
// the reporter and the logger (PowerJob's LightTaskTrackerManager and WorkerRuntime together).
import { setMaxListeners } from 'node:events';
import { pino, type Logger } from 'pino';
import { AdmissionLimitError, DuplicateInstanceError, ReportDeliveryError, RuntimeClosedError, describeValue } from './errors.js';
import { MAX_TIMER_MS, resolveOptions, type ResolvedOptions, type TaskRuntimeOptions } from './options.js';
import { WorkerPool } from './pool.js';
import { isWorkerLogMessage } from './protocol.js';
import { resolveRegistry, type ProcessorRegistry } from './registry.js';
import type { Reporter, StatusReport } from './report.js';
import { acceptRequest, type SubmitRequest } from './request.js';
import { isPromiseLike, retry, type RetryPolicy } from './retry.js';
import { kLogLine, kReportTick, kStart, kStopForClose, Tracker, type TrackerHost } from './tracker.js';

/** Counters since the runtime was made. */
export interface RuntimeStats {
  /** Instances accepted by `submit()`. */
  submitted: number;
  /** Final reports delivered (on their first try or a retry). */
  reportsDelivered: number;
  /** Tries of a final report that failed and were retried. */
  reportsRetried: number;
  /** Final reports given up after `finalReportRetries` retries (each also logged as an error). */
  reportsLost: number;
  /** RUNNING reports whose delivery failed (logged as warnings; the next period sends a fresher one). */
  runningReportsFailed: number;
}

const LOG_LEVELS = new Set(['debug', 'info', 'warn', 'error']);

/** What `close()` takes. */
export interface CloseOptions {
  /**
   * How long `close()` waits for final reports still being delivered (ms, from this call): then every one of them
   * is given up — its try aborted, logged as lost and counted in `stats.reportsLost`. 0 to 2^31-1.
   * @default undefined (each report gets its whole retry budget: up to `finalReportRetries + 1` tries)
   */
  readonly reportDeadlineMs?: number;
}

function closeDeadline(options: CloseOptions): number | undefined {
  if (typeof options !== 'object' || options === null) throw new TypeError(`close: options must be an object, got ${describeValue(options)}`);
  const value = options.reportDeadlineMs;
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`close: options.reportDeadlineMs must be a number of ms, got ${describeValue(value)}`);
  if (value < 0 || value > MAX_TIMER_MS) throw new RangeError(`close: options.reportDeadlineMs must be from 0 to ${MAX_TIMER_MS} ms, got ${value}`);
  return value;
}

export class TaskRuntime {
  readonly #options: ResolvedOptions;
  readonly #registry: ProcessorRegistry;
  readonly #logger: Logger;
  readonly #reporter: Reporter;
  readonly #reportPolicy: RetryPolicy;
  readonly #pool: WorkerPool;
  readonly #host: TrackerHost;
  readonly #live = new Map<string, Tracker>();
  // FIFO of trackers waiting for a slot; `#queueHead` is the next to take (a shift-free array queue).
  #queue: Tracker[] = [];
  #queueHead = 0;
  #closing: Promise<void> | undefined;
  // One timer for every instance's RUNNING reports (a timer per instance would cost on every dispatch).
  readonly #reportTicker: NodeJS.Timeout;
  #onEmpty: (() => void) | undefined;
  // Aborted when close()'s reportDeadlineMs passes: every final report still being delivered is given up.
  readonly #giveUpReports = new AbortController();
  readonly #stats: RuntimeStats = { submitted: 0, reportsDelivered: 0, reportsRetried: 0, reportsLost: 0, runningReportsFailed: 0 };

  constructor(options: TaskRuntimeOptions) {
    this.#options = resolveOptions(options);
    this.#registry = resolveRegistry(options.processors);
    const logger = (this.#logger = this.#options.logger ?? pino({ name: 'light-task-tracker' }));
    this.#reporter = this.#options.reporter ?? { report: (report) => logger.debug({ report }, 'status report') };
    // Every final report being delivered listens to it (one listener each, removed when its try or pause ends):
    // as many as there are live instances, not a leak, so no listener-count warning.
    setMaxListeners(0, this.#giveUpReports.signal);
    this.#reportPolicy = {
      retries: this.#options.finalReportRetries,
      timeoutMs: this.#options.reportTimeoutMs,
      backoffMs: this.#options.reportBackoffMs,
      backoffMaxMs: this.#options.reportBackoffMaxMs,
      // A reporter whose report() declares no second parameter takes no signal: spare it an AbortController.
      trySignals: this.#reporter.report.length >= 2,
    };
    this.#pool = new WorkerPool({
      minThreads: this.#options.minThreads,
      maxThreads: this.#options.maxThreads,
      spareThreads: this.#options.spareThreads,
      resourceLimits: this.#options.resourceLimits,
      onMessage: (message) => this.#onWorkerMessage(message),
      onError: (error) => logger.error({ err: error }, 'a worker failed outside any attempt'),
      preload: this.#registry.urls,
    });
    const period = this.#options.statusReportIntervalMs;
    // Unref'd: the ticker alone is no reason to keep the process alive. Reports come at most one tick late.
    this.#reportTicker = setInterval(() => this.#reportTick(), Math.min(1000, Math.max(5, period / 20))).unref();
    this.#host = {
      options: this.#options,
      logger,
      pool: this.#pool,
      processorName: (index) => this.#registry.names[index] ?? String(index),
      reportRunning: (report) => this.#reportRunning(report),
      reportFinal: (report) => this.#reportFinal(report),
      releaseSlot: (slot) => {
        this.#pool.releaseSlot(slot);
        this.#dispatch();
      },
      forget: (tracker) => {
        this.#live.delete(tracker.instanceId);
        if (this.#live.size === 0) this.#onEmpty?.();
      },
    };
  }

  /**
   * Accepts one instance and returns its tracker at once; the instance runs when a worker is free.
   * Throws a `TaskTrackerError` subclass, and builds nothing, when the request is refused.
   */
  submit(request: SubmitRequest): Tracker {
    if (this.#closing !== undefined) throw new RuntimeClosedError();
    const accepted = acceptRequest(request, this.#registry, this.#options.maxParamsBytes, this.#admit);
    const tracker = new Tracker(this.#host, accepted);
    this.#live.set(tracker.instanceId, tracker);
    this.#stats.submitted++;
    if (accepted.signal?.aborted === true) {
      tracker.stop();
      return tracker;
    }
    this.#queue.push(tracker);
    this.#dispatch();
    return tracker;
  }

  // Made once: submit() passes it on every call.
  readonly #admit = (instanceId: string): void => {
    if (this.#live.has(instanceId)) throw new DuplicateInstanceError(instanceId);
    if (this.#live.size >= this.#options.maxInstances) throw new AdmissionLimitError(this.#options.maxInstances);
  };

  /** The live tracker with this id (queued, running, or awaiting its final report). */
  get(instanceId: string): Tracker | undefined {
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
   * Once `close()` has begun it resolves at once.
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
    return { ...this.#stats };
  }

  /**
   * Refuses new work, stops every live instance (interrupt, then terminate after the grace, even with
   * `allowForceStop: false`), waits for every final report to be delivered or given up, and destroys the pool.
   * Every call returns the same promise; a call with `reportDeadlineMs` may bring the deadline closer.
   */
  close(options: CloseOptions = {}): Promise<void> {
    const deadlineMs = closeDeadline(options);
    this.#closing ??= this.#close();
    if (deadlineMs !== undefined) {
      // Unref'd: what keeps the process alive until then is the reports themselves, not this timer.
      const timer = setTimeout(() => this.#giveUpReports.abort(new ReportDeliveryError(`runtime closed: its reportDeadlineMs (${deadlineMs} ms) has passed`)), deadlineMs).unref();
      const clear = (): void => clearTimeout(timer);
      this.#closing.then(clear, clear);
    }
    return this.#closing;
  }

  #reportTick(): void {
    if (this.#live.size === 0) return;
    const now = Date.now();
    for (const tracker of this.#live.values()) tracker[kReportTick](now);
  }

  async #close(): Promise<void> {
    const empty = new Promise<void>((resolve) => {
      this.#onEmpty = resolve;
    });
    for (const tracker of [...this.#live.values()]) tracker[kStopForClose]();
    if (this.#live.size > 0) await empty;
    clearInterval(this.#reportTicker);
    this.#queue = [];
    this.#queueHead = 0;
    await this.#pool.destroy();
  }

  // Starts queued instances while slots are free.
  #dispatch(): void {
    while (this.#queueHead < this.#queue.length && this.#pool.hasFreeSlot) {
      const tracker = this.#queue[this.#queueHead] as Tracker;
      this.#queue[this.#queueHead++] = undefined as unknown as Tracker;
      // A tracker stopped while queued declines; its slot goes to the next one.
      const slot = this.#pool.takeSlot();
      if (!tracker[kStart](slot)) this.#pool.releaseSlot(slot);
    }
    if (this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
    } else if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }

  #reportRunning(report: StatusReport): void {
    const failed = (error: unknown): void => {
      this.#stats.runningReportsFailed++;
      this.#logger.warn({ instanceId: report.instanceId, err: error }, 'RUNNING report failed');
    };
    try {
      const pending = this.#reporter.report(report);
      if (pending !== undefined) Promise.resolve(pending).catch(failed);
    } catch (error) {
      failed(error);
    }
  }

  // Returns undefined when the reporter took the report synchronously: the tracker is then destroyed at once.
  #reportFinal(report: StatusReport): Promise<void> | undefined {
    const onRetry = (error: unknown, tryNumber: number, delayMs: number): void => {
      this.#stats.reportsRetried++;
      this.#logger.warn(
        { instanceId: report.instanceId, status: report.status, err: error, try: tryNumber + 1, retryInMs: delayMs },
        'final report failed: retrying',
      );
    };
    const answer = retry((signal) => this.#reporter.report(report, signal), this.#reportPolicy, onRetry, undefined, this.#giveUpReports.signal);
    if (!isPromiseLike(answer)) {
      this.#stats.reportsDelivered++;
      return undefined;
    }
    return Promise.resolve(answer).then(
      () => {
        this.#stats.reportsDelivered++;
      },
      (error: unknown) => {
        this.#stats.reportsLost++;
        const gaveUp = this.#giveUpReports.signal.aborted;
        this.#logger.error(
          { instanceId: report.instanceId, err: error, report, tries: gaveUp ? undefined : this.#reportPolicy.retries + 1 },
          gaveUp ? "final report lost: close()'s reportDeadlineMs passed" : 'final report lost: every try failed',
        );
      },
    );
  }

  #onWorkerMessage(message: unknown): void {
    if (!isWorkerLogMessage(message) || !LOG_LEVELS.has(message.level)) return;
    const fields = typeof message.fields === 'object' && message.fields !== null ? message.fields : undefined;
    this.#logger[message.level]({ ...fields, instanceId: message.instanceId, source: 'processor' }, message.msg);
    const attempt = typeof message.attempt === 'number' ? message.attempt : -1;
    const onLog = this.#options.onProcessorLog;
    if (onLog !== undefined) {
      try {
        onLog({ instanceId: message.instanceId, attempt, level: message.level, msg: message.msg, fields });
      } catch (error) {
        this.#logger.warn({ instanceId: message.instanceId, err: error }, 'onProcessorLog threw');
      }
    }
    this.#live.get(message.instanceId)?.[kLogLine](attempt);
  }
}
