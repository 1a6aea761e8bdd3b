// The Prometheus entry: `import { registerMetrics } from 'light-task-tracker/prometheus'`. Needs `prom-client`
// installed; the main entry never loads it.
export { registerMetrics, type MetricsRegistration } from './register.js';
export { defaultPrometheusOptions, type PrometheusOptions } from './options.js';
export { MetricsConflictError } from './errors.js';
