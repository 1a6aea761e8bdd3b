// Processors that checkpoint, for the type tests only (never run): their checkpoint type flows to ctx.checkpoint()
// and ctx.resumeFrom, and on the main thread to resumeFrom, tracker.checkpoint and outcome.checkpoint.
import { defineProcessor, type ProcessorContext } from 'light-task-tracker/processor';

export interface RowsParams {
  readonly rows: number;
}

/** Where an attempt got to. */
export interface RowsCheckpoint {
  readonly row: number;
}

/** A plain processor: its checkpoint type comes from its annotated context, with no type arguments. */
export default defineProcessor(async (ctx: ProcessorContext<RowsParams, { done: number }, RowsCheckpoint>) => {
  for (let row = ctx.resumeFrom?.row ?? 0; row < ctx.jobParams.rows; row++) {
    if (row % 1000 === 0) ctx.checkpoint({ row });
  }
  ctx.progress({ done: ctx.jobParams.rows });
  return { success: true, value: ctx.jobParams.rows };
});

/** A stream processor: its checkpoint type is its fifth type argument. */
export const stream = defineProcessor<RowsParams, number, string, { done: number }, RowsCheckpoint>(async function* (ctx) {
  for (let row = ctx.resumeFrom?.row ?? 0; row < ctx.jobParams.rows; row++) {
    ctx.checkpoint({ row });
    yield row;
  }
  return 'read';
});
