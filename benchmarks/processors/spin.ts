// A cooperative hot loop: never yields, but reads the interrupt flag (a shared-memory load) on every iteration.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor((ctx) => {
  let spins = 0;
  while (!ctx.interrupted) spins++;
  ctx.throwIfInterrupted(); // gives up the way the tracker expects: by throwing InterruptedError
  return { success: true, msg: `spun ${spins} times` };
});
