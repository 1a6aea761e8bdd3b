// A typed processor, for the type tests only (never run): its params, value and progress types flow to the caller.
import { defineProcessor, move, type ProcessorContext } from 'light-task-tracker/processor';

export interface HashParams {
  readonly data: Uint8Array;
  readonly algorithm: 'sha1' | 'sha256';
}

export default defineProcessor<HashParams, { digest: string; bytes: Uint8Array }, { done: number }>(async (ctx) => {
  ctx.progress({ done: ctx.jobParams.data.length });
  return { success: true, value: { digest: ctx.jobParams.algorithm, bytes: move(ctx.jobParams.data) } };
});

/** Inferred from the annotated context and the returned value, with no type arguments. */
export const inferred = defineProcessor((ctx: ProcessorContext<{ n: number }, number>) => {
  ctx.progress(ctx.jobParams.n);
  return { success: true, value: ctx.jobParams.n * 2 };
});
