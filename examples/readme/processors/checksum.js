// processors/checksum.js
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor(async (ctx) => {
  const { data } = ctx.jobParams; // bytes moved here from the caller: not copied
  let sum = 0;
  for (let i = 0; i < data.length; i++) {
    if ((i & 0xffff) === 0) {
      if (ctx.interrupted) break;     // a shared-memory read: cheap in a hot loop
      ctx.progress(i / data.length);  // coalesced: at most one message per 10 ms
    }
    sum = (sum + data[i]) | 0;
  }
  ctx.throwIfInterrupted(); // gives up with an InterruptedError if the tracker interrupted us
  await ctx.sleep(100);     // rejects at once on interrupt
  ctx.log.info({ sum }, 'summed');
  return { success: true, msg: `checksum ${sum}`, value: { sum } };
});
