// registerMetrics()'s options: one type, its defaults, and the check that fills them in.
import { register, type Registry, type RegistryContentType } from 'prom-client';
import { describeValue } from '../errors.js';
import { keySet, refuseUnknownOptions } from '../keys.js';

/** A prom-client registry, of either exposition format. */
export type AnyRegistry = Registry<RegistryContentType>;

/** What `registerMetrics(runtime, options)` takes. */
export interface PrometheusOptions {
  /**
   * The prom-client registry the metrics are registered in.
   * @default prom-client's global `register`
   */
  readonly registry?: AnyRegistry;
  /**
   * The start of every metric name. Letters, digits, `_` and `:`, not starting with a digit; may be empty.
   * @default 'light_task_tracker_'
   */
  readonly prefix?: string;
  /**
   * Labels put on every series of this runtime, e.g. `{ queue: 'images' }`. Several runtimes may share a registry
   * and a prefix when they give the same label names with different values; each then has its own series. Names:
   * letters, digits and `_`, not starting with a digit or `__`, and none of `processor`, `reason`, `le`,
   * `quantile`; values: strings.
   * @default {} (none: one runtime per registry and prefix)
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * The upper bounds of the `wait_seconds` histogram's buckets (seconds), strictly increasing, each above 0 and
   * finite (the `+Inf` bucket is always added). Every runtime sharing a registry and a prefix must give the same.
   * @default [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
   */
  readonly waitBuckets?: readonly number[];
  /**
   * The upper bounds of the `run_seconds` histogram's buckets (seconds), as `waitBuckets`.
   * @default [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]
   */
  readonly runBuckets?: readonly number[];
}

export const defaultPrometheusOptions = Object.freeze({
  prefix: 'light_task_tracker_',
  // A wait is short while threads are free, and grows with the queue: 1 ms to 5 minutes.
  waitBuckets: Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]),
  // CPU-heavy jobs: 5 ms to an hour.
  runBuckets: Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]),
});

/** The options as registerMetrics() uses them: every default filled in, every value checked. */
const OPTION_KEYS = keySet({
  registry: true,
  prefix: true,
  labels: true,
  waitBuckets: true,
  runBuckets: true,
} satisfies Record<keyof PrometheusOptions, true>);

export interface ResolvedPrometheusOptions {
  readonly registry: AnyRegistry;
  readonly prefix: string;
  /** Sorted by name. */
  readonly labels: Readonly<Record<string, string>>;
  readonly waitBuckets: readonly number[];
  readonly runBuckets: readonly number[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Label names the metrics use themselves, or Prometheus reserves for histograms and summaries. */
const OWN_LABELS: ReadonlySet<string> = new Set(['processor', 'reason', 'le', 'quantile']);

export function resolvePrometheusOptions(options: PrometheusOptions): ResolvedPrometheusOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`registerMetrics: options must be an object, got ${describeValue(options)}`);
  }
  refuseUnknownOptions('registerMetrics', options, OPTION_KEYS);
  const registry = options.registry ?? (register as AnyRegistry);
  if (typeof registry !== 'object' || registry === null || typeof registry.registerMetric !== 'function' || typeof registry.getSingleMetric !== 'function') {
    throw new TypeError(`registerMetrics: options.registry must be a prom-client Registry, got ${describeValue(options.registry)}`);
  }
  const prefix = options.prefix ?? defaultPrometheusOptions.prefix;
  if (typeof prefix !== 'string') throw new TypeError(`registerMetrics: options.prefix must be a string, got ${describeValue(prefix)}`);
  // Checked with a name appended: an empty prefix is allowed, and a digit may follow a non-empty one.
  if (!NAME.test(`${prefix}x`)) {
    throw new RangeError(`registerMetrics: options.prefix must hold only letters, digits, _ and : and not start with a digit, got ${describeValue(prefix)}`);
  }
  return {
    registry,
    prefix,
    labels: resolveLabels(options.labels),
    waitBuckets: resolveBuckets('waitBuckets', options.waitBuckets ?? defaultPrometheusOptions.waitBuckets),
    runBuckets: resolveBuckets('runBuckets', options.runBuckets ?? defaultPrometheusOptions.runBuckets),
  };
}

function resolveLabels(given: unknown): Readonly<Record<string, string>> {
  if (given === undefined) return Object.freeze({});
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new TypeError(`registerMetrics: options.labels must be an object of label names to strings, got ${describeValue(given)}`);
  }
  const labels: Record<string, string> = {};
  for (const name of Object.keys(given).sort()) {
    const value = (given as Record<string, unknown>)[name];
    if (!LABEL.test(name) || name.startsWith('__')) {
      throw new RangeError(`registerMetrics: options.labels: ${describeValue(name)} is not a label name (letters, digits and _, not starting with a digit or __)`);
    }
    if (OWN_LABELS.has(name)) throw new RangeError(`registerMetrics: options.labels: ${describeValue(name)} is a label the metrics use themselves`);
    if (typeof value !== 'string') throw new TypeError(`registerMetrics: options.labels.${name} must be a string, got ${describeValue(value)}`);
    labels[name] = value;
  }
  return Object.freeze(labels);
}

function resolveBuckets(name: string, given: unknown): readonly number[] {
  if (!Array.isArray(given) || given.length === 0) {
    throw new TypeError(`registerMetrics: options.${name} must be a non-empty array of numbers (seconds), got ${describeValue(given)}`);
  }
  let previous = 0;
  for (const [index, bound] of given.entries()) {
    if (typeof bound !== 'number' || Number.isNaN(bound)) {
      throw new TypeError(`registerMetrics: options.${name}[${index}] must be a number of seconds, got ${describeValue(bound)}`);
    }
    if (!(bound > previous) || !Number.isFinite(bound)) {
      throw new RangeError(`registerMetrics: options.${name} must be finite, above 0 and strictly increasing; [${index}] is ${describeValue(bound)}`);
    }
    previous = bound;
  }
  return Object.freeze([...(given as number[])]);
}
