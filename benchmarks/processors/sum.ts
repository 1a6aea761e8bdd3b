// CPU-bound and well-behaved: sums integers for about jobParams.ms (default 50) milliseconds, then succeeds.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor((ctx) => {
  const ms = typeof ctx.jobParams === 'number' ? ctx.jobParams : 50;
  const end = performance.now() + ms;
  let sum = 0;
  let n = 0;
  while (performance.now() < end) for (let i = 0; i < 10_000; i++) sum += n++;
  return { success: true, msg: `summed ${n} numbers` };
});
