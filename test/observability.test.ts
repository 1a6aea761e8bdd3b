// Observability: the lifecycle events on node:diagnostics_channel, in their exact sequences, and runtime.metrics().
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { OutcomeReason, OutcomeStatus, type InstanceMessage, type TaskRuntime } from 'light-task-tracker';
import { Metrics, type MetricsListener } from '../dist/src/metrics.js';
import { kListenMetrics } from '../dist/src/symbols.js';
import { useRuntimes } from './support/runtime.js';

/** The runtime's listener method, a symbol the main entry does not export (the Prometheus entry's way in). */
function listenTo(runtime: TaskRuntime, listener: MetricsListener): () => void {
  return (runtime as unknown as { [kListenMetrics]: (listener: MetricsListener) => () => void })[kListenMetrics](listener);
}

const runtimes = useRuntimes();

const INSTANCE_CHANNELS = ['submit', 'start', 'interrupt', 'force-stop', 'retry', 'end'] as const;
const WORKER_CHANNELS = ['start', 'exit', 'retire'] as const;

interface Seen {
  readonly channel: string;
  readonly message: Record<string, unknown>;
}

/** Subscribes to every channel until the test ends; `events` holds what was published, in order. */
function listen(): Seen[] {
  const events: Seen[] = [];
  const names = [
    ...INSTANCE_CHANNELS.map((name) => `light-task-tracker:instance:${name}`),
    ...WORKER_CHANNELS.map((name) => `light-task-tracker:worker:${name}`),
  ];
  for (const name of names) {
    const listener = (message: unknown): void => {
      events.push({ channel: name.replace('light-task-tracker:', ''), message: message as Record<string, unknown> });
    };
    subscribe(name, listener);
    subscriptions.push(() => unsubscribe(name, listener));
  }
  return events;
}

const subscriptions: Array<() => void> = [];
afterEach(() => {
  for (const done of subscriptions.splice(0)) done();
});

/** The instance events of one instance, as `channel attempt` strings. */
function sequence(events: Seen[], instanceId: string): string[] {
  return events
    .filter((event) => event.channel.startsWith('instance:') && event.message.instanceId === instanceId)
    .map((event) => `${event.channel.slice('instance:'.length)} ${event.message.attempt as number}`);
}

