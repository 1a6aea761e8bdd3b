// The metric families of one registry and prefix, as prom-client metrics: every name, type, help text and label,
// and how each is read. Gauges and counters are read from each registered runtime's snapshot when the registry is
// scraped; the two histograms are fed sample by sample as the runtimes record them.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { MetricsSnapshot } from '../metrics.js';
import { OutcomeReason } from '../status.js';
import { MetricsConflictError } from './errors.js';
import type { AnyRegistry } from './options.js';

/** One registered runtime, as the families read it. */
export interface Source {
  /** Its constant labels (sorted by name). */
  readonly labels: Readonly<Record<string, string>>;
  readonly maxThreads: number;
  /** Its snapshot for the scrape under way: every family of one scrape reads the same one. */
  snapshot(): MetricsSnapshot;
}

type Read = (metrics: MetricsSnapshot, source: Source) => number;

/** The gauges: name (after the prefix), help, and how it is read. */
const GAUGES: ReadonlyArray<readonly [string, string, Read]> = [
  ['instances_live', 'Instances queued, running, or awaiting their final report.', (m) => m.live],
  ['instances_queued', 'Instances waiting for a thread.', (m) => m.queued],
  ['instances_running', 'Instances with an attempt handed to a worker thread (started, or about to start).', (m) => m.running],
  ['instances_awaiting_report', 'Instances that have ended and whose final report is still being delivered.', (m) => m.awaitingReport],
  ['threads', 'Worker threads alive.', (m) => m.threads],
  ['threads_idle', 'Worker threads alive and running no attempt.', (m) => m.idleThreads],
  ['threads_stuck', 'Force-stopped worker threads that have not exited (blocked in a system call or native code).', (m) => m.stuckThreads],
  ['threads_max', 'Instances that run at once (maxThreads).', (_, source) => source.maxThreads],
  [
    'utilization_ratio',
    "Share of the threads' time (maxThreads times the window) spent running attempts, over the runtime's metrics window (metricsWindowMs).",
    (m) => m.utilization,
  ],
];

/** The counters (since the runtime was made): name (after the prefix), help, and how it is read. */
const COUNTERS: ReadonlyArray<readonly [string, string, Read]> = [
  ['instances_submitted_total', 'Instances accepted by submit().', (m) => m.submitted],
  ['force_stops_total', 'Attempts whose worker thread was terminated (force-stops).', (m) => m.forceStops],
  ['worker_deaths_total', 'Attempts whose worker thread died under them.', (m) => m.workerDeaths],
  ['processor_log_lines_dropped_total', 'Processor log lines dropped: over processorLogRate, or the main thread behind.', (m) => m.processorLogLinesDropped],
  ['late_messages_dropped_total', 'Log lines and progress values dropped because the attempt that sent them had ended.', (m) => m.lateMessagesDropped],
  ['malformed_messages_total', "Messages a worker posted with the runtime's tag that the runtime refused.", (m) => m.malformedMessages],
  ['stray_errors_total', 'Errors thrown in a worker outside any running attempt (logged; no instance failed).', (m) => m.strayErrors],
  ['workers_started_total', 'Worker threads started.', (m) => m.workersStarted],
  ['workers_retired_total', 'Worker threads retired.', (m) => m.workersRetired],
  ['reports_delivered_total', 'Final reports delivered, on their first try or a retry.', (m) => m.reportsDelivered],
  ['reports_retried_total', 'Tries of a final report that failed and were retried.', (m) => m.reportsRetried],
  ['reports_lost_total', 'Final reports given up.', (m) => m.reportsLost],
  ['running_reports_failed_total', 'RUNNING reports whose delivery failed.', (m) => m.runningReportsFailed],
];

const REASONS = Object.values(OutcomeReason);

/** What must agree between the runtimes that share the families. */
export interface FamilyShape {
  /** The constant label names, sorted. */
  readonly labelNames: readonly string[];
  readonly waitBuckets: readonly number[];
  readonly runBuckets: readonly number[];
}

/** The names (after the prefix) of every metric, in the order they are registered. */
export const METRIC_NAMES: readonly string[] = [
  ...GAUGES.map(([name]) => name),
  ...COUNTERS.map(([name]) => name),
  'outcomes_total',
  'wait_seconds',
  'run_seconds',
];

/** The metrics of one registry and prefix, shared by every runtime registered there. */
export class Families {
  readonly sources = new Set<Source>();
  readonly shape: FamilyShape;
  readonly #registry: AnyRegistry;
  readonly #prefix: string;
  /** Each metric under the name it was registered with. */
  readonly #metrics = new Map<string, object>();
  readonly #wait: Histogram;
  readonly #run: Histogram;

