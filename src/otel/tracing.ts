// One OpenTelemetry span per instance, from its submit to its end, made from the runtime's lifecycle events on
// node:diagnostics_channel. The span's context goes with every attempt to its worker as W3C trace entries.
import { createRequire } from 'node:module';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { context, diag, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { channels, type EndMessage, type ForceStopMessage, type InterruptMessage, type RetryMessage, type SubmitMessage } from '../channels.js';
import { cutResult } from '../report.js';
import { OutcomeStatus } from '../status.js';
import { SpanAttribute, SpanEvent } from './attributes.js';
import { TracingActiveError } from './errors.js';
import { resolveTracingOptions, type InstanceTracingOptions } from './options.js';
import { writeTraceContext } from './traceparent.js';

/** One traced instance: its span, and its submit (epoch ms) for the wait. */
interface Traced {
  readonly span: Span;
  readonly submittedAt: number;
}

/** The tracing that makes spans for new submits, if any: one at a time (see TracingActiveError). */
let current: InstanceTracing | undefined;

/**
 * Starts tracing instances: from now on, every `submit()` in this process (every runtime) makes a span, named after
 * the processor, as a child of the caller's active context, and its W3C trace context travels with each attempt
 * (the processor reads it as `ctx.trace`; `withTraceContext` of `light-task-tracker/otel/processor` runs the
 * processor inside it). Throws a `TracingActiveError` while another tracing makes spans, and a `TypeError` or
 * `RangeError` for a bad option.
 */
export function traceInstances(options: InstanceTracingOptions = {}): InstanceTracing {
  const resolved = resolveTracingOptions(options);
  if (current !== undefined) throw new TracingActiveError();
  const tracer = resolved.tracer ?? trace.getTracer(resolved.tracerName, packageVersion());
  current = new InstanceTracing(tracer, resolved.maxResultLength);
  return current;
}

/** What `traceInstances()` returns: the handle that ends the tracing. */
export class InstanceTracing {
  readonly #tracer: Tracer;
  readonly #maxResultLength: number;
  /**
   * The open spans by instance id. Two runtimes of one process may each have a live instance of the same id: their
   * spans queue under it, the oldest taking the events (a span is never lost either way).
   */
  readonly #open = new Map<string, Traced[]>();
  #count = 0;
  #tracingSubmits = true;
  readonly #onSubmitMessage: (message: unknown) => void;
  /** The other channels' listeners, by channel name: kept until the last open span has ended. */
  #listeners: Array<[name: string | symbol, listener: (message: unknown) => void]>;

  /** @internal Made by `traceInstances()`. */
  constructor(tracer: Tracer, maxResultLength: number) {
    this.#tracer = tracer;
    this.#maxResultLength = maxResultLength;
    this.#onSubmitMessage = this.#guarded('submit', (message) => this.#onSubmit(message as SubmitMessage));
    this.#listeners = [
      [channels.interrupt.name, this.#guarded('interrupt', (message) => this.#onInterrupt(message as InterruptMessage, SpanEvent.INTERRUPT))],
      [channels.forceStop.name, this.#guarded('force-stop', (message) => this.#onInterrupt(message as ForceStopMessage, SpanEvent.FORCE_STOP))],
      [channels.retry.name, this.#guarded('retry', (message) => this.#onRetry(message as RetryMessage))],
      [channels.end.name, this.#guarded('end', (message) => this.#onEnd(message as EndMessage))],
    ];
    for (const [name, listener] of this.#listeners) subscribe(name, listener);
    subscribe(channels.submit.name, this.#onSubmitMessage);
  }

  /** Spans made and not yet ended: one per instance submitted under this tracing that has not ended yet. */
  get openSpans(): number {
    return this.#count;
  }

  /**
   * Stops tracing new submits at once (another `traceInstances()` may start). The spans already open still get
   * their events and end with their instance; then the last subscriptions go. Calling it again does nothing.
   */
  unsubscribe(): void {
    if (!this.#tracingSubmits) return;
    this.#tracingSubmits = false;
    if (current === this) current = undefined;
    unsubscribe(channels.submit.name, this.#onSubmitMessage);
    this.#detachWhenDrained();
  }

  // A listener that throws would surface as an uncaught exception in the runtime's process: report to OTel's diag.
  #guarded(event: string, handle: (message: unknown) => void): (message: unknown) => void {
    return (message) => {
      try {
        handle(message);
      } catch (error) {
        diag.error(`light-task-tracker/otel: the ${event} event could not be traced`, error);
      }
    };
  }

  // Published synchronously inside submit(): the active context is the caller's.
  #onSubmit(message: SubmitMessage): void {
    if (!this.#tracingSubmits) return;
    const attributes: Attributes = {
      [SpanAttribute.INSTANCE_ID]: message.instanceId,
      [SpanAttribute.PROCESSOR]: message.processor,
      [SpanAttribute.MAX_RETRIES]: message.maxRetries,
    };
    if (message.timeoutMs !== undefined) attributes[SpanAttribute.TIMEOUT_MS] = message.timeoutMs;
    const parent = context.active();
    const span = this.#tracer.startSpan(message.processor, { kind: SpanKind.INTERNAL, startTime: message.time, attributes }, parent);
    // Kept before anything else may throw: from here on the instance's end ends it.
    const queued = this.#open.get(message.instanceId);
    const traced = { span, submittedAt: message.time };
    if (queued === undefined) this.#open.set(message.instanceId, [traced]);
    else queued.push(traced);
    this.#count++;
    // W3C Trace Context first, always there for the worker side to read whatever propagators the worker has; then
    // the application's propagators (baggage, other formats; a W3C one writes the same traceparent again).
    writeTraceContext(span.spanContext(), message.trace);
    propagation.inject(trace.setSpan(parent, span), message.trace);
  }

  #onInterrupt(message: InterruptMessage | ForceStopMessage, event: SpanEvent): void {
    const stack = 'stack' in message ? message.stack : undefined;
    const attributes = { [SpanAttribute.ATTEMPT]: message.attempt, [SpanAttribute.CAUSE]: message.cause };
    this.#find(message.instanceId)?.span.addEvent(event, stack === undefined ? attributes : { ...attributes, [SpanAttribute.STACK]: stack }, message.time);
  }

  #onRetry(message: RetryMessage): void {
    this.#find(message.instanceId)?.span.addEvent(
      SpanEvent.RETRY,
      {
        [SpanAttribute.ATTEMPT]: message.attempt,
        [SpanAttribute.REASON]: message.reason,
        [SpanAttribute.RESULT]: cutResult(message.result, this.#maxResultLength),
      },
      message.time,
    );
  }

  // Every instance ends through here, however it ends (stopped before start and close() included): the span is
  // taken out first, and ended whatever else fails.
  #onEnd(message: EndMessage): void {
    const traced = this.#take(message.instanceId);
    if (traced === undefined) return;
    const { span } = traced;
    try {
      const { outcome } = message;
      const result = cutResult(outcome.result, this.#maxResultLength);
      span.setAttributes({
        [SpanAttribute.ATTEMPTS]: outcome.attempts,
        [SpanAttribute.OUTCOME_STATUS]: outcome.status,
        [SpanAttribute.OUTCOME_REASON]: outcome.reason,
        [SpanAttribute.OUTCOME_RESULT]: result,
      });
      if (outcome.startTime !== null) span.setAttribute(SpanAttribute.WAIT_MS, Math.max(0, Math.round(outcome.startTime - traced.submittedAt)));
      // Success and a stop (the caller's own decision) leave the status UNSET, as instrumentation should; only a
      // failure is an error.
      if (outcome.status === OutcomeStatus.FAILED) {
        span.setAttribute(SpanAttribute.ERROR_TYPE, outcome.reason);
        span.setStatus({ code: SpanStatusCode.ERROR, message: result === '' ? outcome.reason : result });
      }
    } finally {
      span.end(message.time);
      this.#detachWhenDrained();
    }
  }

  #find(instanceId: string): Traced | undefined {
    return this.#open.get(instanceId)?.[0];
  }

  #take(instanceId: string): Traced | undefined {
    const queued = this.#open.get(instanceId);
    const traced = queued?.shift();
    if (traced === undefined) return undefined;
    if (queued?.length === 0) this.#open.delete(instanceId);
    this.#count--;
    return traced;
  }

  #detachWhenDrained(): void {
    if (this.#tracingSubmits || this.#count > 0) return;
    for (const [name, listener] of this.#listeners) unsubscribe(name, listener);
    this.#listeners = [];
  }
}

/** The package's version, for the tracer's instrumentation scope; undefined if its manifest cannot be read. */
function packageVersion(): string | undefined {
  try {
    const manifest = createRequire(import.meta.url)('light-task-tracker/package.json') as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : undefined;
  } catch {
    return undefined;
  }
}
