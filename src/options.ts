// The runtime's options: one type, one constant of defaults, the known keys, and the options as the runtime uses them
// once filled in and checked (resolve-options.ts fills and checks them).
import type { ResourceLimits } from 'node:worker_threads';
import { pino, type Logger } from 'pino';
import { keySet, refuseUnknownOptions } from './keys.js';
import type { LogLevel } from './messages.js';
import type { Reporter } from './report.js';

/** A processor's log line, as `onProcessorLog` receives it. */
export interface ProcessorLogLine {
  readonly instanceId: string;
  /** The attempt that wrote it (0 for the first, then its retry count). */
  readonly attempt: number;
  readonly level: LogLevel;
  readonly msg: string;
  /** The fields the processor passed with the line, if any. */
  readonly fields: Readonly<Record<string, unknown>> | undefined;
}

/** A progress value a processor reported, as `onProgress` receives it. */
export interface ProgressEvent<G = unknown> {
  readonly instanceId: string;
  /** The attempt that reported it (0 for the first, then its retry count). */
  readonly attempt: number;
  readonly value: G;
}

/** A checkpoint a processor made, as `onCheckpoint` receives it. */
export interface CheckpointEvent<S = unknown> {
  readonly instanceId: string;
  /** The attempt that made it (0 for the first, then its retry count). */
  readonly attempt: number;
  readonly state: S;
}

/**
 * The runtime's options. `M` types the registry (processor name → the type of its module,
 * `typeof import('./processor.js')`) when the runtime is made as `new TaskRuntime<M>(…)`.
 */
