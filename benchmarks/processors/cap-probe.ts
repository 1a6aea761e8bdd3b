// Benchmark 5's probe: writes the time it started (epoch ms, cross-thread clock) into the shared buffer.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor((ctx) => {
  const { buffer } = ctx.jobParams as { buffer: SharedArrayBuffer };
  new Float64Array(buffer, 8, 1)[0] = performance.timeOrigin + performance.now();
  return { success: true };
});
