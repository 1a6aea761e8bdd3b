// A runaway loop that ignores every interrupt: only terminating its worker ends it.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor((ctx) => {
  let spins = 0;
  for (;;) spins++;
});
