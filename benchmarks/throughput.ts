// Throughput: no-op instances per second through TaskRuntime, against a bare piscina and against workerpool, all
// with 2 worker threads and all in the same process and run. Each pool runs a warm-up, then BENCH_ROUNDS rounds
// (default 5) of BENCH_INSTANCES no-ops (default 20,000); the pools alternate within each round (the order rotates
// from round to round), and every pool is driven the same way: a window of at most BENCH_WINDOW (default 512) tasks
// in flight, a new one submitted as each settles.
//   ours       TaskRuntime { maxThreads: 2, silent pino logger, a reporter whose report() does nothing (RUNNING
//              reports on, default period) }; runtime.submit({ processor: 'tp-noop' }).done
//   piscina    new Piscina({ filename: tp-piscina-noop, minThreads: 2, maxThreads: 2 }) (its defaults otherwise);
//              piscina.run(0)
//   workerpool workerpool.pool(tp-workerpool-noop, { minWorkers: 2, maxWorkers: 2 }) (worker threads);
//              pool.exec('noop', [])
// ops/s = instances / wall time of the round (now() before the first submit, after the last settles).
// Main-thread CPU per instance is the main thread's own on-CPU time (Linux /proc/self/task/<pid>/schedstat, field 1,
// in ns: the JS thread only — V8's GC helper threads, libuv's thread pool and the workers are not in it), divided
// by the instances of the round. Shown next to it: the event loop's active time (performance.eventLoopUtilization;
// wall time, so it also counts time the thread was runnable but preempted) and process.cpuUsage() (every thread of
// the process, workers included), both per instance.
// Run with `npm run bench:throughput` (BENCH_INSTANCES, BENCH_ROUNDS, BENCH_WINDOW change the sizes; BENCH_POOLS=ours,piscina a subset).
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Piscina } from 'piscina';
import workerpool from 'workerpool';
import { TaskRuntime } from 'light-task-tracker';
import { envInt, now, printLatencyTable, printTable, summarize, writeResults } from './lib/stats.js';
import { mainCpuSource, median, runRounds, type Round } from './lib/rounds.js';

const INSTANCES = envInt('BENCH_INSTANCES', 20_000);
const ROUNDS = envInt('BENCH_ROUNDS', 5);
const WINDOW = envInt('BENCH_WINDOW', 512);
const WARMUP = Math.min(INSTANCES, 2_000);
const THREADS = 2;

const processor = (name: string): URL => new URL(`./processors/${name}.js`, import.meta.url);

// --- The three pools ------------------------------------------------------------------------------------------
type PoolName = 'ours' | 'piscina' | 'workerpool';
// BENCH_POOLS=ours (comma-separated) runs a subset, e.g. to profile one pool alone; the ratios need all three.
const POOLS = (process.env.BENCH_POOLS?.split(',') ?? ['ours', 'piscina', 'workerpool']).filter((p): p is PoolName => p === 'ours' || p === 'piscina' || p === 'workerpool');

const runtime = new TaskRuntime({
  processors: { 'tp-noop': processor('tp-noop') },
  maxThreads: THREADS,
  logger: pino({ level: 'silent' }),
  reporter: { report: () => {} },
});
const piscina = new Piscina({ filename: processor('tp-piscina-noop').href, minThreads: THREADS, maxThreads: THREADS });
const wpool = workerpool.pool(fileURLToPath(processor('tp-workerpool-noop')), { minWorkers: THREADS, maxWorkers: THREADS });

/** Starts one no-op on `pool`; resolves true when it succeeded. */
const start: Record<PoolName, () => Promise<boolean>> = {
  ours: () => runtime.submit({ processor: 'tp-noop' }).done.then((outcome) => outcome.status === 'SUCCEED'),
  piscina: () => piscina.run(0).then(() => true),
  workerpool: () => new Promise<boolean>((resolve, reject) => {
    wpool.exec('noop', []).then(() => resolve(true), reject);
  }),
};

const wallStart = now();
let rounds: Round[] = [];
try {
  // The warm-up round starts every thread, loads every module, and lets the JITs see the paths.
  rounds = await runRounds(Object.fromEntries(POOLS.map((pool) => [pool, start[pool]])), { rounds: ROUNDS, instances: INSTANCES, warmup: WARMUP, window: WINDOW });
} finally {
  await runtime.close();
  await piscina.destroy();
  await wpool.terminate();
}

