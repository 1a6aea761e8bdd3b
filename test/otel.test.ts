// The light-task-tracker/otel entries with the real OpenTelemetry SDK registered in both threads (a tracer provider
// exporting to memory, a context manager): the instance span as the caller's child, its attributes, events and status
// for every way an instance ends, and the processor's own spans as its children across the thread boundary.
import { readFileSync } from 'node:fs';
import { context, diag, DiagLogLevel, propagation, SpanKind, SpanStatusCode, trace, type Span, type SpanContext, type TextMapPropagator } from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { OutcomeReason, OutcomeStatus, SystemResult, type TaskRuntime, type TaskRuntimeOptions, type Tracker } from 'light-task-tracker';
import { defaultTracingOptions, SpanAttribute, SpanEvent, traceInstances, TracingActiveError, type InstanceTracing, type InstanceTracingOptions } from 'light-task-tracker/otel';
import { traceContext, withTraceContext } from 'light-task-tracker/otel/processor';
import { defineProcessor, type ProcessorContext, type ProcessorFunction } from 'light-task-tracker/processor';
import { setUpTracing, type SpanIds } from './fixtures/otel-setup.js';
import { fixture } from './support/fixtures.js';
import { useRuntimes } from './support/runtime.js';

// This thread's SDK, as an application registers it; each worker registers its own (fixtures/otel.js).
const { exporter, provider } = setUpTracing();
const tracer = trace.getTracer('otel-test');
const processors = { otel: fixture('otel'), spinCooperative: fixture('spin-cooperative') };
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const w3c = new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] });

const runtimes = useRuntimes();
const tracings: InstanceTracing[] = [];

afterEach(() => {
  for (const tracing of tracings.splice(0)) tracing.unsubscribe();
  propagation.disable();
  exporter.reset();
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});

/** Starts tracing instances, until the test ends. */
function traced(options?: InstanceTracingOptions): InstanceTracing {
  const tracing = traceInstances(options);
  tracings.push(tracing);
  return tracing;
}

/** What the fixture processor returns: the spans its worker ended, what it got as ctx.trace, the baggage it saw. */
interface WorkerView {
  readonly spans: SpanIds[];
  readonly trace: Record<string, string> | undefined;
  readonly baggage: string | undefined;
}

/** A runtime over the traced fixture, and a way to wait until an attempt has reported 'started'. */
function make(options: Partial<TaskRuntimeOptions> = {}): { runtime: TaskRuntime; started(tracker: Tracker): Promise<void> } {
  const seen = new Set<string>();
  const waiting = new Map<string, () => void>();
  const { runtime } = runtimes.make({
    processors,
    onProgress: ({ instanceId, value }) => {
      if (value !== 'started') return;
      seen.add(instanceId);
      waiting.get(instanceId)?.();
    },
    ...options,
  });
  const started = (tracker: Tracker): Promise<void> =>
    new Promise((resolve) => (seen.has(tracker.instanceId) ? resolve() : waiting.set(tracker.instanceId, resolve)));
  return { runtime, started };
}

/** Submits inside a span of the caller's own, made active for the call: returns the tracker and that span's context. */
function submitAsChild(submit: () => Tracker): { tracker: Tracker; caller: SpanContext } {
  return tracer.startActiveSpan('caller', (span: Span) => {
    try {
      return { tracker: submit(), caller: span.spanContext() };
    } finally {
      span.end();
    }
  });
}

/** The ended span of an instance, from this thread's exporter. */
function instanceSpan(instanceId: string, from: InMemorySpanExporter = exporter): ReadableSpan {
  const found = from.getFinishedSpans().filter((span) => span.attributes[SpanAttribute.INSTANCE_ID] === instanceId);
  expect(found, `one ended span for ${instanceId}`).toHaveLength(1);
  return found[0]!;
}

/** A span's events as names with their attributes. */
function events(span: ReadableSpan): Array<{ name: string; attributes: unknown }> {
  return span.events.map((event) => ({ name: event.name, attributes: event.attributes }));
}

/** Checks that `span` is the child of `parent` (same trace, parent's span id). */
function expectChild(span: { traceId: string; parentSpanId: string | undefined }, parent: SpanContext): void {
  expect(span.traceId).toBe(parent.traceId);
  expect(span.parentSpanId).toBe(parent.spanId);
}

