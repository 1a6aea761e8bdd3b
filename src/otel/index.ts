// The OpenTelemetry entry: `import { traceInstances } from 'light-task-tracker/otel'`. Needs @opentelemetry/api
// (an optional peer dependency) and an SDK the application registers; the main entry never loads it.
export { traceInstances, type InstanceTracing } from './tracing.js';
export { defaultTracingOptions, type InstanceTracingOptions } from './options.js';
export { SpanAttribute, SpanEvent } from './attributes.js';
export { TracingActiveError } from './errors.js';