// --- Output ---------------------------------------------------------------------------------------------------
const of = (pool: PoolName): Round[] => rounds.filter((r) => r.pool === pool);
const medianOps = (pool: PoolName): number => median(of(pool).map((r) => r.opsPerSec));

printTable(
  `ops/s per round (${INSTANCES} no-op instances per round, ≤ ${WINDOW} in flight, ${THREADS} threads)`,
  ['pool', ...Array.from({ length: ROUNDS }, (_, i) => `round ${i + 1}`), 'median'],
  POOLS.map((pool) => [pool, ...of(pool).map((r) => r.opsPerSec.toFixed(0)), medianOps(pool).toFixed(0)]),
);
printLatencyTable('ops/s over the rounds (p50 of an odd number of rounds is the median)', POOLS.map((pool) => summarize(pool, of(pool).map((r) => r.opsPerSec), 'ops/s')));

// Ratios: of the medians, and the median of the per-round ratios (each pair ran back to back).
const perRoundRatio = (other: PoolName): number[] => of('ours').map((r) => r.opsPerSec / ((of(other).find((o) => o.round === r.round)?.opsPerSec) ?? Number.NaN));
const ratios = {
  oursOverPiscina: medianOps('ours') / medianOps('piscina'),
  oursOverWorkerpool: medianOps('ours') / medianOps('workerpool'),
  oursOverPiscinaPerRound: perRoundRatio('piscina'),
  oursOverWorkerpoolPerRound: perRoundRatio('workerpool'),
};
printTable('ratio of throughputs (same run)', ['ratio', 'of the medians', 'median of per-round ratios', 'per round'], [
  ['ours / piscina', ratios.oursOverPiscina.toFixed(3), median(ratios.oursOverPiscinaPerRound).toFixed(3), ratios.oursOverPiscinaPerRound.map((x) => x.toFixed(3)).join(' ')],
  ['ours / workerpool', ratios.oursOverWorkerpool.toFixed(3), median(ratios.oursOverWorkerpoolPerRound).toFixed(3), ratios.oursOverWorkerpoolPerRound.map((x) => x.toFixed(3)).join(' ')],
]);

printTable(
  'CPU per instance, µs (median over the rounds)',
  ['pool', 'main thread on-CPU', 'main event loop active', 'process, all threads'],
  POOLS.map((pool) => [
    pool,
    median(of(pool).map((r) => r.mainCpuUs)).toFixed(2),
    median(of(pool).map((r) => r.eluActiveUs)).toFixed(2),
    median(of(pool).map((r) => r.processCpuUs)).toFixed(2),
  ]),
);
console.log(`main thread on-CPU: ${mainCpuSource} (the JS thread alone); event loop active: wall time, includes preemption;`);
console.log('process: process.cpuUsage(), every thread (workers, GC helpers, libuv pool) — the no-op work itself is in there.');

const met = (floor: number): string => (ratios.oursOverPiscina >= floor ? 'met' : 'NOT met');
console.log(`\ntarget ours ≥ 0.9 × piscina: ${met(0.9)}; the floor no change may go below, ≥ 0.85 × piscina: ${met(0.85)} (${ratios.oursOverPiscina.toFixed(3)})`);
const failures = rounds.reduce((sum, r) => sum + r.failures, 0);
if (failures > 0) console.log(`UNEXPECTED: ${failures} tasks did not succeed`);
const wallS = (now() - wallStart) / 1000;
console.log(`wall time ${wallS.toFixed(1)} s`);

const file = writeResults('throughput', {
  config: { instances: INSTANCES, rounds: ROUNDS, window: WINDOW, warmup: WARMUP, threads: THREADS, mainCpuSource },
  rounds,
  medians: Object.fromEntries(POOLS.map((pool) => [pool, {
    opsPerSec: medianOps(pool),
    mainCpuUs: median(of(pool).map((r) => r.mainCpuUs)),
    eluActiveUs: median(of(pool).map((r) => r.eluActiveUs)),
    processCpuUs: median(of(pool).map((r) => r.processCpuUs)),
  }])),
  ratios,
  wallSeconds: wallS,
});
console.log(`raw samples: ${file}`);
if (failures > 0) process.exitCode = 1;
