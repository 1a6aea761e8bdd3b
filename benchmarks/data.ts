// Data: how long a job on a big buffer takes from the caller's submit to its result, when the buffer goes to the
// worker and comes back. For 1, 16, 64 and 256 MB Uint8Array params, three ways, all in the same process and run,
// each pool with 2 threads, one instance at a time:
//   ours move   runtime.submit({ processor: 'data-ends', jobParams: move(buf) }).done; the processor reads the
//               first and last byte and returns { success: true, value: move(buf) }
//   ours copy   the same without move() (maxParamsBytes raised to 2^31-1): params cloned at submit and posted,
//               the value copied back
//   piscina     piscina.run(Piscina.move(buf)), the worker returning Piscina.move(buf)
// The position is the caller's: the buffer is allocated and its ends written before the clock starts; the clock
// stops when the outcome (ours) or the result (piscina) is in the caller's hands, its ends checked.
// Then run() against submit().done for a no-op: ops/s, 2 threads, at most 512 in flight, the two alternating over
// BENCH_ROUNDS rounds (default 5) of BENCH_INSTANCES (default 20,000).
// For each size, ours (move) and piscina take turns sample by sample; the copy way runs after them, on its own,
// after a full GC (node --expose-gc), off the clock: it leaves hundreds of MB behind, which the others must not pay
// for. Within a phase the GC runs when V8 decides, as in an application. (A GC forced before every sample would put
// each 64 MB sample right at V8's external-memory soft limit, 64 MB above what the last GC left: a few more bytes,
// such as a serialized reply, then start a full GC.)
// Run with `npm run bench:data` (BENCH_SIZES=1,16 picks sizes in MB, BENCH_SAMPLES scales the sample counts).
import { pino } from 'pino';
import { Piscina } from 'piscina';
import { move, TaskRuntime } from 'light-task-tracker';
import { median, runRounds } from './lib/rounds.js';
import { envInt, now, printLatencyTable, printTable, summarize, writeResults, type Summary } from './lib/stats.js';

const MiB = 1024 * 1024;
const SIZES = (process.env.BENCH_SIZES?.split(',').map(Number) ?? [1, 16, 64, 256]).filter((n) => n > 0);
const SCALE = envInt('BENCH_SAMPLES', 100) / 100;
/** Samples per way and size: fewer for the big ones (the copy way takes seconds at 256 MB). */
const samplesFor = (mb: number): number => Math.max(5, Math.round((mb <= 1 ? 200 : mb <= 16 ? 100 : mb <= 64 ? 40 : 12) * SCALE));
const THREADS = 2;
const processor = (name: string): URL => new URL(`./processors/${name}.js`, import.meta.url);

const runtime = new TaskRuntime({
  processors: { 'data-ends': processor('data-ends'), 'tp-noop': processor('tp-noop') },
  maxThreads: THREADS,
  maxParamsBytes: 2 ** 31 - 1,
  logger: pino({ level: 'silent' }),
  reporter: { report() {} },
});
const piscina = new Piscina({ filename: processor('data-piscina-ends').href, minThreads: THREADS, maxThreads: THREADS });

type Way = 'ours move' | 'ours copy' | 'piscina';
const WAYS: readonly Way[] = ['ours move', 'ours copy', 'piscina'];

function filled(mb: number): Uint8Array {
  const buf = new Uint8Array(mb * MiB);
  buf[0] = 1;
  buf[buf.length - 1] = 2;
  return buf;
}

function checkEnds(way: Way, back: unknown, mb: number): void {
  const buf = back as Uint8Array;
  if (!(buf instanceof Uint8Array) || buf.length !== mb * MiB || buf[0] !== 1 || buf[buf.length - 1] !== 2) throw new Error(`${way}: the buffer did not come back whole`);
}

const gc = (globalThis as { gc?: () => void }).gc;

/** One sample, in ms: the caller's submit → the result in hand. */
async function sample(way: Way, mb: number): Promise<number> {
  const buf = filled(mb);
  const t0 = now();
  let back: unknown;
  if (way === 'piscina') {
    back = await piscina.run(Piscina.move(buf));
  } else {
    const outcome = await runtime.submit({ processor: 'data-ends', jobParams: way === 'ours move' ? move(buf) : buf, instanceParams: way === 'ours copy' ? { copy: true } : undefined }).done;
    if (outcome.status !== 'SUCCEED') throw new Error(`${way}: ${outcome.reason} ${outcome.result}`);
    back = outcome.value;
  }
  const ms = now() - t0;
  checkEnds(way, back, mb);
  return ms;
}

