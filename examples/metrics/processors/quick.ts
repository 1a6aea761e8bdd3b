// A quick job: a few milliseconds of hashing, then success.
import { createHash } from 'node:crypto';
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor((ctx) => {
  let digest = String(ctx.jobParams);
  for (let round = 0; round < 20_000; round++) digest = createHash('sha256').update(digest).digest('hex');
  return { success: true, msg: digest.slice(0, 12) };
});
