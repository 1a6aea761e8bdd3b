// Fails its first attempt and succeeds on the first retry.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor((ctx) => {
  ctx.log.info({ at: performance.timeOrigin + performance.now(), retry: ctx.currentRetryTimes }, 'started');
  if (ctx.currentRetryTimes === 0) return { success: false, msg: 'first attempt failed' };
  return { success: true, msg: `succeeded on retry ${ctx.currentRetryTimes}` };
});
