// Data benchmark: reads the first and last byte of the buffer it is given, and returns the buffer: moved back, or
// (instanceParams.copy) copied back.
import { defineProcessor, move } from 'light-task-tracker/processor';

export default defineProcessor<Uint8Array, Uint8Array>((ctx) => {
  const buf = ctx.jobParams;
  if ((buf[0] ?? 0) + (buf[buf.length - 1] ?? 0) !== 3) return { success: false, msg: 'ends not 1 and 2' };
  const copy = (ctx.instanceParams as { copy?: boolean } | undefined)?.copy === true;
  return { success: true, value: copy ? buf : move(buf) };
});