describe('diagnostics channels', () => {
  it('a success: submit, start, end, each with the instance, its processor, its attempt and the times', async () => {
    const events = listen();
    const { runtime } = runtimes.make();
    const tracker = runtime.submit({ processor: 'succeed', jobParams: { n: 1 } });
    const outcome = await tracker.done;
    expect(sequence(events, tracker.instanceId)).toEqual(['submit 0', 'start 1', 'end 1']);
    const [submit, start, end] = events.filter((event) => event.message.instanceId === tracker.instanceId).map((event) => event.message);
    expect(submit).toMatchObject({ processor: 'succeed', attempt: 0, trace: {}, maxRetries: 0 });
    expect(start).toMatchObject({ processor: 'succeed', attempt: 1 });
    expect(start?.threadId).toEqual(expect.any(Number));
    expect(start?.waitMs as number).toBeGreaterThanOrEqual(0);
    expect(start?.time as number).toBeGreaterThanOrEqual(submit?.time as number);
    expect(end?.time as number).toBeGreaterThanOrEqual(start?.time as number);
    expect(end?.outcome).toBe(outcome);
  });

  it('a timeout with force-stop: submit, start, interrupt (timeout), force-stop, end', async () => {
    const events = listen();
    const { runtime } = runtimes.make({ forceStopGraceMs: 20 });
    const tracker = runtime.submit({ processor: 'spinRunaway', timeoutMs: 50 });
    const outcome = await tracker.done;
    expect(outcome.reason).toBe(OutcomeReason.TIMEOUT_FORCE_STOPPED);
    expect(sequence(events, tracker.instanceId)).toEqual(['submit 0', 'start 1', 'interrupt 1', 'force-stop 1', 'end 1']);
    const interrupt = events.find((event) => event.channel === 'instance:interrupt')?.message;
    const forceStop = events.find((event) => event.channel === 'instance:force-stop')?.message;
    expect(interrupt).toMatchObject({ cause: 'timeout' });
    expect(forceStop).toMatchObject({ cause: 'timeout' });
  });

  it('a retry after a worker death: submit, start 1, retry 2, start 2, end 2; the worker exits and another starts', async () => {
    const events = listen();
    const { runtime } = runtimes.make();
    await runtime.ready();
    const tracker = runtime.submit({ processor: 'exitOnce', maxRetries: 1 });
    const outcome = await tracker.done;
    expect(outcome).toMatchObject({ status: OutcomeStatus.SUCCEED, attempts: 2 });
    expect(sequence(events, tracker.instanceId)).toEqual(['submit 0', 'start 1', 'retry 2', 'start 2', 'end 2']);
    expect(events.find((event) => event.channel === 'instance:retry')?.message).toMatchObject({ reason: OutcomeReason.WORKER_DIED });
    const died = events.find((event) => event.channel === 'instance:start' && event.message.attempt === 1)?.message.threadId;
    await runtime.ready();
    expect(events.filter((event) => event.channel === 'worker:exit').map((event) => event.message.threadId)).toContain(died);
    expect(events.filter((event) => event.channel === 'worker:start').length).toBeGreaterThanOrEqual(1);
  });

  it('a stop before start: submit, end — nothing else', async () => {
    const events = listen();
    const { runtime } = runtimes.make({ maxThreads: 1 });
    const blocker = runtime.submit({ processor: 'spinCooperative' });
    const filler = runtime.submit({ processor: 'spinCooperative' });
    const tracker = runtime.submit({ processor: 'succeed' });
    tracker.stop();
    expect((await tracker.done).reason).toBe(OutcomeReason.STOPPED_BEFORE_START);
    blocker.stop();
    filler.stop();
    await Promise.all([blocker.done, filler.done]);
    expect(sequence(events, tracker.instanceId)).toEqual(['submit 0', 'end 0']);
  });

  it('carries what a submit subscriber puts in `trace` to every attempt, as ctx.trace', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const listener = (message: unknown): void => {
      (message as { trace: Record<string, string> }).trace.traceparent = traceparent;
    };
    subscribe('light-task-tracker:instance:submit', listener);
    subscriptions.push(() => unsubscribe('light-task-tracker:instance:submit', listener));
    const { runtime } = runtimes.make();
    const outcome = await runtime.submit({ processor: 'data', jobParams: { mode: 'trace' } }).done;
    expect(outcome.value).toEqual({ traceparent });
  });

});

