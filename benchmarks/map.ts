// map(): what runtime.map() costs per item against the best loop a user writes by hand, and that it holds its memory
// flat over an endless source. One TaskRuntime { maxThreads: 2, silent pino logger, a reporter that does nothing }
// runs the tp-noop processor (returns success at once).
//   1. Throughput. For each concurrency in BENCH_CONCURRENCY (default 2,64: the map's default, maxThreads, and one
//      that keeps the main thread busy), a warm-up of each case, then BENCH_ROUNDS rounds (default 5) of
//      BENCH_ITEMS no-op items (default 10,000); the cases alternate within each round (the order rotates from
//      round to round):
//        map        for await (const value of runtime.map('tp-noop', items, { concurrency })), items a generator
//        hand loop  a window of `concurrency` runs in flight, a new runtime.run('tp-noop') started as each settles
//                   (lib/drive.ts: callbacks, no async function per item)
//      ops/s = items / wall time of the round. Latency per item: from the item's pull (map: the generator's yield;
//      hand loop: the run() call) to its value in the caller's hands, in ms. Printed: ops/s per round, percentiles
//      of the latencies over the rounds, the main thread's own CPU time per item (Linux /proc schedstat: the JS
//      thread alone, the per-item cost itself, less moved by other load than wall time), and the ratio
//      map / hand loop (of the medians, and per round).
//   2. Memory. BENCH_ENDLESS items (default 1,000,000) from a generator through one map() (concurrency 64),
//      process.memoryUsage().heapUsed read every tenth of the way, as it is and after global.gc() (node runs with
//      --expose-gc), against a baseline taken after gc before the map: the figures after gc should stay flat.
// Run with `npm run bench:map`; a smoke run: BENCH_ITEMS=500 BENCH_ROUNDS=1 BENCH_ENDLESS=5000 npm run bench:map.
import { setImmediate as tick } from 'node:timers/promises';
import { benchRuntime } from './lib/harness.js';
import { drive } from './lib/drive.js';
import { mainCpuSource, mainThreadCpuMs, median } from './lib/rounds.js';
import { envInt, now, printLatencyTable, printTable, summarize, writeResults } from './lib/stats.js';

const ITEMS = envInt('BENCH_ITEMS', 10_000);
const ROUNDS = envInt('BENCH_ROUNDS', 5);
const ENDLESS = envInt('BENCH_ENDLESS', 1_000_000);
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '2,64').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
const ENDLESS_CONCURRENCY = 64;
const WARMUP = Math.min(ITEMS, 2_000);
const TARGET = 0.95;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run node with --expose-gc (npm run bench:map does)');

const runtime = benchRuntime({ 'tp-noop': new URL('./processors/tp-noop.js', import.meta.url) });

type Case = 'map' | 'hand loop';
const CASES: readonly Case[] = ['map', 'hand loop'];

interface Round {
  readonly case: Case;
  readonly concurrency: number;
  readonly round: number;
  readonly wallMs: number;
  readonly opsPerSec: number;
  /** The main thread's CPU time per item, µs. */
  readonly mainCpuUs: number;
  readonly latencies: Float64Array;
}

/** map() over `items` generated items; each latency from the item's pull to its value in the loop. */
async function viaMap(items: number, concurrency: number, latencies: Float64Array): Promise<void> {
  const pulledAt = new Float64Array(items);
  function* source(): Generator<undefined> {
    for (let index = 0; index < items; index++) {
      pulledAt[index] = now();
      yield undefined;
    }
  }
  let index = 0;
  for await (const _value of runtime.map('tp-noop', source(), { concurrency })) {
    latencies[index] = now() - (pulledAt[index] as number);
    index++;
  }
  if (index !== items) throw new Error(`map yielded ${index} values of ${items}`);
}

/** The hand loop: `concurrency` runs in flight; each latency from its run() call to its value. */
async function viaHandLoop(items: number, concurrency: number, latencies: Float64Array): Promise<void> {
  let next = 0;
  const failures = await drive(items, concurrency, () => {
    const index = next++;
    const start = now();
    return runtime.run('tp-noop').then(() => {
      latencies[index] = now() - start;
      return true;
    });
  });
  if (failures > 0) throw new Error(`${failures} runs failed`);
}

async function measure(which: Case, concurrency: number, round: number, items: number): Promise<Round> {
  const latencies = new Float64Array(items);
  const cpu0 = mainThreadCpuMs();
  const t0 = now();
  await (which === 'map' ? viaMap : viaHandLoop)(items, concurrency, latencies);
  const wallMs = now() - t0;
  const mainCpuUs = ((mainThreadCpuMs() - cpu0) * 1000) / items;
  return { case: which, concurrency, round, wallMs, opsPerSec: items / (wallMs / 1000), mainCpuUs, latencies };
}

