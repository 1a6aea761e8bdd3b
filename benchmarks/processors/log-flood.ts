// Benchmark processor for log-flood: writes `jobParams.lines` log lines ({ i }, 'flood') at `jobParams.level` in a
// loop that never yields, then returns; with no level, runs the same loop calling a function of its own instead of
// the logger: the same CPU and the same garbage taken from the machine, no message sent.
import { defineProcessor } from 'light-task-tracker/processor';

// Where the loop without a logger puts its fields objects: kept a while, so that they are made (and collected) as
// the logger's are, not optimised away.
const ring: unknown[] = new Array(1024);
let kept = 0;
function keep(fields: unknown, msg: string): void {
  ring[kept++ & 1023] = fields;
  if (msg === '') kept = 0;
}

export default defineProcessor((ctx) => {
  const { lines, level } = ctx.jobParams as { lines: number; level?: 'debug' | 'info' };
  const log = level === undefined ? keep : ctx.log[level];
  for (let i = 0; i < lines; i++) log({ i }, 'flood');
  return { success: true, msg: `logged ${lines}` };
});
