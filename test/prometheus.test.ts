// The Prometheus entry as Prometheus sees it: a runtime's metrics registered in a fresh prom-client registry, served
// on /metrics over real HTTP on a loopback port, scraped with fetch and parsed, and checked against the load that
// ran: counters by reason, gauges, per-processor histograms. Synchronised on outcomes and log lines, never on sleeps.
import { Counter, Gauge, Registry, openMetricsContentType, register, type OpenMetricsContentType } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { OutcomeReason, type TaskRuntime } from 'light-task-tracker';
import { MetricsConflictError, registerMetrics, type MetricsRegistration } from 'light-task-tracker/prometheus';
import { useMetricsServers, type Exposition } from './support/metrics-server.js';
import { useRuntimes, type TestRuntime } from './support/runtime.js';

const runtimes = useRuntimes();
const serve = useMetricsServers();

const P = 'light_task_tracker_';
const GAUGES = ['instances_live', 'instances_queued', 'instances_running', 'instances_awaiting_report', 'threads', 'threads_idle', 'threads_stuck', 'threads_max', 'utilization_ratio'];
const COUNTERS = [
  'instances_submitted_total', 'force_stops_total', 'worker_deaths_total', 'workers_started_total', 'workers_retired_total',
  'reports_delivered_total', 'reports_retried_total', 'reports_lost_total', 'running_reports_failed_total', 'outcomes_total',
];

/** Resolves once every instance of `ids` has left the runtime (its final report delivered, or none due). */
function allGone({ logs }: TestRuntime, ids: readonly string[]): Promise<unknown> {
  return Promise.all(ids.map((id) => logs.waitFor((line) => line.msg === 'tracker destroyed' && line.instanceId === id)));
}

/** The `_count`, `_sum` and buckets of one histogram series; checks the buckets are cumulative and end at `_count`. */
function histogram(scrape: Exposition, name: string, labels: Record<string, string>): { count: number; sum: number } {
  const count = scrape.value(`${name}_count`, labels);
  const buckets = scrape.find(`${name}_bucket`, labels);
  expect(buckets.length).toBeGreaterThan(1);
  for (let index = 1; index < buckets.length; index++) expect(buckets[index]!.value).toBeGreaterThanOrEqual(buckets[index - 1]!.value);
  expect(buckets.at(-1)).toMatchObject({ labels: { le: '+Inf' }, value: count });
  return { count, sum: scrape.value(`${name}_sum`, labels) };
}

