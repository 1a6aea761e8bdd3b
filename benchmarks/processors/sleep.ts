// An async processor: waits a minute with ctx.sleep(), which rejects at once when the tracker interrupts it.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor(async (ctx) => {
  await ctx.sleep(60_000);
  return { success: true, msg: 'slept a minute' };
});
