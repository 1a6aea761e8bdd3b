// A job that would wait a minute, but honours an interrupt: ctx.sleep rejects at once, so its timeout ends it.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor(async (ctx) => {
  await ctx.sleep(60_000);
  return { success: true, msg: 'waited a minute' };
});
