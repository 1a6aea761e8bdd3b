// The runtime's metrics: counters since it was made, and wait-time and run-time distributions per processor over a
// sliding window, kept in perf_hooks histograms; `snapshot()` is what `runtime.metrics()` returns.
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import type { ReportCounters } from './report-sender.js';
import { OutcomeReason } from './status.js';

/** A distribution of durations over the window, in ms (µs precision). All 0 when `count` is 0. */
export interface Distribution {
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** One processor's distributions over the window. */
export interface ProcessorMetrics {
  /** From `submit()` to the first attempt's start in its worker, for the instances that started in the window. */
  readonly waitMs: Distribution;
  /** From the first attempt's start to the end (the outcome), for the instances that ended in the window. */
  readonly runMs: Distribution;
}

/** What `runtime.metrics()` returns: a plain object, made afresh at each call. */
export interface MetricsSnapshot extends Readonly<ReportCounters> {
  /** When it was taken (epoch ms). */
  readonly time: number;
  /** The window the distributions and `utilization` cover (ms): `metricsWindowMs`, or less since the last reset. */
  readonly windowMs: number;
  /** Instances queued, running, or awaiting their final report. */
  readonly live: number;
  /** Instances waiting for a slot. */
  readonly queued: number;
  /** Instances with an attempt handed to the pool (started, or about to start in a worker). */
  readonly running: number;
  /** Instances that have ended and whose final report is still being delivered. */
  readonly awaitingReport: number;
  /** Worker threads alive. */
  readonly threads: number;
  /** Worker threads alive and running no attempt. */
  readonly idleThreads: number;
  /** Outcomes since the runtime was made, by reason (every reason present, 0 when none). */
  readonly outcomes: Readonly<Record<OutcomeReason, number>>;
  /** Attempts whose worker was terminated (force-stops), since the runtime was made. */
  readonly forceStops: number;
  /** Attempts whose worker died under them, since the runtime was made. */
  readonly workerDeaths: number;
  /** Processor log lines dropped (over `processorLogRate`, or the main thread behind), since the runtime was made. */
  readonly processorLogLinesDropped: number;
  /**
   * Log lines and progress values dropped because the attempt that sent them had ended (code it left behind on its
   * worker: a timer, a callback), since the runtime was made.
   */
  readonly lateMessagesDropped: number;
  /** Messages a worker posted with the runtime's tag that the runtime refused (a processor's forgeries). */
  readonly malformedMessages: number;
  /** Errors thrown in a worker outside any running attempt (code a finished attempt left behind): logged, none failed an instance. */
  readonly strayErrors: number;
  /** Worker threads started, since the runtime was made. */
  readonly workersStarted: number;
  /** Worker threads retired by `recycleWorkers`, since the runtime was made. */
  readonly workersRetired: number;
  /**
   * Force-stopped threads that have not exited (blocked in a system call or in native code, which `terminate()`
   * cannot cut short), now: each holds its memory, and the process cannot exit until the call returns.
   */
  readonly stuckThreads: number;
  /** Instances accepted by `submit()`, since the runtime was made. */
  readonly submitted: number;
  /** The share of the threads' time (maxThreads × the window) spent running attempts, 0 to 1. */
  readonly utilization: number;
  /** Per processor name, those that ran in the window. */
  readonly processors: Readonly<Record<string, ProcessorMetrics>>;
}

// Durations are recorded in whole µs: a histogram takes integers from 1. 2^40 µs is 12.7 days; longer is clamped.
const HIGHEST_US = 2 ** 40;
// Two significant figures: 1 % precision, and histograms of some 30 KB instead of 200 KB.
const FIGURES = 2;
// The window slides in this many steps: an old value leaves it at most a sixth of the window late.
const STEPS = 6;

function histogram(): RecordableHistogram {
  return createHistogram({ lowest: 1, highest: HIGHEST_US, figures: FIGURES });
}

function microseconds(ms: number): number {
  return Math.min(HIGHEST_US, Math.max(1, Math.round(ms * 1000)));
}

/** One step of the window: what was recorded during it. */
class Step {
  readonly wait = new Map<string, RecordableHistogram>();
  readonly run = new Map<string, RecordableHistogram>();
  busyMs = 0;

  constructor(readonly start: number) {}
}

const EMPTY: Distribution = Object.freeze({ count: 0, min: 0, p50: 0, p90: 0, p99: 0, max: 0 });

function distribution(merged: RecordableHistogram | undefined): Distribution {
  if (merged === undefined || merged.count === 0) return EMPTY;
  const ms = (us: number): number => us / 1000;
  return {
    count: merged.count,
    min: ms(merged.min),
    p50: ms(merged.percentile(50)),
    p90: ms(merged.percentile(90)),
    p99: ms(merged.percentile(99)),
    max: ms(merged.max),
  };
}

/**
 * Hears each wait and run sample as the runtime records it, for a collector that keeps distributions of its own
 * (the `light-task-tracker/prometheus` entry's histograms). Called in the main thread, at the moment of recording.
 */
export interface MetricsListener {
  /** An instance of `processor` started its first attempt `waitMs` after its submit. */
  started(processor: string, waitMs: number): void;
  /** An instance of `processor` ended for `reason`, `runMs` after its first start (null: it never started). */
  ended(processor: string, reason: OutcomeReason, runMs: number | null): void;
}


/** The counts a snapshot takes from the runtime, the pool and the report sender at the moment it is made. */
export type LiveCounts = Pick<
  MetricsSnapshot,
  | 'live' | 'queued' | 'running' | 'awaitingReport' | 'threads' | 'idleThreads' | 'workersStarted' | 'workersRetired' | 'stuckThreads' | 'submitted'
  | keyof ReportCounters
> & { readonly maxThreads: number };

/**
 * Counters and windowed distributions. Recording costs a map lookup and a native histogram insert, at an
 * instance's start and end only; nothing runs between (the window slides when something is recorded or read).
 */
export class Metrics {
  readonly #windowMs: number;
  readonly #stepMs: number;
  readonly #steps: Step[] = [];
  #since: number;
  readonly #outcomes: Record<OutcomeReason, number>;
  // Replaced, never changed in place: a listener removed while the others are being called leaves the loop alone.
  #listeners: readonly MetricsListener[] = [];
  forceStops = 0;
  workerDeaths = 0;
  processorLogLinesDropped = 0;
  lateMessagesDropped = 0;
  malformedMessages = 0;
  strayErrors = 0;