const ids = (span: ReadableSpan): { traceId: string; parentSpanId: string | undefined } => ({
  traceId: span.spanContext().traceId,
  parentSpanId: span.parentSpanContext?.spanId,
});

describe('the instance span', () => {
  it('is the caller\'s child, and the processor\'s spans in its worker are its children', async () => {
    const tracing = traced();
    const { runtime } = make();
    const { tracker, caller } = submitAsChild(() => runtime.submit({ processor: 'otel', jobParams: { mode: 'succeed' }, timeoutMs: 30_000 }));
    expect(tracing.openSpans).toBe(1);
    const outcome = await tracker.done;
    expect(outcome.status).toBe(OutcomeStatus.SUCCEED);

    const span = instanceSpan(tracker.instanceId);
    const own = span.spanContext();
    expect(span.name).toBe('otel');
    expect(span.kind).toBe(SpanKind.INTERNAL);
    expectChild(ids(span), caller);
    expect(span.instrumentationScope.name).toBe(defaultTracingOptions.tracerName);
    expect(span.instrumentationScope.version).toBe(version);
    expect(span.attributes).toEqual({
      [SpanAttribute.INSTANCE_ID]: tracker.instanceId,
      [SpanAttribute.PROCESSOR]: 'otel',
      [SpanAttribute.TIMEOUT_MS]: 30_000,
      [SpanAttribute.MAX_RETRIES]: 0,
      [SpanAttribute.ATTEMPTS]: 1,
      [SpanAttribute.WAIT_MS]: expect.any(Number),
      [SpanAttribute.OUTCOME_STATUS]: 'SUCCEED',
      [SpanAttribute.OUTCOME_REASON]: 'SUCCEEDED',
      [SpanAttribute.OUTCOME_RESULT]: '',
    });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.events).toEqual([]);
    expect(span.ended).toBe(true);

    // Across the thread boundary: the worker got the span's context and its spans hang under it.
    const view = outcome.value as WorkerView;
    expect(view.trace).toEqual({ traceparent: `00-${own.traceId}-${own.spanId}-01` });
    const work = view.spans.find((ended) => ended.name === 'work');
    const step = view.spans.find((ended) => ended.name === 'step');
    expect(work).toBeDefined();
    expectChild(work!, own);
    expectChild(step!, { ...own, spanId: work!.spanId });
    expect(tracing.openSpans).toBe(0);
  });

  it('carries what the application\'s propagators inject (baggage) beside the traceparent', async () => {
    propagation.setGlobalPropagator(w3c);
    traced();
    const { runtime } = make();
    const baggage = propagation.createBaggage({ tenant: { value: 'acme' } });
    const { tracker, caller } = submitAsChild(() =>
      context.with(propagation.setBaggage(context.active(), baggage), () =>
        runtime.submit({ processor: 'otel', jobParams: { mode: 'succeed', propagators: true } })),
    );
    const outcome = await tracker.done;
    const own = instanceSpan(tracker.instanceId).spanContext();
    expectChild(ids(instanceSpan(tracker.instanceId)), caller);
    const view = outcome.value as WorkerView;
    expect(view.trace).toEqual({ traceparent: `00-${own.traceId}-${own.spanId}-01`, baggage: 'tenant=acme' });
    expect(view.baggage).toBe('acme');
    expectChild(view.spans.find((ended) => ended.name === 'work')!, own);
  });

  it('is a root span when the caller has no active span', async () => {
    traced();
    const { runtime } = make();
    const tracker = runtime.submit({ processor: 'otel' });
    const outcome = await tracker.done;
    const span = instanceSpan(tracker.instanceId);
    expect(span.parentSpanContext).toBeUndefined();
    expectChild((outcome.value as WorkerView).spans.find((ended) => ended.name === 'work')!, span.spanContext());
  });

  it('a FAILED instance: status ERROR with the result as its message, error.type the reason', async () => {
    traced();
    const { runtime } = make();
    const { tracker, caller } = submitAsChild(() => runtime.submit({ processor: 'otel', jobParams: { mode: 'fail' } }));
    expect((await tracker.done).reason).toBe(OutcomeReason.PROCESSOR_FAILED);
    const span = instanceSpan(tracker.instanceId);
    expectChild(ids(span), caller);
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'failed on purpose' });
    expect(span.attributes).toMatchObject({
      [SpanAttribute.OUTCOME_STATUS]: 'FAILED',
      [SpanAttribute.OUTCOME_REASON]: 'PROCESSOR_FAILED',
      [SpanAttribute.OUTCOME_RESULT]: 'failed on purpose',
      [SpanAttribute.ERROR_TYPE]: 'PROCESSOR_FAILED',
      [SpanAttribute.ATTEMPTS]: 1,
    });
  });

  it('a force-stop event carries the stack of the terminated thread (captureStack, the default)', async () => {
    traced();
    const { runtime } = make({ forceStopGraceMs: 20 });
    const tracker = runtime.submit({ processor: 'otel', jobParams: { mode: 'runaway' }, timeoutMs: 100 });
    const outcome = await tracker.done;
    expect(outcome.stack).toMatch(/^ {4}at /);
    const forceStop = events(instanceSpan(tracker.instanceId)).find((event) => event.name === SpanEvent.FORCE_STOP);
    expect(forceStop?.attributes).toEqual({ [SpanAttribute.ATTEMPT]: 1, [SpanAttribute.CAUSE]: 'timeout', [SpanAttribute.STACK]: outcome.stack });
  });

  it('a timeout with force-stop: the span still ends, ERROR, with its interrupt and force-stop events', async () => {
    const tracing = traced();
    const { runtime } = make({ forceStopGraceMs: 20, captureStack: false });
    const { tracker, caller } = submitAsChild(() => runtime.submit({ processor: 'otel', jobParams: { mode: 'runaway' }, timeoutMs: 100 }));
    const outcome = await tracker.done;
    expect(outcome.reason).toBe(OutcomeReason.TIMEOUT_FORCE_STOPPED);
    const span = instanceSpan(tracker.instanceId);
    expectChild(ids(span), caller);
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: SystemResult.TIMEOUT_FORCE_STOPPED });
    expect(span.attributes).toMatchObject({
      [SpanAttribute.OUTCOME_STATUS]: 'FAILED',
      [SpanAttribute.OUTCOME_REASON]: 'TIMEOUT_FORCE_STOPPED',
      [SpanAttribute.ERROR_TYPE]: 'TIMEOUT_FORCE_STOPPED',
      [SpanAttribute.ATTEMPTS]: 1,
    });
    expect(events(span)).toEqual([
      { name: SpanEvent.INTERRUPT, attributes: { [SpanAttribute.ATTEMPT]: 1, [SpanAttribute.CAUSE]: 'timeout' } },
      { name: SpanEvent.FORCE_STOP, attributes: { [SpanAttribute.ATTEMPT]: 1, [SpanAttribute.CAUSE]: 'timeout' } },
    ]);
    // The events lie inside the span, the force-stop after the interrupt's 20 ms grace.
    const ms = ([seconds, nanos]: readonly [number, number]): number => seconds * 1000 + nanos / 1e6;
    const [interrupt, forceStop] = span.events;
    expect(ms(interrupt!.time)).toBeGreaterThanOrEqual(ms(span.startTime));
    expect(ms(forceStop!.time) - ms(interrupt!.time)).toBeGreaterThanOrEqual(15);
    expect(ms(span.endTime)).toBeGreaterThanOrEqual(ms(forceStop!.time));
    expect(tracing.openSpans).toBe(0);
  });

  it('a stop with force-stop: the span ends with status UNSET, the reason in its attributes, stop events', async () => {
    traced();
    const { runtime, started } = make({ forceStopGraceMs: 20 });
    const tracker = runtime.submit({ processor: 'otel', jobParams: { mode: 'runaway' } });
    await started(tracker);
    tracker.stop();
    expect((await tracker.done).reason).toBe(OutcomeReason.STOP_FORCE_STOPPED);
    const span = instanceSpan(tracker.instanceId);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes).toMatchObject({ [SpanAttribute.OUTCOME_STATUS]: 'STOPPED', [SpanAttribute.OUTCOME_REASON]: 'STOP_FORCE_STOPPED' });
    expect(span.attributes[SpanAttribute.ERROR_TYPE]).toBeUndefined();
    expect(events(span).map((event) => `${event.name} ${String((event.attributes as Record<string, unknown>)[SpanAttribute.CAUSE])}`)).toEqual([
      'interrupt stop',
      'force-stop stop',
    ]);
  });

  it('a retry: an event for it, and both attempts\' spans under the one instance span', async () => {
    traced();
    // One thread: both attempts run in the same worker, whose exporter then holds the spans of both.
    const { runtime } = make({ maxThreads: 1 });
    const { tracker, caller } = submitAsChild(() => runtime.submit({ processor: 'otel', jobParams: { mode: 'fail-once' }, maxRetries: 1 }));
    const outcome = await tracker.done;
    expect(outcome).toMatchObject({ status: OutcomeStatus.SUCCEED, attempts: 2 });
    const span = instanceSpan(tracker.instanceId);
    expectChild(ids(span), caller);
    expect(events(span)).toEqual([
      {
        name: SpanEvent.RETRY,
        attributes: { [SpanAttribute.ATTEMPT]: 2, [SpanAttribute.REASON]: 'PROCESSOR_FAILED', [SpanAttribute.RESULT]: 'the first attempt fails' },
      },
    ]);
    expect(span.attributes).toMatchObject({ [SpanAttribute.ATTEMPTS]: 2, [SpanAttribute.MAX_RETRIES]: 1, [SpanAttribute.OUTCOME_STATUS]: 'SUCCEED' });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    const works = (outcome.value as WorkerView).spans.filter((ended) => ended.name === 'work');
    expect(works).toHaveLength(2);
    for (const work of works) expectChild(work, span.spanContext());
  });

  it('a stop before start: the span ends at once, attempts 0, no wait, status UNSET', async () => {
    const tracing = traced();
    const { runtime } = make({ maxThreads: 1 });
    // One thread holds two attempts (one running, one handed over): the third instance waits in the runtime's queue.
    const blockers = [runtime.submit({ processor: 'spinCooperative' }), runtime.submit({ processor: 'spinCooperative' })];
    const { tracker, caller } = submitAsChild(() => runtime.submit({ processor: 'otel' }));
    tracker.stop();
    expect((await tracker.done).reason).toBe(OutcomeReason.STOPPED_BEFORE_START);
    const span = instanceSpan(tracker.instanceId);
    expectChild(ids(span), caller);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.events).toEqual([]);
    expect(span.attributes).toMatchObject({
      [SpanAttribute.ATTEMPTS]: 0,
      [SpanAttribute.OUTCOME_STATUS]: 'STOPPED',
      [SpanAttribute.OUTCOME_REASON]: 'STOPPED_BEFORE_START',
      [SpanAttribute.OUTCOME_RESULT]: SystemResult.STOPPED_BEFORE_START,
    });
    expect(span.attributes[SpanAttribute.WAIT_MS]).toBeUndefined();
    expect(tracing.openSpans).toBe(2);
    for (const blocker of blockers) blocker.stop();
    await Promise.all(blockers.map((blocker) => blocker.done));
    expect(tracing.openSpans).toBe(0);
  });

  it('close(): every instance\'s span ends, running and queued alike', async () => {
    const tracing = traced();
    const { runtime, started } = make({ maxThreads: 1 });
    const running = runtime.submit({ processor: 'otel', jobParams: { mode: 'await-stop' } });
    const waiting = [runtime.submit({ processor: 'otel' }), runtime.submit({ processor: 'otel' })];
    await started(running);
    expect(tracing.openSpans).toBe(3);
    await runtime.close();
    expect(tracing.openSpans).toBe(0);
    expect(instanceSpan(running.instanceId).attributes[SpanAttribute.OUTCOME_REASON]).toBe('STOP_INTERRUPTED');
    expect(events(instanceSpan(running.instanceId)).map((event) => event.name)).toEqual([SpanEvent.INTERRUPT]);
    for (const tracker of waiting) expect(instanceSpan(tracker.instanceId).attributes[SpanAttribute.OUTCOME_STATUS]).toBe('STOPPED');
  });

  it('close() settles, every span ended, while a worker is terminated inside a CommonJS import of its boot', async () => {
    // Node 22 and 24 can lose a termination that lands there (as when a worker is still importing the OpenTelemetry
    // SDK): the worker's boot goes on and it parks waiting for work. boot-hold.js holds a worker's boot at that point.
    const channel = new BroadcastChannel('light-task-tracker-boot-hold');
    try {
      let first: number | undefined;
      const holding = new Promise<void>((resolve) => {
        channel.onmessage = ({ data }: { data: { booting?: number; holding?: number } }) => {
          if (data.holding !== undefined) return resolve();
          if (data.booting === undefined) return;
          // The first worker boots; any later one is held.
          first ??= data.booting;
          channel.postMessage({ threadId: data.booting, hold: data.booting !== first });
        };
      });
      const tracing = traced();
      const { runtime, started } = make({
        processors: { ...processors, hold: fixture('boot-hold') },
        maxThreads: 2,
        minThreads: 1,
        spareThreads: 0,
      });
      await runtime.ready();
      // Loaded once (in the first worker, not held), the module is imported by every worker that boots later.
      await runtime.run('hold');
      const running = runtime.submit({ processor: 'otel', jobParams: { mode: 'await-stop' } });
      await started(running);
      // The one worker is busy: the next instance makes the pool start a second, whose boot is held.
      const waiting = runtime.submit({ processor: 'otel' });
      await holding;
      expect(tracing.openSpans).toBe(2);
      await runtime.close();
      expect(runtime.threads).toBe(0);
      expect(tracing.openSpans).toBe(0);
      expect(instanceSpan(running.instanceId).attributes[SpanAttribute.OUTCOME_REASON]).toBe('STOP_INTERRUPTED');
      expect(instanceSpan(waiting.instanceId).attributes[SpanAttribute.OUTCOME_REASON]).toBe('STOPPED_BEFORE_START');
    } finally {
      channel.close();
    }
  });
});

