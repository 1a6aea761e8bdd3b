// Memory: what queued instances cost on the main thread's heap, and that finished ones leave nothing behind.
// A TaskRuntime with maxThreads 1 and maxInstances 20,000 (silent logger, no-op reporter) first runs 2,000 no-ops
// (warm: thread up, modules loaded, code compiled); then its one thread is held by a sleeper (ctx.sleep of a
// minute) while BENCH_QUEUED (default 10,000) no-op instances are submitted and wait in the queue. Measured each
// time after global.gc() (several passes; node runs with --expose-gc), as process.memoryUsage() minus the baseline
// taken just before the submits:
//   queued       the 10,000 waiting (trackers, their timers, their requests, the queue, the registry entries)
//   drained      the sleeper stopped, the 10,000 run to the end (and are destroyed): back to the baseline?
//   completed    then BENCH_COMPLETED (default 100,000) more no-ops, at most 512 in flight, all finished and destroyed:
//                the heap delta against the "drained" figure, per instance — nothing should be retained
// heapUsed is the main isolate's JS heap (the workers' heaps are not in it); RSS is the whole process (workers
// included), and the allocator does not give every freed page back, so RSS deltas are upper bounds.
// Run with `npm run bench:memory`.
import { setImmediate as tick } from 'node:timers/promises';
import { pino } from 'pino';
import { TaskRuntime, TaskStatus, type Tracker } from 'light-task-tracker';
import { envInt, now, printTable, writeResults } from './lib/stats.js';
import { drive } from './lib/drive.js';

const QUEUED = envInt('BENCH_QUEUED', 10_000);
const COMPLETED = envInt('BENCH_COMPLETED', 100_000);
const WINDOW = 512;
const WARMUP = 2_000;
const processor = (name: string): URL => new URL(`./processors/${name}.js`, import.meta.url);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run node with --expose-gc (npm run bench:memory does)');

interface Memory { readonly heapUsed: number; readonly rss: number; readonly external: number }
/** process.memoryUsage() after full collections, with the event loop turned in between (finalizers, weak refs). */
async function measure(): Promise<Memory> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await tick();
  }
  const { heapUsed, rss, external } = process.memoryUsage();
  return { heapUsed, rss, external };
}

const runtime = new TaskRuntime({
  processors: { 'tp-noop': processor('tp-noop'), sleep: processor('sleep') },
  maxThreads: 1,
  maxInstances: 20_000,
  logger: pino({ level: 'silent' }),
  reporter: { report: () => {} },
});

/** Runs `total` no-ops with at most WINDOW in flight; resolves with how many did not succeed. */
const driveNoops = (total: number): Promise<number> =>
  drive(total, WINDOW, () => runtime.submit({ processor: 'tp-noop' }).done.then((outcome) => outcome.status === 'SUCCEED'));

/** Waits until every tracker is destroyed (final reports delivered): runtime.size is 0. */
async function emptied(): Promise<void> {
  while (runtime.size > 0) await new Promise((resolve) => setTimeout(resolve, 5));
}

interface Row { readonly phase: string; readonly instances: number; readonly live: number; readonly memory: Memory; readonly against: Memory; readonly ms: number }
const rows: Row[] = [];
const wallStart = now();
let failures = 0;
try {
  failures += await driveNoops(WARMUP);
  await emptied();

  // --- Queued ---------------------------------------------------------------------------------------------------
  const sleeper = runtime.submit({ processor: 'sleep' });
  // It starts in its worker (the start is the worker's stamp, read by taskStatus): a few turns of the event loop.
  const startBy = now() + 5_000;
  while (sleeper.taskStatus !== TaskStatus.WORKER_PROCESSING) {
    if (now() > startBy) throw new Error('the sleeper did not start within 5 s');
    await tick();
  }
  const baseline = await measure();
  let t0 = now();
  const queued: Tracker[] = [];
  for (let i = 0; i < QUEUED; i++) queued.push(runtime.submit({ processor: 'tp-noop' }));
  const submitMs = now() - t0;
  if (queued.some((tracker) => tracker.taskStatus !== TaskStatus.WORKER_RECEIVED)) throw new Error('an instance started: the thread was not held');
  rows.push({ phase: 'queued', instances: QUEUED, live: runtime.size, memory: await measure(), against: baseline, ms: submitMs });

  // --- Drained: let them run ---------------------------------------------------------------------------------------
  t0 = now();
  sleeper.stop();
  const outcomes = await Promise.all(queued.map((tracker) => tracker.done));
  await sleeper.done;
  await emptied();
  const drainMs = now() - t0;
  failures += outcomes.filter((outcome) => outcome.status !== 'SUCCEED').length;
  queued.length = 0;
  outcomes.length = 0;
  const drained = await measure();
  rows.push({ phase: 'drained', instances: QUEUED, live: runtime.size, memory: drained, against: baseline, ms: drainMs });

  // --- Completed -------------------------------------------------------------------------------------------------
  t0 = now();
  failures += await driveNoops(COMPLETED);
  await emptied();
  const runMs = now() - t0;
  rows.push({ phase: 'completed', instances: COMPLETED, live: runtime.size, memory: await measure(), against: drained, ms: runMs });
} finally {
  await runtime.close();
}

// --- Output -----------------------------------------------------------------------------------------------------
const MB = 1024 * 1024;
const delta = (row: Row, key: keyof Memory): number => row.memory[key] - row.against[key];
printTable(
  `main-thread memory after gc, against the baseline before the submits ("completed": against "drained"); 1 thread, maxInstances 20,000`,
  ['phase', 'instances', 'live after', 'heapUsed Δ MB', 'heap Δ B/instance', 'RSS Δ MB', 'RSS Δ B/instance', 'external Δ MB', 'phase ms'],
  rows.map((row) => [
    row.phase,
    String(row.instances),
    String(row.live),
    (delta(row, 'heapUsed') / MB).toFixed(3),
    (delta(row, 'heapUsed') / row.instances).toFixed(1),
    (delta(row, 'rss') / MB).toFixed(3),
    (delta(row, 'rss') / row.instances).toFixed(1),
    (delta(row, 'external') / MB).toFixed(3),
    row.ms.toFixed(0),
  ]),
);
console.log('phase ms: queued = submitting them; drained = stop the sleeper → all done and destroyed; completed = the whole run.');
console.log(`absolute heapUsed: ${rows.map((row) => `${row.phase} ${(row.memory.heapUsed / MB).toFixed(1)} MB`).join(', ')}`);
if (failures > 0) console.log(`UNEXPECTED: ${failures} instances did not succeed`);
const wallS = (now() - wallStart) / 1000;
console.log(`wall time ${wallS.toFixed(1)} s`);

const file = writeResults('memory', {
  config: { queued: QUEUED, completed: COMPLETED, window: WINDOW, warmup: WARMUP, maxThreads: 1, maxInstances: 20_000 },
  phases: rows.map((row) => ({
    ...row,
    heapUsedDelta: delta(row, 'heapUsed'),
    rssDelta: delta(row, 'rss'),
    externalDelta: delta(row, 'external'),
    heapBytesPerInstance: delta(row, 'heapUsed') / row.instances,
  })),
  failures,
  wallSeconds: wallS,
});
console.log(`raw samples: ${file}`);
if (failures > 0) process.exitCode = 1;
