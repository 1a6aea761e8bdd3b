// Benchmark 5's runaway: marks itself started in the shared buffer, then spins, ignoring every interrupt.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor((ctx) => {
  const { buffer, index } = ctx.jobParams as { buffer: SharedArrayBuffer; index: number };
  const marks = new Int32Array(buffer);
  Atomics.store(marks, index, 1);
  Atomics.notify(marks, index);
  let spins = 0;
  for (;;) spins++;
});
