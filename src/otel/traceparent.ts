// Writes a span's context into an attempt's trace entries as W3C Trace Context (https://www.w3.org/TR/trace-context/):
// the entry may load nothing but @opentelemetry/api, which has no propagator of its own.
import { isSpanContextValid, type SpanContext } from '@opentelemetry/api';

/** The W3C header names, as the worker side reads them. */
export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

/**
 * Puts `traceparent` (version 00) and, when the span has one, `tracestate` into `carrier`; an invalid span context
 * (a no-op tracer with no parent) writes nothing, as the W3C propagator does.
 */
export function writeTraceContext(spanContext: SpanContext, carrier: Record<string, string>): void {
  if (!isSpanContextValid(spanContext)) return;
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  carrier[TRACEPARENT] = `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
  const state = spanContext.traceState?.serialize();
  if (state !== undefined && state !== '') carrier[TRACESTATE] = state;
}
