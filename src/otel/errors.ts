// What the OpenTelemetry entry throws: one class and one stable `code` per cause.
import { TaskTrackerError } from '../errors.js';

/**
 * `traceInstances()` was called while instances are already traced in this process. The trace context every
 * attempt carries has room for one instance span, so a second tracing would make a second span per instance whose
 * processor spans hang under the other one: call `unsubscribe()` on the first before starting another.
 */
export class TracingActiveError extends TaskTrackerError {
  constructor() {
    super('ERR_TRACING_ACTIVE', 'instances are already traced in this process (traceInstances): unsubscribe that tracing first');
  }
}