export interface TaskRuntimeOptions<M = Record<string, unknown>> {
  /**
   * The processor registry: registry name → module path (absolute, or relative to the current directory) or
   * `file:` URL. Only these modules are ever loaded; a request names a processor by its registry name.
   * Each module must exist when the runtime is made. Every worker imports every registered module while it boots,
   * so a module's top-level code must not exit the process (one that throws only fails the instances that use it).
   */
  readonly processors: { readonly [K in keyof M]: string | URL };
  /**
   * Workers kept alive even when idle. At most `maxThreads`.
   * @default maxThreads (a warm pool: no instance waits for a worker to start)
   */
  readonly minThreads?: number;
  /**
   * How many instances run at once, one per worker thread. 1 to 1024.
   * @default os.availableParallelism()
   */
  readonly maxThreads?: number;
  /**
   * Idle workers the pool keeps warm beyond `maxThreads` (0 to 64). At most `maxThreads` instances run at once;
   * when one is force-stopped, the next queued instance starts on a spare at once while the terminated worker's
   * replacement spawns off the critical path. Each spare is a live thread (memory, no CPU while idle).
   * @default 1
   */
  readonly spareThreads?: number;
  /**
   * Limits for each worker thread (heap caps in MB, stack size), as `new Worker(…, { resourceLimits })`.
   * A worker that exceeds its heap cap dies, and its instance fails with the cause. `maxOldGenerationSizeMb`,
   * `maxYoungGenerationSizeMb` and `codeRangeSizeMb` must be positive finite numbers, `stackSizeMb` a number from
   * 1 to 1024 (below about 0.5 a worker cannot even boot, and a tiny one brings the whole process down; a huge one
   * fails to create the thread). The values are copied: changing the object later changes nothing.
   * @default undefined (Node's own limits)
   */
  readonly resourceLimits?: ResourceLimits;
  /**
   * How long an attempt may wait for its processor module's first import in a worker (ms). A module is imported on
   * its first use in each worker (and, once it has loaded in one, by every worker that boots later). One that throws,
   * exits (`process.exit` at its top level) or does not finish loading in time fails its instances with reason
   * `PROCESSOR_LOAD_FAILED`; a worker stuck in a module's top level is terminated, and a module that hung is not
   * tried again in this runtime. The instance's own timeout counts from the processor's start, after
   * the import. 1 to 2^31-1.
   * @default 10000
   */
  readonly loadTimeoutMs?: number;
  /**
   * The admission limit: live instances (queued, running, or awaiting their final report) the runtime holds.
   * A submit past it is refused with `AdmissionLimitError`. 1 to 2^31-1.
   * @default 1024
   */
  readonly maxInstances?: number;
  /**
   * Period of the RUNNING report of each unfinished instance (ms). The first one comes after a random delay
   * between 1/3 and 2/3 of the period, so that instances submitted together do not all report at once. ≥ 10.
   * One runtime-wide ticker (every period/20, within 5–1000 ms) sends the reports that are due, so a report may
   * come up to one tick after its time.
   * @default 15000
   */
  readonly statusReportIntervalMs?: number;
  /**
   * Whether an instance that ignores its interrupt may be force-stopped by terminating its worker after
   * `forceStopGraceMs`. When false, such an instance runs on and is reported RUNNING until it finishes
   * (`close()` terminates it all the same).
   * @default true
   */
  readonly allowForceStop?: boolean;
  /**
   * How long an interrupted instance has to finish before its worker is terminated (ms). ≥ 0.
   * @default per instance: timeoutMs / 10 for timeouts under 1 s, else 1000
   */
  readonly forceStopGraceMs?: number;
  /**
   * Longest result text in a report (characters); a longer one is cut and "..." appended. ≥ 0.
   * @default 8096
   */
  readonly maxResultLength?: number;
  /**
   * The most bytes each of a request's `jobParams` and `instanceParams` may take, checked on its own at `submit()`;
   * a larger one is refused with `ParamsTooLargeError` (a larger `resumeFrom`, with `InvalidRequestError`). An object's size is the length of its `v8.serialize` output
   * (what is copied to the worker); a string is counted, without being copied or scanned, at 2 bytes per UTF-16 code
   * unit. A whole number of bytes, 1 to 2^31-1.
   *
   * The default, 16 MiB, is far above what job parameters normally hold (ids, paths, a small configuration), yet
   * bounds what one submit costs: the params are copied on the main thread, where no timer fires meanwhile (16 MiB
   * takes some 50 ms as one string or buffer, but about a second as 700,000 small objects, measured on a 2-core
   * machine), held as a snapshot for the instance's whole life (queued instances included, up to `maxInstances`),
   * and copied again into the worker on every attempt. It is a guard against runaway or hostile payloads, not a
   * budget: pass large data by reference (a path, a key), and lower the limit where submits must stay fast.
   * @default 16777216 (16 MiB)
   */
  readonly maxParamsBytes?: number;
  /**
   * Receives the status reports.
   * @default a reporter that writes each report to the logger at debug level
   */
  readonly reporter?: Reporter;
  /**
   * The application's pino logger: it gets every line at the levels it enables, the runtime's own (per-instance
   * lines at info, force-stops and worker deaths at warn and error) and the processors' (tagged with `instanceId`
   * and `source: 'processor'`).
   * @default pino({ name: 'light-task-tracker', level: 'warn' }, pino.destination(2)): on stderr, never mixed into
   * the application's stdout, and quiet unless something needs attention (a force-stop, a worker death, a lost
   * report, a processor's warn or error line)
   */
  readonly logger?: Logger;
  /**
   * Called on the main thread with every processor log line as it arrives, after it is written to the logger:
   * a way to send a job's log somewhere of its own (a queue's job log, a UI). It gets every level, whatever the
   * logger's, under the same `processorLogRate`. A throw is logged and ignored.
   * @default undefined
   */
  readonly onProcessorLog?: (line: ProcessorLogLine) => void;
  /**
   * The most log lines a processor's worker thread sends to the main thread per second: lines past it are dropped in
   * the worker and counted (`metrics().processorLogLinesDropped`, and a warning naming the instance, at most once a
   * second). Lines travel in batches, and those at levels neither `logger` nor `onProcessorLog` takes never leave the
   * worker and count for nothing; so a processor logging millions of lines costs the main thread (whose event loop
   * every instance's timeout needs) at most this many lines a second per worker. Writing one line to a pino logger
   * takes some 5 to 15 µs of the main thread (measured on a 2-core machine, its destination a file): the default is
   * 1 to 2 % of it per worker. A whole number, 1 to 2^31-1.
   * @default 1000
   */
  readonly processorLogRate?: number;
  /**
   * The most log lines a worker thread sends at once, above `processorLogRate`: a processor that has been quiet may
   * log this many lines in a burst before its lines are dropped (a token bucket, refilled at `processorLogRate`; each
   * attempt starts with a full one, so an instance's flood never costs the next instance on that worker its lines).
   * The main thread holds at most the larger of 10,000 lines and 4 × this many lines not yet written: past it, it
   * drops the lines of the batches that come and counts them the same way. A whole number, 1 to 2^31-1.
   * @default 2000
   */
  readonly processorLogBurst?: number;
  /**
   * Called on the main thread with each progress value a processor reports (`ctx.progress`), in order, as it
   * arrives; never after the instance's `done` has settled. Values are coalesced in the worker (at most one per
   * 10 ms, the latest always). A throw is logged and ignored.
   * @default undefined
   */
  readonly onProgress?: (event: ProgressEvent) => void;
  /**
   * Called on the main thread with each checkpoint a processor makes (`ctx.checkpoint`), in order, as it arrives;
   * never after the instance's `done` has settled. Save it to resume the instance elsewhere (`resumeFrom`). A throw is
   * logged and ignored.
   * @default undefined
   */
  readonly onCheckpoint?: (event: CheckpointEvent) => void;
  /**
   * The default `heartbeatTimeoutMs` of every request that does not give its own (ms): an attempt with no heartbeat
   * for that long is stalled, interrupted, force-stopped after the grace and retried while retries remain. A positive
   * finite number, at most 2^31-1.
   * @default undefined (no stall detection)
   */
  readonly heartbeatTimeoutMs?: number;
  /**
   * Whether a force-stop first captures where the attempt's thread is (`outcome.stack`, the force-stop log line and
   * channel message), through `node:inspector`, bounded by `stackCaptureMs`. The process's one inspector session is
   * made when the first runtime with it is constructed, before its first worker starts: Node can crash the process
   * when the session is enabled while a worker thread starts or ends, so make that runtime before the application
   * starts worker threads of its own.
   * @default true
   */
  readonly captureStack?: boolean;
  /**
   * The longest a stack capture may add to a force-stop (ms): past it the worker is terminated without a stack.
   * 1 to 10000.
   * @default 250
   */
  readonly stackCaptureMs?: number;
  /**
   * This runtime's address, written into reports and running-status answers.
   * @default `${os.hostname()}:${process.pid}`
   */
  readonly address?: string;
  /**
   * Retries of a final report whose delivery failed (threw, rejected, or timed out) before it is given up
   * and logged as lost. 0 to 100.
   * @default 5
   */
  readonly finalReportRetries?: number;
  /**
   * The longest one `reporter.report()` call may take before it counts as failed (ms). > 0.
   * @default 30000
   */
  readonly reportTimeoutMs?: number;
  /**
   * Pause before the first retry of a final report (ms); it doubles on each retry, with jitter. ≥ 0.
   * @default 200
   */
  readonly reportBackoffMs?: number;
  /**
   * Longest pause between two tries of a final report (ms). ≥ 0.
   * @default 10000
   */
  readonly reportBackoffMaxMs?: number;
  /**
   * The sliding window of `runtime.metrics()`'s wait-time and run-time distributions and its `utilization` (ms):
   * what happened longer ago leaves them (in steps of a sixth of the window). 100 to 2^31-1.
   * @default 60000
   */
  readonly metricsWindowMs?: number;
  /**
   * Retires a worker between attempts, never during one, once it has run `afterAttempts` attempts or its heap after
   * an attempt is above `heapUsedMb` (V8's used heap, measured in the worker as the attempt ends): it gets no new
   * work and exits once idle, and a replacement starts off the dispatch path (spares cover the gap). For
   * processors that leak (native or JS memory) and would otherwise grow their worker's heap until its cap kills it
   * mid-job. At least one of the two must be given; `afterAttempts` a whole number from 1, `heapUsedMb` a number
   * above 0 (MB of 2^20 bytes).
   * @default undefined (workers are never retired)
   */
  readonly recycleWorkers?: RecycleWorkers;
}

