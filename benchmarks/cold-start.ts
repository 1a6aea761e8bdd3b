// Cold start: a runtime's first run(), each in a fresh Node process, beside piscina's first run() of the same no-op.
//   ours      new TaskRuntime({ processors: { 'tp-noop' }, maxThreads: 2, silent pino logger, a reporter that does
//             nothing }) (its defaults otherwise: minThreads 2, spareThreads 1); runtime.run('tp-noop')
//   piscina   new Piscina({ filename: tp-piscina-noop, maxThreads: 2 }) (its defaults otherwise); piscina.run(0)
// Sample = the child's now() just before the constructor → the first run()'s value (ms). Each sample is a child
// process of its own (node dist/benchmarks/cold-start.js <pool>): nothing is warm, not the module cache, not a
// worker. The pools alternate, BENCH_RUNS (default 20) samples each, the first of each round rotating. Beside it,
// per child: the main thread's import of the package (ours: light-task-tracker, which imports pino, nanoid and
// piscina; piscina: piscina), taken before the constructor, and process start → the first value (performance.now()).
// Target: ours ≤ 1.3 × piscina (p50s).
// Run with `npm run bench:cold-start`.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { envInt, machine, now, printLatencyTable, printTable, summarize, writeResults } from './lib/stats.js';

type PoolName = 'ours' | 'piscina';
const POOLS: readonly PoolName[] = ['ours', 'piscina'];

/** What a child measures, in ms. */
interface ColdStart {
  readonly pool: PoolName;
  /** The main thread's import of the pool's package. */
  readonly importMs: number;
  /** Before the constructor → the first run()'s value. */
  readonly firstRunMs: number;
  /** Process start → the first run()'s value. */
  readonly sinceStartMs: number;
}

const processor = (name: string): URL => new URL(`./processors/${name}.js`, import.meta.url);

/** In the child: one cold start of `pool`, printed as JSON on stdout. */
async function child(pool: PoolName): Promise<void> {
  const beforeImport = now();
  let first: () => Promise<unknown>;
  let close: () => Promise<void>;
  let start: number;
  if (pool === 'ours') {
    const [{ TaskRuntime }, { pino }] = await Promise.all([import('light-task-tracker'), import('pino')]);
    const logger = pino({ level: 'silent' });
    start = now();
    const runtime = new TaskRuntime({ processors: { 'tp-noop': processor('tp-noop') }, maxThreads: 2, logger, reporter: { report() {} } });
    first = () => runtime.run('tp-noop');
    close = () => runtime.close();
  } else {
    const { Piscina } = await import('piscina');
    start = now();
    const piscina = new Piscina({ filename: processor('tp-piscina-noop').href, maxThreads: 2 });
    first = () => piscina.run(0);
    close = () => piscina.destroy();
  }
  await first();
  const end = now();
  await close();
  const sample: ColdStart = { pool, importMs: start - beforeImport, firstRunMs: end - start, sinceStartMs: end - performance.timeOrigin };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

/** In the driver: one cold start of `pool` in a child process of its own. */
function coldStart(pool: PoolName): Promise<ColdStart> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [fileURLToPath(import.meta.url), pool], { encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${pool}: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1) as string) as ColdStart);
    });
  });
}

const asChild = process.argv[2];
if (asChild === 'ours' || asChild === 'piscina') {
  await child(asChild);
} else {
  const RUNS = envInt('BENCH_RUNS', 20);
  const samples: ColdStart[] = [];
  for (let round = 0; round < RUNS; round++) {
    const order = round % 2 === 0 ? POOLS : [...POOLS].reverse();
    for (const pool of order) samples.push(await coldStart(pool));
  }
  const of = (pool: PoolName, field: keyof Omit<ColdStart, 'pool'>): number[] => samples.filter((s) => s.pool === pool).map((s) => s[field]);
  const firstRuns = POOLS.map((pool) => summarize(pool, of(pool, 'firstRunMs')));
  printLatencyTable(`cold start: constructor → first run()'s value, a fresh process per sample, maxThreads 2 (ms; ${machine()})`, firstRuns);
  printLatencyTable('the main thread importing the package, before the constructor (ms)', POOLS.map((pool) => summarize(pool, of(pool, 'importMs'))));
  printLatencyTable('process start → first run()\'s value (ms)', POOLS.map((pool) => summarize(pool, of(pool, 'sinceStartMs'))));
  const [ours, piscina] = firstRuns as [ReturnType<typeof summarize>, ReturnType<typeof summarize>];
  const ratio = { p50: ours.p50 / piscina.p50, p99: ours.p99 / piscina.p99 };
  printTable('ours / piscina, constructor → first value (target: p50 ≤ 1.3)', ['ratio', 'p50', 'p99'], [['ours / piscina', ratio.p50.toFixed(2), ratio.p99.toFixed(2)]]);
  const file = writeResults('cold-start', { runs: RUNS, ratio, summaries: { firstRun: firstRuns }, samples });
  console.log(`\nraw samples: ${file}`);
}
