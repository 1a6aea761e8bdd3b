// Fails its first attempt and succeeds on the first retry.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor((ctx) => {
  if (ctx.currentRetryTimes === 0) return { success: false, msg: 'first attempt failed' };
  return { success: true, msg: `succeeded on retry ${ctx.currentRetryTimes}` };
});
