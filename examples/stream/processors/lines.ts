// A stream processor: reads the text file named by its params and yields its lines, a batch of BATCH at a time (one
// chunk per line would cost a message per line). Each `yield` waits while the loop is `highWaterMark` batches behind:
// the file is read no faster than the loop consumes it. Its return value, the number of lines, is the outcome's value.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { defineProcessor, type ProcessorContext } from 'light-task-tracker/processor';

const BATCH = 2_000;

export default defineProcessor(async function* (ctx: ProcessorContext<{ readonly path: string }>) {
  const input = createReadStream(ctx.jobParams.path, { signal: ctx.signal });
  let batch: string[] = [];
  let count = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    batch.push(line);
    count++;
    if (batch.length === BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
  return count;
});