/** When a worker is retired: see `TaskRuntimeOptions.recycleWorkers`. */
export interface RecycleWorkers {
  /** Retire a worker once it has run this many attempts. */
  readonly afterAttempts?: number;
  /** Retire a worker when its used heap after an attempt is above this (MB). */
  readonly heapUsedMb?: number;
}

export const defaultOptions = Object.freeze({
  spareThreads: 1,
  loadTimeoutMs: 10_000,
  maxInstances: 1024,
  statusReportIntervalMs: 15_000,
  allowForceStop: true,
  maxResultLength: 8096,
  maxParamsBytes: 16 * 1024 * 1024,
  finalReportRetries: 5,
  reportTimeoutMs: 30_000,
  reportBackoffMs: 200,
  reportBackoffMaxMs: 10_000,
  metricsWindowMs: 60_000,
  processorLogRate: 1000,
  processorLogBurst: 2000,
  captureStack: true,
  stackCaptureMs: 250,
});

/** Every key `TaskRuntimeOptions` has: any other is refused. */
const OPTION_KEYS = keySet({
  processors: true,
  minThreads: true,
  maxThreads: true,
  spareThreads: true,
  resourceLimits: true,
  maxInstances: true,
  statusReportIntervalMs: true,
  allowForceStop: true,
  forceStopGraceMs: true,
  maxResultLength: true,
  maxParamsBytes: true,
  reporter: true,
  logger: true,
  onProcessorLog: true,
  onProgress: true,
  onCheckpoint: true,
  heartbeatTimeoutMs: true,
  captureStack: true,
  stackCaptureMs: true,
  address: true,
  finalReportRetries: true,
  reportTimeoutMs: true,
  reportBackoffMs: true,
  reportBackoffMaxMs: true,
  metricsWindowMs: true,
  recycleWorkers: true,
  loadTimeoutMs: true,
  processorLogRate: true,
  processorLogBurst: true,
} satisfies Record<keyof TaskRuntimeOptions, true>);