describe('runtime.metrics()', () => {
  it('counts outcomes by reason, and gives wait and run distributions per processor', async () => {
    const { runtime } = runtimes.make({ forceStopGraceMs: 10 });
    await runtime.ready();
    const done = await Promise.all([
      runtime.submit({ processor: 'succeed', jobParams: { n: 1 } }).done,
      runtime.submit({ processor: 'succeed', jobParams: { n: 2 } }).done,
      runtime.submit({ processor: 'fail' }).done,
      runtime.submit({ processor: 'spinRunaway', timeoutMs: 30 }).done,
    ]);
    expect(done.map((outcome) => outcome.reason)).toEqual([
      OutcomeReason.SUCCEEDED,
      OutcomeReason.SUCCEEDED,
      OutcomeReason.PROCESSOR_FAILED,
      OutcomeReason.TIMEOUT_FORCE_STOPPED,
    ]);
    const metrics = runtime.metrics();
    expect(metrics.outcomes).toMatchObject({ SUCCEEDED: 2, PROCESSOR_FAILED: 1, TIMEOUT_FORCE_STOPPED: 1, WORKER_DIED: 0 });
    expect(metrics).toMatchObject({ submitted: 4, forceStops: 1, workerDeaths: 0, live: 0, queued: 0, running: 0 });
    expect(metrics.processors.succeed?.waitMs.count).toBe(2);
    expect(metrics.processors.succeed?.runMs.count).toBe(2);
    const run = metrics.processors.spinRunaway?.runMs;
    // The runaway ran its 30 ms timeout and 10 ms grace.
    expect(run?.count).toBe(1);
    expect(run?.min as number).toBeGreaterThanOrEqual(39);
    expect(run?.p50 as number).toBeGreaterThanOrEqual(run?.min as number);
    expect(run?.max as number).toBeGreaterThanOrEqual(run?.p99 as number);
    expect(metrics.utilization).toBeGreaterThan(0);
    expect(metrics.utilization).toBeLessThanOrEqual(1);
    expect(metrics.workersStarted).toBeGreaterThanOrEqual(3);

    runtime.resetMetrics();
    const after = runtime.metrics();
    expect(after.processors).toEqual({});
    expect(after.utilization).toBe(0);
    expect(after.outcomes.SUCCEEDED).toBe(2); // counters stay
  });

  it('drops from the distributions what is older than metricsWindowMs, a sixth of the window at a time', () => {
    // The window on its own, with the times given: 600 ms, in steps of 100 ms.
    const metrics = new Metrics(600, 0);
    const counts = { live: 0, queued: 0, running: 0, awaitingReport: 0, threads: 2, idleThreads: 2, workersStarted: 2, workersRetired: 0, stuckThreads: 0, submitted: 2, maxThreads: 2, reportsDelivered: 0, reportsRetried: 0, reportsLost: 0, runningReportsFailed: 0 };
    metrics.started('a', 5, 10);
    metrics.ended('a', OutcomeReason.SUCCEEDED, 20, 30);
    metrics.ended('b', OutcomeReason.PROCESSOR_FAILED, 40, 450);
    const early = metrics.snapshot(counts, 500);
    expect(early.processors.a).toMatchObject({ waitMs: { count: 1 }, runMs: { count: 1 } });
    expect(early.processors.b?.runMs.count).toBe(1);
    expect(early.utilization).toBeCloseTo(60 / (500 * 2), 5);
    // 700 ms: the step of 0–100 ms has left the window; the one of 400–500 ms has not.
    const later = metrics.snapshot(counts, 700);
    expect(later.processors.a).toBeUndefined();
    expect(later.processors.b?.runMs.count).toBe(1);
    // The counters stay: only the distributions slide.
    expect(later.outcomes).toMatchObject({ SUCCEEDED: 1, PROCESSOR_FAILED: 1 });
    expect(metrics.snapshot(counts, 1200).processors).toEqual({});
  });

  it('counts live, queued and running instances as they are', async () => {
    const { runtime } = runtimes.make({ maxThreads: 1 });
    await runtime.ready();
    const trackers = Array.from({ length: 4 }, () => runtime.submit({ processor: 'spinCooperative' }));
    const now = runtime.metrics();
    // Two slots per thread: one runs, one waits in the pool; the other two wait in the runtime's queue.
    expect(now).toMatchObject({ live: 4, queued: 2, running: 2 });
    for (const tracker of trackers) tracker.stop();
    await Promise.all(trackers.map((tracker) => tracker.done));
  });

  it('hands a listener each wait and run it records, with the same values; a listener that throws harms nothing', async () => {
    const { runtime } = runtimes.make();
    const heard: Array<[string, string, number | null]> = [];
    const listener: MetricsListener = {
      started: (processor, waitMs) => void heard.push(['started', processor, waitMs]),
      ended: (processor, reason, runMs) => void heard.push([`ended ${reason}`, processor, runMs]),
    };
    const thrower: MetricsListener = {
      started: () => {
        throw new Error('listener broke');
      },
      ended: () => {
        throw new Error('listener broke');
      },
    };
    const removeThrower = listenTo(runtime, thrower);
    const remove = listenTo(runtime, listener);
    const outcome = await runtime.submit({ processor: 'succeed', jobParams: { n: 1 } }).done;
    expect(outcome.reason).toBe(OutcomeReason.SUCCEEDED);
    await runtime.submit({ processor: 'succeed', signal: AbortSignal.abort() }).done;
    expect(heard.map(([event, processor, ms]) => [event, processor, ms === null ? null : 'ms'])).toEqual([
      ['started', 'succeed', 'ms'],
      ['ended SUCCEEDED', 'succeed', 'ms'],
      ['ended STOPPED_BEFORE_START', 'succeed', null],
    ]);
    const { waitMs, runMs } = runtime.metrics().processors.succeed!;
    // The distributions keep two significant figures: within 1 %.
    for (const [kept, given] of [[waitMs.max, heard[0]![2]!], [runMs.max, heard[1]![2]!]] as const) {
      expect(Math.abs(kept - given)).toBeLessThanOrEqual(given / 100 + 0.001);
    }
    remove();
    removeThrower();
    remove();
    await runtime.submit({ processor: 'succeed', jobParams: { n: 2 } }).done;
    expect(heard).toHaveLength(3);
  });
});
