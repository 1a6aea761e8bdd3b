// Throughput benchmark: the same no-op as tp-noop, as a workerpool worker (method `noop`).
import workerpool from 'workerpool';

workerpool.worker({
  noop: (): number => 0,
});