const RESOURCE_LIMIT_KEYS = keySet({
  maxYoungGenerationSizeMb: true,
  maxOldGenerationSizeMb: true,
  codeRangeSizeMb: true,
  stackSizeMb: true,
} satisfies Record<keyof ResourceLimits, true>);

const RECYCLE_KEYS = keySet({ afterAttempts: true, heapUsedMb: true } satisfies Record<keyof RecycleWorkers, true>);

/**
 * Throws a `TypeError` for a key the runtime's options do not have, at the top or inside `resourceLimits` or
 * `recycleWorkers`: `<owner>: unknown option "<path>maxThread" (did you mean "<path>maxThreads"?)`. `path` is where
 * the runtime's options sit in the caller's own (`runtime.` for a consumer's).
 */
export function refuseUnknownRuntimeOptions(owner: string, options: object, path = ''): void {
  refuseUnknownOptions(owner, options, OPTION_KEYS, path);
  const { resourceLimits, recycleWorkers } = options as TaskRuntimeOptions;
  if (typeof resourceLimits === 'object' && resourceLimits !== null) refuseUnknownOptions(owner, resourceLimits, RESOURCE_LIMIT_KEYS, `${path}resourceLimits.`);
  if (typeof recycleWorkers === 'object' && recycleWorkers !== null) refuseUnknownOptions(owner, recycleWorkers, RECYCLE_KEYS, `${path}recycleWorkers.`);
}

/** The options as the runtime uses them: every default filled in, every value checked. */
export interface ResolvedOptions {
  readonly minThreads: number;
  readonly maxThreads: number;
  readonly spareThreads: number;
  readonly resourceLimits: ResourceLimits | undefined;
  readonly loadTimeoutMs: number;
  readonly maxInstances: number;
  readonly statusReportIntervalMs: number;
  readonly allowForceStop: boolean;
  readonly forceStopGraceMs: number | undefined;
  readonly maxResultLength: number;
  readonly maxParamsBytes: number;
  readonly reporter: Reporter | undefined;
  readonly logger: Logger | undefined;
  readonly onProcessorLog: ((line: ProcessorLogLine) => void) | undefined;
  readonly processorLogRate: number;
  readonly processorLogBurst: number;
  readonly onProgress: ((event: ProgressEvent) => void) | undefined;
  readonly onCheckpoint: ((event: CheckpointEvent) => void) | undefined;
  readonly heartbeatTimeoutMs: number | undefined;
  readonly captureStack: boolean;
  readonly stackCaptureMs: number;
  readonly address: string;
  readonly finalReportRetries: number;
  readonly reportTimeoutMs: number;
  readonly reportBackoffMs: number;
  readonly reportBackoffMaxMs: number;
  readonly metricsWindowMs: number;
  readonly recycleWorkers: RecycleWorkers | undefined;
}

/**
 * The logger of a runtime given none: warnings and errors only, on stderr (stdout is the application's own output,
 * which a library must not mix into).
 */
export function defaultLogger(): Logger {
  return pino({ name: 'light-task-tracker', level: 'warn' }, pino.destination(2));
}
