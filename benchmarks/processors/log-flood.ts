// Benchmark processor for log-flood: writes `jobParams.lines` log lines ({ i }, 'flood') at `jobParams.level` in a
// loop that never yields, then returns; with no level, spins as long (`jobParams.spinMs`) without logging: the same
// CPU taken from the machine, no message sent.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor((ctx) => {
  const { lines, level, spinMs = 0 } = ctx.jobParams as { lines: number; level?: 'debug' | 'info'; spinMs?: number };
  if (level === undefined) {
    const end = performance.now() + spinMs;
    while (performance.now() < end);
    return { success: true, msg: `spun ${spinMs} ms` };
  }
  const log = ctx.log[level];
  for (let i = 0; i < lines; i++) log({ i }, 'flood');
  return { success: true, msg: `logged ${lines}` };
});
