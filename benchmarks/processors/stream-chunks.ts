// Stream benchmark: yields `count` chunks of `size` bytes, each a new Uint8Array filled with its index's low byte,
// moved (not copied) to the main thread; returns the number of chunks.
import { defineProcessor, move, type ProcessorContext } from 'light-task-tracker/processor';

export default defineProcessor(async function* (ctx: ProcessorContext<{ readonly count: number; readonly size: number }>) {
  const { count, size } = ctx.jobParams;
  for (let i = 0; i < count; i++) yield move(new Uint8Array(size).fill(i & 255));
  return count;
});