describe('registerMetrics: one scrape over HTTP against a known load', () => {
  it('counts 3 successes, a timeout honoured, a force-stop, a worker death and a stop before start, and each processor\'s starts and runs', async () => {
    const made = runtimes.make({ maxThreads: 2, forceStopGraceMs: 50 });
    const { runtime } = made;
    const registry = new Registry();
    registerMetrics(runtime, { registry });
    const server = await serve(registry);
    await runtime.ready();

    const trackers = [
      runtime.submit({ processor: 'succeed', jobParams: 1 }),
      runtime.submit({ processor: 'succeed', jobParams: 2 }),
      runtime.submit({ processor: 'succeed', jobParams: 3 }),
      // Sleeps a minute; its sleep rejects at the timeout's interrupt and it gives up.
      runtime.submit({ processor: 'sleep', timeoutMs: 60 }),
      // Ignores the interrupt: terminated after the 50 ms grace.
      runtime.submit({ processor: 'spinRunaway', timeoutMs: 60 }),
      // process.exit(3) in its worker.
      runtime.submit({ processor: 'exit' }),
      // Never starts: neither waited nor ran.
      runtime.submit({ processor: 'succeed', jobParams: 4, signal: AbortSignal.abort() }),
    ];
    const outcomes = await Promise.all(trackers.map((tracker) => tracker.done));
    expect(outcomes.map((outcome) => outcome.reason)).toEqual([
      OutcomeReason.SUCCEEDED, OutcomeReason.SUCCEEDED, OutcomeReason.SUCCEEDED,
      OutcomeReason.TIMEOUT_INTERRUPTED, OutcomeReason.TIMEOUT_FORCE_STOPPED, OutcomeReason.WORKER_DIED,
      OutcomeReason.STOPPED_BEFORE_START,
    ]);
    // Every final report delivered and every tracker gone; the terminated and the dead workers replaced.
    await allGone(made, trackers.map((tracker) => tracker.instanceId));
    await runtime.ready();

    const scrape = await server.scrape();
    const after = runtime.metrics();

    for (const name of GAUGES) expect(scrape.types.get(P + name), name).toBe('gauge');
    for (const name of COUNTERS) expect(scrape.types.get(P + name), name).toBe('counter');
    expect(scrape.types.get(`${P}wait_seconds`)).toBe('histogram');
    expect(scrape.types.get(`${P}run_seconds`)).toBe('histogram');

    // Outcomes: every reason present, the load's counts, 0 for the rest.
    const expected: Record<string, number> = Object.fromEntries(Object.values(OutcomeReason).map((reason) => [reason, 0]));
    Object.assign(expected, { SUCCEEDED: 3, TIMEOUT_INTERRUPTED: 1, TIMEOUT_FORCE_STOPPED: 1, WORKER_DIED: 1, STOPPED_BEFORE_START: 1 });
    const byReason = Object.fromEntries(scrape.find(`${P}outcomes_total`).map((sample) => [sample.labels.reason, sample.value]));
    expect(byReason).toEqual(expected);

    expect(scrape.value(`${P}instances_submitted_total`)).toBe(7);
    expect(scrape.value(`${P}force_stops_total`)).toBe(1);
    expect(scrape.value(`${P}worker_deaths_total`)).toBe(1);
    // The 3 workers of the pool (2 threads and a spare), the force-stopped one's and the dead one's replacements.
    expect(scrape.value(`${P}workers_started_total`)).toBe(after.workersStarted);
    expect(after.workersStarted).toBeGreaterThanOrEqual(5);
    expect(scrape.value(`${P}workers_retired_total`)).toBe(0);
    // A report for each instance but the stopped one (a stopped instance is not reported).
    expect(scrape.value(`${P}reports_delivered_total`)).toBe(6);
    expect(made.reporter.reports).toHaveLength(6);
    expect(scrape.value(`${P}reports_lost_total`)).toBe(0);

    // Nothing left: no instance live, queued, running or awaiting its report; the pool whole and idle.
    for (const name of ['instances_live', 'instances_queued', 'instances_running', 'instances_awaiting_report']) expect(scrape.value(P + name), name).toBe(0);
    expect(scrape.value(`${P}threads`)).toBe(3);
    expect(scrape.value(`${P}threads_idle`)).toBe(3);
    expect(scrape.value(`${P}threads_max`)).toBe(2);
    const utilization = scrape.value(`${P}utilization_ratio`);
    expect(utilization).toBeGreaterThan(0);
    expect(utilization).toBeLessThanOrEqual(1);

    // Each processor: one wait and one run per instance that started; the stopped one counts in neither.
    for (const [processor, started] of [['succeed', 3], ['sleep', 1], ['spinRunaway', 1], ['exit', 1]] as const) {
      expect(histogram(scrape, `${P}wait_seconds`, { processor }).count, processor).toBe(started);
      expect(histogram(scrape, `${P}run_seconds`, { processor }).count, processor).toBe(started);
    }
    expect(scrape.find(`${P}wait_seconds_count`)).toHaveLength(4);
    // Seconds: the sleeper ran its 60 ms timeout; the runaway its timeout and the 50 ms grace.
    expect(histogram(scrape, `${P}run_seconds`, { processor: 'sleep' }).sum).toBeGreaterThanOrEqual(0.059);
    expect(histogram(scrape, `${P}run_seconds`, { processor: 'spinRunaway' }).sum).toBeGreaterThanOrEqual(0.109);
    expect(histogram(scrape, `${P}run_seconds`, { processor: 'spinRunaway' }).sum).toBeLessThan(60);
    // The histograms hold the samples the runtime's own distributions hold.
    expect(after.processors.succeed?.runMs.count).toBe(3);
    // (Those keep two significant figures: within 1 %.)
    const runawayMs = histogram(scrape, `${P}run_seconds`, { processor: 'spinRunaway' }).sum * 1000;
    expect(Math.abs((after.processors.spinRunaway?.runMs.max as number) - runawayMs)).toBeLessThanOrEqual(runawayMs / 100 + 0.001);
  });

  it('reads instances queued and running while they are, and a later scrape sees them gone', async () => {
    const made = runtimes.make({ maxThreads: 1 });
    const { runtime, logs } = made;
    const registry = new Registry();
    registerMetrics(runtime, { registry });
    const server = await serve(registry);
    await runtime.ready();
    const spinner = runtime.submit({ processor: 'spinCooperative' });
    const queued = [runtime.submit({ processor: 'succeed' }), runtime.submit({ processor: 'succeed' })];
    await logs.waitFor((line) => line.msg === 'started' && line.instanceId === spinner.instanceId);

    const during = await server.scrape();
    expect(during.value(`${P}instances_live`)).toBe(3);
    // The spinner, and the next one handed to the pool ahead (it prefetches maxThreads more); the last waits.
    expect(during.value(`${P}instances_running`)).toBe(2);
    expect(during.value(`${P}instances_queued`)).toBe(1);
    expect(during.value(`${P}threads_idle`)).toBe(during.value(`${P}threads`) - 1);
    expect(during.find(`${P}run_seconds_count`)).toEqual([]);

    spinner.stop();
    await Promise.all([spinner.done, ...queued.map((tracker) => tracker.done)]);
    await allGone(made, [spinner, ...queued].map((tracker) => tracker.instanceId));
    const later = await server.scrape();
    expect(later.value(`${P}instances_live`)).toBe(0);
    expect(later.value(`${P}outcomes_total`, { reason: 'STOP_INTERRUPTED' })).toBe(1);
    expect(later.value(`${P}outcomes_total`, { reason: 'SUCCEEDED' })).toBe(2);
    expect(later.value(`${P}run_seconds_count`, { processor: 'succeed' })).toBe(2);
  });

  it('takes one runtime.metrics() snapshot per scrape, which every family of that scrape reads', async () => {
    const { runtime } = runtimes.make();
    let calls = 0;
    const metrics = runtime.metrics.bind(runtime);
    runtime.metrics = () => (calls++, metrics());
    const registry = new Registry();
    registerMetrics(runtime, { registry });
    const server = await serve(registry);
    await server.scrape();
    expect(calls).toBe(1);
    await server.scrape();
    expect(calls).toBe(2);
  });

  it('serves the OpenMetrics format too, and unregisters after it', async () => {
    const { runtime } = runtimes.make();
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(openMetricsContentType);
    const registration = registerMetrics(runtime, { registry, prefix: 'jobs_' });
    const server = await serve(registry);
    await runtime.run('succeed', 1);
    const scrape = await server.scrape();
    expect(scrape.text.endsWith('# EOF\n')).toBe(true);
    expect(scrape.types.get('jobs_outcomes')).toBe('counter');
    expect(scrape.value('jobs_outcomes_total', { reason: 'SUCCEEDED' })).toBe(1);
    expect(scrape.value('jobs_run_seconds_count', { processor: 'succeed' })).toBe(1);
    registration.unregister();
    expect(registry.getMetricsAsArray()).toEqual([]);
  });
});

