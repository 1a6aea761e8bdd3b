// The `light-task-tracker/otel/processor` entry, for processor modules: runs a processor inside its instance's trace
// context (ctx.trace, W3C Trace Context), so the spans it makes with its own tracer are children of the instance span.
import {
  context,
  createTraceState,
  diag,
  isSpanContextValid,
  propagation,
  trace,
  type Context,
  type SpanContext,
} from '@opentelemetry/api';
import type { ProcessorContext, ProcessorFunction } from './processor.js';

/**
 * The instance's trace context, for this attempt: the active context with what the worker's global propagator
 * extracts from `ctx.trace` (baggage, …) and the instance span's W3C `traceparent` / `tracestate` as the remote
 * parent, read here even when no propagator is registered. The active context as it is when `ctx.trace` is
 * undefined (the instance is not traced) or holds no valid `traceparent`.
 */
export function traceContext(ctx: Pick<ProcessorContext, 'trace'>): Context {
  const active = context.active();
  const carrier = ctx.trace;
  if (carrier === undefined) return active;
  const extracted = extract(active, carrier);
  const parent = readTraceparent(carrier.traceparent, carrier.tracestate);
  return parent === undefined ? extracted : trace.setSpanContext(extracted, parent);
}

/**
 * Wraps a processor function so that it runs inside its instance's trace context (`traceContext(ctx)`): a span its
 * own tracer starts there, and in what it awaits, is a child of the instance span. Use it inside `defineProcessor`:
 * `export default defineProcessor(withTraceContext(async (ctx) => …))`. Context follows awaits only with a context
 * manager registered in the worker (an OpenTelemetry Node SDK registers one). A non-function throws a `TypeError`.
 */
export function withTraceContext<P = unknown, V = unknown, G = unknown, S = unknown>(process: ProcessorFunction<P, V, G, S>): ProcessorFunction<P, V, G, S> {
  if (typeof process !== 'function') throw new TypeError(`withTraceContext expects a processor function, got ${typeof process}`);
  return (ctx) => (ctx.trace === undefined ? process(ctx) : context.with(traceContext(ctx), process, undefined, ctx));
}

/**
 * What the worker's global propagator reads from the carrier; a propagator that throws is reported to diag, never
 * to the processor.
 */
function extract(active: Context, carrier: Readonly<Record<string, string>>): Context {
  try {
    return propagation.extract(active, carrier);
  } catch (error) {
    diag.error('light-task-tracker/otel/processor: the propagator could not extract ctx.trace', error);
    return active;
  }
}

// version-traceid-parentid-flags, lower-case hex; a version above 00 may append fields
// (https://www.w3.org/TR/trace-context/#traceparent-header).
const TRACEPARENT = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})(-.*)?$/;

/** The remote span context a `traceparent` names, or undefined when it is missing or malformed. */
function readTraceparent(traceparent: string | undefined, tracestate: string | undefined): SpanContext | undefined {
  if (typeof traceparent !== 'string') return undefined;
  const match = TRACEPARENT.exec(traceparent.trim());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  const spanContext: SpanContext = { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: true };
  if (!isSpanContextValid(spanContext)) return undefined;
  return typeof tracestate === 'string' && tracestate !== '' ? { ...spanContext, traceState: createTraceState(tracestate) } : spanContext;
}