const wallStart = now();
const samples = new Map<string, number[]>();
const rows: Summary[] = [];
const ratios: Array<{ mb: number; p50: number; p99: number; p50DiffMs: number }> = [];
let runRatio = Number.NaN;
const runAgainstSubmit: Array<{ round: number; run: number; submit: number }> = [];
try {
  await runtime.ready();
  // Warm-up: every thread started, every path seen once.
  for (const way of WAYS) for (let i = 0; i < 3; i++) await sample(way, 1);
  for (const mb of SIZES) {
    const n = samplesFor(mb);
    for (const way of WAYS) samples.set(`${way} ${mb}`, []);
    gc?.();
    for (let i = 0; i < n; i++) {
      const pair: Way[] = i % 2 === 0 ? ['ours move', 'piscina'] : ['piscina', 'ours move'];
      for (const way of pair) samples.get(`${way} ${mb}`)?.push(await sample(way, mb));
    }
    gc?.();
    // The copy way takes seconds a sample at 256 MB: fewer of them.
    const copies = mb >= 256 ? Math.max(3, Math.ceil(n / 3)) : n;
    for (let i = 0; i < copies; i++) samples.get(`ours copy ${mb}`)?.push(await sample('ours copy', mb));
    for (const way of WAYS) rows.push(summarize(`${way}, ${mb} MB`, samples.get(`${way} ${mb}`) ?? []));
    const ours = summarize('', samples.get(`ours move ${mb}`) ?? []);
    const theirs = summarize('', samples.get(`piscina ${mb}`) ?? []);
    ratios.push({ mb, p50: ours.p50 / theirs.p50, p99: ours.p99 / theirs.p99, p50DiffMs: ours.p50 - theirs.p50 });
    console.log(`${mb} MB done`);
  }

  // run() against submit().done, no-op: the same drive as the throughput benchmark.
  const INSTANCES = envInt('BENCH_INSTANCES', 20_000);
  const ROUNDS = envInt('BENCH_ROUNDS', 5);
  const viaRun = (): Promise<boolean> => runtime.run('tp-noop').then(() => true);
  const viaSubmit = (): Promise<boolean> => runtime.submit({ processor: 'tp-noop' }).done.then((outcome) => outcome.status === 'SUCCEED');
  const rounds = await runRounds({ 'run()': viaRun, 'submit().done': viaSubmit }, { rounds: ROUNDS, instances: INSTANCES, warmup: Math.min(INSTANCES, 2_000), window: 512 });
  if (rounds.some((r) => r.failures > 0)) throw new Error('some no-ops failed');
  for (let round = 1; round <= ROUNDS; round++) {
    const of = (pool: string): number => rounds.find((r) => r.round === round && r.pool === pool)?.opsPerSec ?? Number.NaN;
    runAgainstSubmit.push({ round, run: of('run()'), submit: of('submit().done') });
  }
  runRatio = median(runAgainstSubmit.map((r) => r.run / r.submit));
} finally {
  await runtime.close();
  await piscina.destroy();
}

printLatencyTable(`submit → result in hand, a Uint8Array to the worker and back (${THREADS} threads, one at a time)`, rows);
printTable('ours (move) / piscina (Piscina.move), same run', ['size', 'p50 ratio', 'p99 ratio', 'p50 difference', 'target'], ratios.map((r) => [
  `${r.mb} MB`,
  r.p50.toFixed(2),
  r.p99.toFixed(2),
  `${r.p50DiffMs >= 0 ? '+' : ''}${r.p50DiffMs.toFixed(3)} ms`,
  r.mb >= 64 ? (r.p50 <= 1.2 || Math.abs(r.p50DiffMs) <= 1 ? 'met (≤ 1.2 or within 1 ms)' : 'NOT met') : '',
]));
printTable('no-op throughput, run() against submit().done (same run, alternating)', ['round', 'run() ops/s', 'submit().done ops/s', 'ratio'], runAgainstSubmit.map((r) => [
  String(r.round), r.run.toFixed(0), r.submit.toFixed(0), (r.run / r.submit).toFixed(3),
]));
console.log(`median ratio run() / submit().done: ${runRatio.toFixed(3)} (target ≥ 0.97: ${runRatio >= 0.97 ? 'met' : 'NOT met'})`);
const wallS = (now() - wallStart) / 1000;
console.log(`wall time ${wallS.toFixed(1)} s`);
const file = writeResults('data', { config: { sizesMb: SIZES, threads: THREADS }, samples: Object.fromEntries(samples), rows, ratios, runRounds: runAgainstSubmit, runRatio, wallSeconds: wallS });
console.log(`raw samples: ${file}`);
