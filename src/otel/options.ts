// The options of traceInstances(): one type, its defaults, and the check that fills them in.
import type { Tracer } from '@opentelemetry/api';
import { checkNumber } from '../checks.js';
import { describeValue } from '../errors.js';
import { keySet, refuseUnknownOptions } from '../keys.js';

export interface InstanceTracingOptions {
  /**
   * The tracer the instance spans are made with.
   * @default the global tracer provider's tracer named `tracerName` (taken once, when `traceInstances()` is called;
   * a provider registered later still gets the spans, as with any tracer of the API)
   */
  readonly tracer?: Tracer;
  /**
   * The name (the instrumentation scope) of the tracer taken from the global provider; unused when `tracer` is given.
   * @default 'light-task-tracker'
   */
  readonly tracerName?: string;
  /**
   * Most characters of an outcome's `result` and of a retry's result kept in the span (attributes, event
   * attributes and the ERROR status message); a longer text is cut and "..." appended. 0 to 2^31−1.
   * @default 1024
   */
  readonly maxResultLength?: number;
}

export const defaultTracingOptions = Object.freeze({
  tracerName: 'light-task-tracker',
  maxResultLength: 1024,
});

const OPTION_KEYS = keySet({ tracer: true, tracerName: true, maxResultLength: true } satisfies Record<keyof InstanceTracingOptions, true>);

export interface ResolvedTracingOptions {
  /** Undefined: the global provider's, by `tracerName`. */
  readonly tracer: Tracer | undefined;
  readonly tracerName: string;
  readonly maxResultLength: number;
}

/** Fills in the defaults; throws a `TypeError` or `RangeError` naming the option and the value it got. */
export function resolveTracingOptions(options: InstanceTracingOptions): ResolvedTracingOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`traceInstances: options must be an object, got ${describeValue(options)}`);
  }
  refuseUnknownOptions('traceInstances', options, OPTION_KEYS);
  const { tracer, tracerName = defaultTracingOptions.tracerName, maxResultLength = defaultTracingOptions.maxResultLength } = options;
  if (tracer !== undefined && (typeof tracer !== 'object' || tracer === null || typeof tracer.startSpan !== 'function')) {
    throw new TypeError(`traceInstances: options.tracer must be an OpenTelemetry Tracer, got ${describeValue(tracer)}`);
  }
  if (typeof tracerName !== 'string' || tracerName === '') {
    throw new TypeError(`traceInstances: options.tracerName must be a non-empty string, got ${describeValue(tracerName)}`);
  }
  return {
    tracer,
    tracerName,
    maxResultLength: checkNumber('traceInstances: options.maxResultLength', maxResultLength, { min: 0, integer: true }),
  };
}
