// registerMetrics(): puts a runtime's metrics into a prom-client registry, beside any other runtime registered there
// under the same prefix, and takes them out again.
import type { TaskRuntime } from '../runtime.js';
import { describeValue } from '../errors.js';
import type { MetricsListener, MetricsSnapshot } from '../metrics.js';
import { kListenMetrics } from '../symbols.js';
import { Families, type FamilyShape, type Source } from './families.js';
import { resolvePrometheusOptions, type AnyRegistry, type PrometheusOptions } from './options.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyRuntime = TaskRuntime<any>;

/** What `registerMetrics()` returns. */
export interface MetricsRegistration {
  /**
   * Takes this runtime's series out of the registry and stops feeding its histograms. The metrics themselves leave
   * the registry with the last runtime registered under their prefix. Call it before the runtime is dropped (after
   * `close()`, the snapshot still reads, with every count at its final value). Calling it again does nothing.
   */
  unregister(): void;
}

// The families of each registry, by prefix: a runtime registered under a prefix another has taken joins its families.
const byRegistry = new WeakMap<AnyRegistry, Map<string, Families>>();

/** One registered runtime: its labels, its snapshot for the scrape under way, the processors its histograms hold. */
class RuntimeSource implements Source, MetricsListener {
  readonly labels: Readonly<Record<string, string>>;
  readonly #runtime: AnyRuntime;
  readonly #families: Families;
  readonly #processors = new Set<string>();
  #snapshot: MetricsSnapshot | undefined;

  constructor(runtime: AnyRuntime, labels: Readonly<Record<string, string>>, families: Families) {
    this.#runtime = runtime;
    this.labels = labels;
    this.#families = families;
  }

  get maxThreads(): number {
    return this.#runtime.maxThreads;
  }

  // A scrape reads every family in one synchronous pass (prom-client starts every collect before awaiting any), so
  // a snapshot kept until the event loop turns is the one every family of that scrape reads: they agree.
  snapshot(): MetricsSnapshot {
    if (this.#snapshot === undefined) {
      this.#snapshot = this.#runtime.metrics();
      setImmediate(() => {
        this.#snapshot = undefined;
      }).unref();
    }
    return this.#snapshot;
  }

  started(processor: string, waitMs: number): void {
    this.#processors.add(processor);
    this.#families.wait(this, processor, waitMs);
  }

  ended(processor: string, _reason: unknown, runMs: number | null): void {
    if (runMs === null) return;
    this.#processors.add(processor);
    this.#families.run(this, processor, runMs);
  }

  forget(): void {
    this.#families.forget(this, this.#processors);
    this.#processors.clear();
  }
}

/**
 * Registers `runtime`'s metrics in a prom-client registry (see docs/observability.md for every name): gauges of its
 * instances and threads and counters by outcome reason, read from one `runtime.metrics()` snapshot per scrape, and
 * histograms of wait and run time per processor, fed as each instance starts and ends (from this call on).
 * Throws a `TypeError` / `RangeError` for a bad argument or option, and a `MetricsConflictError` when the registry
 * holds a clashing metric; nothing is registered then.
 */
export function registerMetrics(runtime: AnyRuntime, options: PrometheusOptions = {}): MetricsRegistration {
  if (typeof runtime !== 'object' || runtime === null || typeof (runtime as Partial<AnyRuntime>)[kListenMetrics] !== 'function') {
    // A runtime from another copy of the package (a second install) has another symbol: it is refused here too.
    throw new TypeError(`registerMetrics: runtime must be a TaskRuntime of this copy of light-task-tracker, got ${describeValue(runtime)}`);
  }
  const resolved = resolvePrometheusOptions(options);
  const { registry, prefix, labels } = resolved;
  const shape: FamilyShape = { labelNames: Object.keys(labels), waitBuckets: resolved.waitBuckets, runBuckets: resolved.runBuckets };
  let byPrefix = byRegistry.get(registry);
  if (byPrefix === undefined) byRegistry.set(registry, (byPrefix = new Map()));
  let families = byPrefix.get(prefix);
  // Families the registry no longer holds (registry.clear()) are left behind, and made anew.
  if (families !== undefined && !families.held) {
    families.unregister();
    byPrefix.delete(prefix);
    families = undefined;
  }
  if (families === undefined) {
    families = new Families(registry, prefix, shape);
    byPrefix.set(prefix, families);
  } else {
    families.admit(shape, labels);
  }
  const source = new RuntimeSource(runtime, labels, families);
  families.sources.add(source);
  const unlisten = runtime[kListenMetrics](source);
  let registered = true;
  const joined = families;
  return {
    unregister() {
      if (!registered) return;
      registered = false;
      unlisten();
      joined.sources.delete(source);
      source.forget();
      if (joined.sources.size === 0) {
        joined.unregister();
        if (byPrefix.get(prefix) === joined) byPrefix.delete(prefix);
      }
    },
  };
}