// --- 1. Throughput ----------------------------------------------------------------------------------------------
const wallStart = now();
const rounds: Round[] = [];
interface Memory { readonly done: number; readonly heapUsed: number; readonly heapAfterGc: number }
const memory: Memory[] = [];
let baseline = 0;
try {
  await runtime.ready();
  for (const concurrency of CONCURRENCIES) {
    for (const which of CASES) await measure(which, concurrency, 0, WARMUP);
    for (let round = 1; round <= ROUNDS; round++) {
      for (let i = 0; i < CASES.length; i++) {
        const which = CASES[(i + round - 1) % CASES.length] as Case;
        const result = await measure(which, concurrency, round, ITEMS);
        rounds.push(result);
        console.log(`concurrency ${String(concurrency).padStart(3)} round ${round} ${which.padEnd(9)} ${result.opsPerSec.toFixed(0).padStart(7)} ops/s`);
      }
    }
  }

  // --- 2. Memory over an endless source ---------------------------------------------------------------------------
  const heapAfterGc = async (): Promise<number> => {
    for (let i = 0; i < 4; i++) {
      gc();
      await tick();
    }
    return process.memoryUsage().heapUsed;
  };
  baseline = await heapAfterGc();
  function* endless(): Generator<number> {
    for (let index = 0; ; index++) yield index;
  }
  const every = Math.max(1, Math.floor(ENDLESS / 10));
  let done = 0;
  for await (const _value of runtime.map('tp-noop', endless(), { concurrency: ENDLESS_CONCURRENCY, ordered: false })) {
    done++;
    if (done % every === 0 || done === ENDLESS) {
      const heapUsed = process.memoryUsage().heapUsed;
      memory.push({ done, heapUsed, heapAfterGc: await heapAfterGc() });
    }
    if (done >= ENDLESS) break;
  }
} finally {
  await runtime.close();
}

// --- Output -----------------------------------------------------------------------------------------------------
const of = (which: Case, concurrency: number): Round[] => rounds.filter((r) => r.case === which && r.concurrency === concurrency);
const medianOps = (which: Case, concurrency: number): number => median(of(which, concurrency).map((r) => r.opsPerSec));
const ratios = CONCURRENCIES.map((concurrency) => {
  const perRound = of('map', concurrency).map((r) => r.opsPerSec / (of('hand loop', concurrency).find((h) => h.round === r.round)?.opsPerSec ?? Number.NaN));
  return { concurrency, ofMedians: medianOps('map', concurrency) / medianOps('hand loop', concurrency), perRound };
});

printTable(
  `ops/s per round (${ITEMS} no-op items a round, 2 threads)`,
  ['case', 'concurrency', ...Array.from({ length: ROUNDS }, (_, i) => `round ${i + 1}`), 'median'],
  CONCURRENCIES.flatMap((concurrency) => CASES.map((which) => [
    which,
    String(concurrency),
    ...of(which, concurrency).map((r) => r.opsPerSec.toFixed(0)),
    medianOps(which, concurrency).toFixed(0),
  ])),
);
printLatencyTable(
  'latency per item, pull (or run() call) → value in hand, all rounds (ms)',
  CONCURRENCIES.flatMap((concurrency) => CASES.map((which) => summarize(`${which}, concurrency ${concurrency}`, of(which, concurrency).flatMap((r) => [...r.latencies])))),
);
printTable(
  'main-thread CPU per item, µs (median over the rounds)',
  ['case', 'concurrency', 'main thread on-CPU'],
  CONCURRENCIES.flatMap((concurrency) => CASES.map((which) => [which, String(concurrency), median(of(which, concurrency).map((r) => r.mainCpuUs)).toFixed(2)])),
);
console.log(`main thread on-CPU: ${mainCpuSource} (the JS thread alone)`);
printTable('ratio of throughputs, map / hand loop (same run)', ['concurrency', 'of the medians', 'median of per-round ratios', 'per round'], ratios.map((r) => [
  String(r.concurrency),
  r.ofMedians.toFixed(3),
  median(r.perRound).toFixed(3),
  r.perRound.map((x) => x.toFixed(3)).join(' '),
]));

const MB = 1024 * 1024;
printTable(
  `main-thread heap through one map() of ${ENDLESS} items from an endless generator (concurrency ${ENDLESS_CONCURRENCY}, ordered: false); baseline after gc ${(baseline / MB).toFixed(2)} MB`,
  ['items done', 'heapUsed MB', 'after gc MB', 'after gc Δ MB'],
  memory.map((m) => [String(m.done), (m.heapUsed / MB).toFixed(2), (m.heapAfterGc / MB).toFixed(2), ((m.heapAfterGc - baseline) / MB).toFixed(3)]),
);

const worst = Math.min(...ratios.map((r) => r.ofMedians));
console.log(`\ntarget map ≥ ${TARGET} × hand loop: ${worst >= TARGET ? 'met' : 'NOT met'} (lowest ratio of medians ${worst.toFixed(3)})`);
const wallS = (now() - wallStart) / 1000;
console.log(`wall time ${wallS.toFixed(1)} s`);

const file = writeResults('map', {
  config: { items: ITEMS, rounds: ROUNDS, warmup: WARMUP, concurrencies: CONCURRENCIES, endless: ENDLESS, endlessConcurrency: ENDLESS_CONCURRENCY, threads: 2 },
  rounds: rounds.map(({ latencies, ...round }) => ({ ...round, latency: summarize(round.case, [...latencies]) })),
  ratios,
  memory: { baseline, checkpoints: memory },
  wallSeconds: wallS,
});
console.log(`raw samples: ${file}`);
