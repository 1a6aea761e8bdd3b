// Peers benchmark: a runaway CPU loop that ignores every interrupt (never reads ctx.interrupted, never yields):
// only terminating its worker ends it.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor(() => {
  let spins = 0;
  for (;;) spins = (spins + 1) | 0;
});