describe('registerMetrics: several runtimes, one registry', () => {
  it('gives each runtime its own series by its labels; unregister() takes its series out, the last one the metrics', async () => {
    const a = runtimes.make().runtime;
    const b = runtimes.make().runtime;
    const registry = new Registry();
    const registrations: Record<string, MetricsRegistration> = {
      a: registerMetrics(a, { registry, labels: { runtime: 'a' } }),
      b: registerMetrics(b, { registry, labels: { runtime: 'b' } }),
    };
    const server = await serve(registry);
    await a.run('succeed', 1);
    await b.run('succeed', 1);
    await b.run('succeed', 2);

    const both = await server.scrape();
    expect(both.value(`${P}outcomes_total`, { runtime: 'a', reason: 'SUCCEEDED' })).toBe(1);
    expect(both.value(`${P}outcomes_total`, { runtime: 'b', reason: 'SUCCEEDED' })).toBe(2);
    expect(both.value(`${P}run_seconds_count`, { runtime: 'a', processor: 'succeed' })).toBe(1);
    expect(both.value(`${P}run_seconds_count`, { runtime: 'b', processor: 'succeed' })).toBe(2);
    expect(both.value(`${P}instances_submitted_total`, { runtime: 'b' })).toBe(2);
    // No series without the runtime label.
    expect(both.samples.filter((sample) => sample.labels.runtime === undefined)).toEqual([]);

    registrations.a!.unregister();
    registrations.a!.unregister();
    const onlyB = await server.scrape();
    expect(onlyB.samples.filter((sample) => sample.labels.runtime === 'a')).toEqual([]);
    expect(onlyB.value(`${P}outcomes_total`, { runtime: 'b', reason: 'SUCCEEDED' })).toBe(2);
    expect(onlyB.value(`${P}run_seconds_count`, { runtime: 'b', processor: 'succeed' })).toBe(2);

    registrations.b!.unregister();
    expect(registry.getMetricsAsArray()).toEqual([]);
    // The prefix is free again: a runtime registers afresh, even without labels.
    registerMetrics(a, { registry });
    expect((await server.scrape()).value(`${P}outcomes_total`, { reason: 'SUCCEEDED' })).toBe(1);
  });

  it('refuses a clash with MetricsConflictError and registers nothing', async () => {
    const a = runtimes.make().runtime;
    const b = runtimes.make().runtime;
    const registry = new Registry();
    registerMetrics(a, { registry, labels: { runtime: 'a' } });
    const count = registry.getMetricsAsArray().length;
    const refused = (runtime: TaskRuntime, options: Parameters<typeof registerMetrics>[1]): MetricsConflictError => {
      let caught: unknown;
      try {
        registerMetrics(runtime, options);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(MetricsConflictError);
      expect(registry.getMetricsAsArray()).toHaveLength(count);
      return caught as MetricsConflictError;
    };
    // The same label values twice; other label names; none.
    expect(refused(b, { registry, labels: { runtime: 'a' } })).toMatchObject({ name: 'MetricsConflictError', code: 'ERR_METRICS_CONFLICT', metric: `${P}instances_live` });
    expect(refused(b, { registry, labels: { host: 'b' } }).code).toBe('ERR_METRICS_CONFLICT');
    expect(refused(b, { registry }).code).toBe('ERR_METRICS_CONFLICT');
    expect(refused(b, { registry, labels: { runtime: 'b' }, runBuckets: [1, 2] })).toMatchObject({ metric: `${P}run_seconds` });

    // A name another collector holds: nothing of ours is registered.
    const other = new Registry();
    new Gauge({ name: `${P}threads`, help: 'not ours', registers: [other] });
    new Counter({ name: 'unrelated_total', help: 'not ours', registers: [other] });
    let caught: unknown;
    try {
      registerMetrics(a, { registry: other });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: 'ERR_METRICS_CONFLICT', metric: `${P}threads` });
    expect(other.getMetricsAsArray().map((metric) => metric.name).sort()).toEqual([`${P}threads`, 'unrelated_total']);
  });

  it('makes its metrics anew when the registry was cleared', async () => {
    const { runtime } = runtimes.make();
    const registry = new Registry();
    registerMetrics(runtime, { registry });
    registry.clear();
    registerMetrics(runtime, { registry });
    const server = await serve(registry);
    await runtime.run('succeed', 1);
    expect((await server.scrape()).value(`${P}run_seconds_count`, { processor: 'succeed' })).toBe(1);
  });
});