describe('traceInstances()', () => {
  it('one tracing at a time; unsubscribe() stops new spans at once and still ends the open ones', async () => {
    const tracing = traced();
    expect(() => traceInstances()).toThrow(TracingActiveError);
    try {
      traceInstances();
    } catch (error) {
      expect(error).toMatchObject({ name: 'TracingActiveError', code: 'ERR_TRACING_ACTIVE' });
    }
    const { runtime, started } = make();
    const before = runtime.submit({ processor: 'otel', jobParams: { mode: 'await-stop' } });
    await started(before);
    tracing.unsubscribe();
    tracing.unsubscribe(); // again: nothing
    expect(tracing.openSpans).toBe(1);

    // Not traced: no span, nothing in ctx.trace, the processor's spans are roots of their own.
    const after = runtime.submit({ processor: 'otel' });
    const outcome = await after.done;
    expect((outcome.value as WorkerView).trace).toBeUndefined();
    expect((outcome.value as WorkerView).spans.find((ended) => ended.name === 'work')?.parentSpanId).toBeUndefined();
    expect(exporter.getFinishedSpans().filter((span) => span.attributes[SpanAttribute.INSTANCE_ID] === after.instanceId)).toEqual([]);

    // Another tracing may start now; the first still ends its open span when the instance ends.
    const next = traced();
    before.stop();
    await before.done;
    expect(tracing.openSpans).toBe(0);
    expect(next.openSpans).toBe(0);
    expect(instanceSpan(before.instanceId).attributes[SpanAttribute.OUTCOME_REASON]).toBe('STOP_INTERRUPTED');
  });

  it('a propagator that throws is reported to diag: the submit goes on, the span is kept, linked and still ended', async () => {
    const logged: unknown[][] = [];
    const log = (...args: unknown[]): void => void logged.push(args);
    diag.setLogger({ error: log, warn: () => {}, info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.ERROR);
    const broken: TextMapPropagator = {
      inject: () => {
        throw new Error('broken propagator');
      },
      extract: (active) => active,
      fields: () => [],
    };
    propagation.setGlobalPropagator(broken);
    try {
      const tracing = traced();
      const { runtime } = make();
      const tracker = runtime.submit({ processor: 'otel' });
      expect(tracing.openSpans).toBe(1);
      const outcome = await tracker.done;
      expect(outcome.status).toBe(OutcomeStatus.SUCCEED);
      const span = instanceSpan(tracker.instanceId);
      expect(span.attributes[SpanAttribute.OUTCOME_REASON]).toBe('SUCCEEDED');
      // The traceparent is written before the application's propagator runs.
      expectChild((outcome.value as WorkerView).spans.find((ended) => ended.name === 'work')!, span.spanContext());
      expect(tracing.openSpans).toBe(0);
      expect(logged).toHaveLength(1);
      expect(String(logged[0]?.[0])).toMatch(/submit event could not be traced/);
      expect((logged[0]?.[1] as Error).message).toBe('broken propagator');
    } finally {
      diag.disable();
    }
  });

  it('takes its own tracer and cuts long results to maxResultLength', async () => {
    const own = new InMemorySpanExporter();
    const ownProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(own)] });
    traced({ tracer: ownProvider.getTracer('mine'), maxResultLength: 6 });
    const { runtime } = make();
    const tracker = runtime.submit({ processor: 'otel', jobParams: { mode: 'fail' } });
    await tracker.done;
    const span = instanceSpan(tracker.instanceId, own);
    expect(span.instrumentationScope.name).toBe('mine');
    expect(span.attributes[SpanAttribute.OUTCOME_RESULT]).toBe('failed...');
    expect(span.status.message).toBe('failed...');
    expect(exporter.getFinishedSpans().filter((ended) => ended.attributes[SpanAttribute.INSTANCE_ID] === tracker.instanceId)).toEqual([]);
    await ownProvider.shutdown();
  });

  it('refuses bad options with a TypeError or RangeError naming the option, and starts no tracing', () => {
    expect(() => traceInstances({ maxResultLength: -1 })).toThrow(RangeError);
    expect(() => traceInstances({ maxResultLength: 1.5 })).toThrow(/options\.maxResultLength/);
    expect(() => traceInstances({ tracer: 42 as never })).toThrow(TypeError);
    expect(() => traceInstances({ tracerName: '' })).toThrow(/options\.tracerName/);
    expect(() => traceInstances(null as never)).toThrow(TypeError);
    traced(); // none of the above holds the one tracing
  });
});

