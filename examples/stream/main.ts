// The streams-and-maps example (`npm run example:stream`): a typed TaskRuntime over two processors. It writes a large
// CSV file of generated rows to a temporary folder and streams its lines through the `lines` processor, which yields
// them in batches while the loop sums a column (the processor is held at its yield whenever the loop is
// `highWaterMark` batches behind); then it writes a folder of files and maps the `hash` processor over them with
// runtime.map(), two at a time, the digests in the order of the files. It checks what it printed against the same
// work done here, removes the folder and closes the runtime, so the process exits by itself.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, opendir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { TaskRuntime } from 'light-task-tracker';

const ROWS = 300_000;
const FILES = 24;

const processor = (name: string): URL => new URL(`./processors/${name}.js`, import.meta.url);
const runtime = new TaskRuntime<{ lines: typeof import('./processors/lines.js'); hash: typeof import('./processors/hash.js') }>({
  processors: { lines: processor('lines'), hash: processor('hash') },
  maxThreads: 2,
  logger: pino({ level: 'warn' }),
});
const folder = await mkdtemp(join(tmpdir(), 'light-task-tracker-stream-'));

try {
  // --- A large file's lines, streamed -------------------------------------------------------------------------------
  const csv = join(folder, 'rows.csv');
  let expectedSum = 0;
  const out = createWriteStream(csv);
  out.write('id,name,amount\n');
  for (let id = 0; id < ROWS; id++) {
    const amount = (id * 7919) % 1000;
    expectedSum += amount;
    if (!out.write(`${id},row-${id.toString(36)},${amount}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');

  const started = performance.now();
  const lines = runtime.stream('lines', { path: csv }, { highWaterMark: 4, timeoutMs: 60_000 });
  let batches = 0;
  let rows = 0;
  let sum = 0;
  let header = true;
  for await (const batch of lines) {
    batches++;
    for (const line of batch) {
      if (header) {
        header = false;
        continue;
      }
      rows++;
      sum += Number(line.slice(line.lastIndexOf(',') + 1));
    }
  }
  const { value: counted, attempts } = await lines.done;
  console.log(`streamed ${rows} rows in ${batches} batches (${Math.round(performance.now() - started)} ms); the processor counted ${counted} lines in ${attempts} attempt${attempts === 1 ? '' : 's'}`);
  console.log(`sum of the amount column: ${sum}`);
  if (rows !== ROWS || counted !== ROWS + 1 || sum !== expectedSum) throw new Error(`expected ${ROWS} rows summing to ${expectedSum}`);

  // --- A folder hashed, one instance per file ------------------------------------------------------------------------
  const dir = join(folder, 'files');
  await mkdir(dir);
  for (let i = 0; i < FILES; i++) await writeFile(join(dir, `file-${String(i).padStart(2, '0')}.bin`), Buffer.alloc(64 * 1024 + i, i));

  async function* files(): AsyncGenerator<{ path: string }> {
    const names: string[] = [];
    for await (const entry of await opendir(dir)) if (entry.isFile()) names.push(entry.name);
    for (const name of names.sort()) yield { path: join(dir, name) };
  }
  let hashed = 0;
  for await (const { path, bytes, digest } of runtime.map('hash', files(), { concurrency: 2, timeoutMs: 10_000 })) {
    const own = createHash('sha256').update(await readFile(path)).digest('hex');
    if (own !== digest) throw new Error(`${path}: digest ${digest}, expected ${own}`);
    if (hashed < 3 || hashed === FILES - 1) console.log(`  ${path.slice(dir.length + 1)}  ${bytes} bytes  sha256 ${digest.slice(0, 16)}…`);
    else if (hashed === 3) console.log('  …');
    hashed++;
  }
  console.log(`hashed ${hashed} files with runtime.map(), in the order of the files`);
} finally {
  await runtime.close();
  await rm(folder, { recursive: true, force: true });
}
