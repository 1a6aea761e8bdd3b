// main.js
import { readFile } from 'node:fs/promises';
import { TaskRuntime, HttpReporter, move } from 'light-task-tracker';

const runtime = new TaskRuntime({
  // the only modules a worker will ever load; found relative to this module, not to the current folder
  processors: { checksum: new URL('./processors/checksum.js', import.meta.url) },
  maxThreads: 4,
  reporter: new HttpReporter({ url: process.env.SCHEDULER_URL ?? 'http://scheduler.internal:7700/report' }),
});
// move(): the file's bytes change owner instead of being copied to the worker
const a = await readFile(new URL('./a.bin', import.meta.url));
const { sum } = await runtime.run('checksum', { data: move(a) }, { timeoutMs: 30_000 });
console.log(`a.bin: checksum ${sum}`);
// or submit() for the tracker (stop(), progress) and the whole outcome:
const b = await readFile(new URL('./b.bin', import.meta.url));
const tracker = runtime.submit({ processor: 'checksum', jobParams: { data: move(b) }, timeoutMs: 30_000 });
const outcome = await tracker.done; // { status: 'SUCCEED' | 'FAILED' | 'STOPPED', reason, result, value, attempts, … }
console.log(`b.bin: ${outcome.status}, ${outcome.result}`);
await runtime.close(); // after the final reports are delivered; then nothing keeps the process alive