  constructor(windowMs: number, now = performance.now()) {
    this.#windowMs = windowMs;
    this.#stepMs = windowMs / STEPS;
    this.#since = now;
    this.#outcomes = Object.fromEntries(Object.values(OutcomeReason).map((reason) => [reason, 0])) as Record<OutcomeReason, number>;
  }

  /** An instance of `processor` started `waitMs` after its submit, at `at` (performance.now() time). */
  started(processor: string, waitMs: number, at: number): void {
    this.#record(this.#current(at).wait, processor, waitMs);
    for (const listener of this.#listeners) {
      try {
        listener.started(processor, waitMs);
      } catch {
        // A listener's failure must not reach the tracker recording the start.
      }
    }
  }

  /**
   * An instance of `processor` ended for `reason` at `at` (performance.now() time), `runMs` after its first start
   * (null: it never started). Its run
   * counts as busy thread time: its retries follow one another at once, in its one slot.
   */
  ended(processor: string, reason: OutcomeReason, runMs: number | null, at: number): void {
    this.#outcomes[reason]++;
    if (runMs !== null) {
      const step = this.#current(at);
      this.#record(step.run, processor, runMs);
      if (runMs > 0) step.busyMs += runMs;
    }
    for (const listener of this.#listeners) {
      try {
        listener.ended(processor, reason, runMs);
      } catch {
        // A listener's failure must not reach the tracker settling its outcome.
      }
    }
  }

  /** Adds a listener; returns its removal (which may be called more than once). */
  listen(listener: MetricsListener): () => void {
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((each) => each !== listener);
    };
  }

  /** Forgets the distributions and utilization; the counters since the runtime was made stay. */
  reset(now = performance.now()): void {
    this.#steps.length = 0;
    this.#since = now;
  }

  snapshot(counts: LiveCounts, now = performance.now()): MetricsSnapshot {
    this.#slide(now);
    const processors: Record<string, ProcessorMetrics> = {};
    const names = new Set<string>();
    for (const step of this.#steps) {
      for (const name of step.wait.keys()) names.add(name);
      for (const name of step.run.keys()) names.add(name);
    }
    for (const name of [...names].sort()) {
      processors[name] = { waitMs: distribution(this.#merge('wait', name)), runMs: distribution(this.#merge('run', name)) };
    }
    const windowMs = Math.min(this.#windowMs, now - this.#since);
    let busyMs = 0;
    for (const step of this.#steps) busyMs += step.busyMs;
    const capacityMs = windowMs * counts.maxThreads;
    return {
      time: Date.now(),
      windowMs,
      live: counts.live,
      queued: counts.queued,
      running: counts.running,
      awaitingReport: counts.awaitingReport,
      threads: counts.threads,
      idleThreads: counts.idleThreads,
      outcomes: { ...this.#outcomes },
      forceStops: this.forceStops,
      workerDeaths: this.workerDeaths,
      processorLogLinesDropped: this.processorLogLinesDropped,
      lateMessagesDropped: this.lateMessagesDropped,
      malformedMessages: this.malformedMessages,
      strayErrors: this.strayErrors,
      workersStarted: counts.workersStarted,
      workersRetired: counts.workersRetired,
      stuckThreads: counts.stuckThreads,
      submitted: counts.submitted,
      reportsDelivered: counts.reportsDelivered,
      reportsRetried: counts.reportsRetried,
      reportsLost: counts.reportsLost,
      runningReportsFailed: counts.runningReportsFailed,
      utilization: capacityMs > 0 ? Math.min(1, busyMs / capacityMs) : 0,
      processors,
    };
  }

  #record(into: Map<string, RecordableHistogram>, processor: string, ms: number): void {
    let target = into.get(processor);
    if (target === undefined) into.set(processor, (target = histogram()));
    target.record(microseconds(ms));
  }

  #current(now: number): Step {
    const last = this.#steps.at(-1);
    if (last !== undefined && now - last.start < this.#stepMs) return last;
    this.#slide(now);
    const step = new Step(now - ((now - this.#since) % this.#stepMs));
    this.#steps.push(step);
    return step;
  }

  // Drops the steps that have left the window.
  #slide(now: number): void {
    const oldest = now - this.#windowMs;
    let drop = 0;
    while (drop < this.#steps.length && (this.#steps[drop] as Step).start + this.#stepMs <= oldest) drop++;
    if (drop > 0) this.#steps.splice(0, drop);
  }

  #merge(kind: 'wait' | 'run', name: string): RecordableHistogram | undefined {
    let merged: RecordableHistogram | undefined;
    for (const step of this.#steps) {
      const part = step[kind].get(name);
      if (part === undefined) continue;
      merged ??= histogram();
      merged.add(part);
    }
    return merged;
  }
}
