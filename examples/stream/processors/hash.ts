// A job for runtime.map(): the SHA-256 of the file named by its params.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { defineProcessor, type ProcessorContext } from 'light-task-tracker/processor';

export default defineProcessor(async (ctx: ProcessorContext<{ readonly path: string }>) => {
  const bytes = await readFile(ctx.jobParams.path, { signal: ctx.signal });
  return { success: true, value: { path: ctx.jobParams.path, bytes: bytes.length, digest: createHash('sha256').update(bytes).digest('hex') } };
});