describe('light-task-tracker/otel/processor', () => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const spanId = 'b7ad6b7169203331';

  it('traceContext(ctx): the traceparent and tracestate as a remote parent, without any propagator registered', () => {
    const parent = trace.getSpanContext(traceContext({ trace: { traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'vendor=x,other=y' } }));
    expect(parent).toMatchObject({ traceId, spanId, traceFlags: 1, isRemote: true });
    expect(parent?.traceState?.get('vendor')).toBe('x');
    expect(trace.getSpanContext(traceContext({ trace: { traceparent: `00-${traceId}-${spanId}-00` } }))?.traceFlags).toBe(0);
    // A later version may append fields.
    expect(trace.getSpanContext(traceContext({ trace: { traceparent: `01-${traceId}-${spanId}-01-more` } }))?.spanId).toBe(spanId);
  });

  it('traceContext(ctx): the active context as it is when there is no trace or its traceparent is malformed', () => {
    expect(traceContext({ trace: undefined })).toBe(context.active());
    for (const traceparent of [
      '',
      `00-${traceId.toUpperCase()}-${spanId}-01`,
      `ff-${traceId}-${spanId}-01`,
      `00-${traceId}-${spanId}-01-extra`,
      `00-${'0'.repeat(32)}-${spanId}-01`,
      `00-${traceId}-${'0'.repeat(16)}-01`,
      `00-${traceId}-${spanId}`,
    ]) {
      expect(trace.getSpanContext(traceContext({ trace: { traceparent } })), traceparent).toBeUndefined();
    }
  });

  it('withTraceContext(fn) runs fn inside that context, and fn as it is when the instance is not traced', async () => {
    const seen = withTraceContext(async (ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return { success: true, msg: ctx.instanceId, value: trace.getSpanContext(context.active())?.spanId };
    });
    const ctx = (carrier: Record<string, string> | undefined): ProcessorContext => ({ instanceId: 'i', trace: carrier }) as unknown as ProcessorContext;
    expect(await seen(ctx({ traceparent: `00-${traceId}-${spanId}-01` }))).toEqual({ success: true, msg: 'i', value: spanId });
    expect(await seen(ctx(undefined))).toEqual({ success: true, msg: 'i', value: undefined });
    expect(() => withTraceContext(42 as never)).toThrow(TypeError);
  });

  it('keeps the processor\'s types', () => {
    const fn = (ctx: ProcessorContext<{ n: number }, string>) => ({ success: true, value: ctx.jobParams.n * 2 });
    const wrapped = withTraceContext(fn);
    expectTypeOf(wrapped).toEqualTypeOf<ProcessorFunction<{ n: number }, number, string>>();
    expectTypeOf(defineProcessor(wrapped).process).toEqualTypeOf<ProcessorFunction<{ n: number }, number, string>>();
    const resumable = withTraceContext((ctx: ProcessorContext<{ n: number }, string, { row: number }>) => ({ success: true, value: ctx.resumeFrom?.row ?? ctx.jobParams.n }));
    expectTypeOf(defineProcessor(resumable).process).toEqualTypeOf<ProcessorFunction<{ n: number }, number, string, { row: number }>>();
  });
});