describe('registerMetrics: arguments', () => {
  it('refuses what is not a runtime, and bad options, with a TypeError or RangeError naming them', () => {
    const { runtime } = runtimes.make();
    const registry = new Registry();
    expect(() => registerMetrics({} as TaskRuntime, { registry })).toThrow(new TypeError('registerMetrics: runtime must be a TaskRuntime of this copy of light-task-tracker, got an object'));
    const cases: Array<[unknown, ErrorConstructor, RegExp]> = [
      [null, TypeError, /^registerMetrics: options must be an object/],
      [{ registry: {} }, TypeError, /^registerMetrics: options.registry must be a prom-client Registry/],
      [{ registry, prefix: 3 }, TypeError, /^registerMetrics: options.prefix must be a string/],
      [{ registry, prefix: 'a-b_' }, RangeError, /^registerMetrics: options.prefix must hold only/],
      [{ registry, prefix: '1x_' }, RangeError, /^registerMetrics: options.prefix must hold only/],
      [{ registry, labels: [] }, TypeError, /^registerMetrics: options.labels must be an object/],
      [{ registry, labels: { 'a-b': 'x' } }, RangeError, /"a-b" is not a label name/],
      [{ registry, labels: { __x: 'x' } }, RangeError, /"__x" is not a label name/],
      [{ registry, labels: { processor: 'x' } }, RangeError, /"processor" is a label the metrics use themselves/],
      [{ registry, labels: { le: 'x' } }, RangeError, /"le" is a label the metrics use themselves/],
      [{ registry, labels: { app: 1 } }, TypeError, /^registerMetrics: options.labels.app must be a string, got 1/],
      [{ registry, waitBuckets: [] }, TypeError, /^registerMetrics: options.waitBuckets must be a non-empty array/],
      [{ registry, runBuckets: [1, '2'] }, TypeError, /^registerMetrics: options.runBuckets\[1\] must be a number/],
      [{ registry, runBuckets: [1, 1] }, RangeError, /strictly increasing; \[1\] is 1/],
      [{ registry, waitBuckets: [0, 1] }, RangeError, /above 0/],
      [{ registry, waitBuckets: [1, Infinity] }, RangeError, /finite/],
    ];
    for (const [options, type, message] of cases) {
      expect(() => registerMetrics(runtime, options as Parameters<typeof registerMetrics>[1]), JSON.stringify(options)).toThrow(type);
      expect(() => registerMetrics(runtime, options as Parameters<typeof registerMetrics>[1])).toThrow(message);
    }
    // Nothing was registered by any of them.
    expect(registry.getMetricsAsArray()).toEqual([]);
    // An empty prefix and a digit after a prefix are names Prometheus takes.
    registerMetrics(runtime, { registry, prefix: '' }).unregister();
    registerMetrics(runtime, { registry, prefix: 'x1_' }).unregister();
    expect(registry.getMetricsAsArray()).toEqual([]);
  });

  it('registers in prom-client\'s global registry by default', () => {
    const { runtime } = runtimes.make();
    const registration = registerMetrics(runtime);
    try {
      expect(register.getSingleMetric(`${P}outcomes_total`)).toBeDefined();
    } finally {
      registration.unregister();
    }
    expect(register.getSingleMetric(`${P}outcomes_total`)).toBeUndefined();
  });
});