  /** Throws a `MetricsConflictError` when a name is taken in the registry, before registering any. */
  constructor(registry: AnyRegistry, prefix: string, shape: FamilyShape) {
    this.#registry = registry;
    this.#prefix = prefix;
    this.shape = shape;
    for (const name of METRIC_NAMES) {
      if (registry.getSingleMetric(prefix + name) !== undefined) {
        throw new MetricsConflictError(prefix + name, 'the registry already holds a metric of this name');
      }
    }
    const labelNames = shape.labelNames;
    const registers = [registry];
    const sources = this.sources;
    const metrics = this.#metrics;
    for (const [name, help, read] of GAUGES) {
      const gauge: Gauge = new Gauge({
        name: prefix + name, help, labelNames, registers,
        collect() {
          gauge.reset();
          for (const source of sources) gauge.set(source.labels, read(source.snapshot(), source));
        },
      });
      metrics.set(prefix + name, gauge);
    }
    // Counters fed from a snapshot: each scrape sets the running total (a reset, then one increase to it), so they
    // keep the counter type a rate() expects.
    for (const [name, help, read] of COUNTERS) {
      const counter: Counter = new Counter({
        name: prefix + name, help, labelNames, registers,
        collect() {
          counter.reset();
          for (const source of sources) counter.inc(source.labels, read(source.snapshot(), source));
        },
      });
      metrics.set(prefix + name, counter);
    }
    const outcomes: Counter = new Counter({
      name: `${prefix}outcomes_total`,
      help: 'Instances ended, by outcome reason (every reason present, 0 when none).',
      labelNames: [...labelNames, 'reason'],
      registers,
      collect() {
        outcomes.reset();
        for (const source of sources) {
          const counts = source.snapshot().outcomes;
          for (const reason of REASONS) outcomes.inc({ ...source.labels, reason }, counts[reason]);
        }
      },
    });
    metrics.set(`${prefix}outcomes_total`, outcomes);
    this.#wait = new Histogram({
      name: `${prefix}wait_seconds`,
      help: 'From submit() to the first attempt\'s start in a worker thread, per processor, since registerMetrics().',
      labelNames: [...labelNames, 'processor'],
      buckets: [...shape.waitBuckets],
      registers,
    });
    this.#run = new Histogram({
      name: `${prefix}run_seconds`,
      help: 'From the first attempt\'s start to the outcome (retries included), per processor, for instances that started, since registerMetrics().',
      labelNames: [...labelNames, 'processor'],
      buckets: [...shape.runBuckets],
      registers,
    });
    metrics.set(`${prefix}wait_seconds`, this.#wait).set(`${prefix}run_seconds`, this.#run);
  }

  /** Whether the registry still holds every one of these metrics (`registry.clear()` drops them). */
  get held(): boolean {
    for (const [name, metric] of this.#metrics) if (this.#registry.getSingleMetric(name) !== metric) return false;
    return true;
  }

  /** Throws a `MetricsConflictError` unless a runtime of this shape and these labels may join. */
  admit(shape: FamilyShape, labels: Readonly<Record<string, string>>): void {
    const prefix = this.#prefix;
    if (!sameList(shape.labelNames, this.shape.labelNames)) {
      throw new MetricsConflictError(
        `${prefix}instances_live`,
        `registered with the labels [${this.shape.labelNames.join(', ')}]; a runtime sharing this registry and prefix must give the same label names, got [${shape.labelNames.join(', ')}]`,
      );
    }
    if (!sameList(shape.waitBuckets, this.shape.waitBuckets)) {
      throw new MetricsConflictError(`${prefix}wait_seconds`, 'registered with other buckets; a runtime sharing this registry and prefix must give the same waitBuckets');
    }
    if (!sameList(shape.runBuckets, this.shape.runBuckets)) {
      throw new MetricsConflictError(`${prefix}run_seconds`, 'registered with other buckets; a runtime sharing this registry and prefix must give the same runBuckets');
    }
    for (const source of this.sources) {
      if (this.shape.labelNames.every((name) => source.labels[name] === labels[name])) {
        throw new MetricsConflictError(
          `${prefix}instances_live`,
          `a runtime is already registered with these label values (${JSON.stringify(labels)}); give each runtime sharing this registry and prefix its own labels`,
        );
      }
    }
  }

  /** A start `waitMs` after its submit. */
  wait(source: Source, processor: string, waitMs: number): void {
    this.#wait.observe({ ...source.labels, processor }, waitMs / 1000);
  }

  /** A run of `runMs` from the first start to the outcome. */
  run(source: Source, processor: string, runMs: number): void {
    this.#run.observe({ ...source.labels, processor }, runMs / 1000);
  }

  /** Drops a leaving runtime's histogram series. */
  forget(source: Source, processors: Iterable<string>): void {
    for (const processor of processors) {
      const labels = { ...source.labels, processor };
      for (const histogram of [this.#wait, this.#run]) histogram.remove(labels);
    }
  }

  /** Takes every one of these metrics out of the registry (those it still holds). */
  unregister(): void {
    // By the name each was registered with: an OpenMetrics registry renames a counter while it scrapes it.
    for (const [name, metric] of this.#metrics) if (this.#registry.getSingleMetric(name) === metric) this.#registry.removeSingleMetric(name);
  }
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}
