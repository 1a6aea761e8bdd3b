// A job that waits a minute (ctx.sleep rejects at once on interrupt): the one the example stops.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor(async (ctx) => {
  ctx.log.info('started');
  await ctx.sleep(60_000);
  return { success: true, msg: 'waited a minute' };
});
