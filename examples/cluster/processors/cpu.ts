// A CPU-heavy job: keeps its thread busy for params.ms in a loop that never yields, reading the interrupt flag.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor((ctx) => {
  const { ms } = ctx.jobParams as { ms: number };
  ctx.log.info('started');
  const until = Date.now() + ms;
  let spins = 0;
  while (Date.now() < until) {
    if (ctx.interrupted) ctx.throwIfInterrupted();
    spins++;
  }
  return { success: true, msg: `${ms} ms of CPU, ${spins} spins` };
});
