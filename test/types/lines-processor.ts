// A typed stream processor, for the type tests only (never run): its params, chunk, value and progress types flow to
// the caller of runtime.stream().
import { defineProcessor, type ProcessorContext } from 'light-task-tracker/processor';

export interface LinesParams {
  readonly path: string;
}

export default defineProcessor<LinesParams, string[], number, { read: number }>(async function* (ctx) {
  ctx.progress({ read: 1 });
  yield [ctx.jobParams.path];
  return 1;
});

/** Inferred from the annotated context, the chunks yielded and the value returned, with no type arguments. */
export const inferred = defineProcessor(async function* (ctx: ProcessorContext<{ n: number }>) {
  yield ctx.jobParams.n;
  return 'done';
});
