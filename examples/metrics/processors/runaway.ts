// A runaway job: spins for ever and ignores every interrupt; only terminating its thread ends it.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor((ctx) => {
  ctx.log.info('started');
  for (;;);
});
