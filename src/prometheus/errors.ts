// What registerMetrics() throws when the registry cannot take the metrics: one class, one stable `code`.
import { TaskTrackerError } from '../errors.js';

/**
 * The registry already holds something the metrics would clash with: a metric of the same name that is not this
 * entry's; or this entry's metrics under the same prefix with other label names, other buckets, or a runtime with
 * the very same label values. `metric` names the metric concerned.
 */
export class MetricsConflictError extends TaskTrackerError {
  readonly metric: string;
  constructor(metric: string, message: string) {
    super('ERR_METRICS_CONFLICT', `${metric}: ${message}`);
    this.metric = metric;
  }
}
