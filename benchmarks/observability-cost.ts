// observability-cost: what metrics, lifecycle events and worker recycling cost in throughput, against the plain
// runtime, in the same process and run. No-op instances, 2 threads, driven as the throughput benchmark drives them
// (BENCH_ROUNDS rounds, default 5, of BENCH_INSTANCES, default 20,000, at most 512 in flight; the variants take
// turns within each round, the order rotating).
//   plain      TaskRuntime { maxThreads: 2, silent logger, no-op reporter }: metrics are always kept
//   channels   plain, measured while a no-op subscriber listens on every instance channel of
//              node:diagnostics_channel (so every message is built and published, and every worker announces each
//              start); channels are process-wide, so the subscribers come on only for its measurements
//   recycle, checked   plain with recycleWorkers: { heapUsedMb: 4096 }: the worker measures its heap after every
//              attempt and the pool checks it, but no worker is ever due (what recycling costs while nothing leaks)
//   recycle, every 5,000   plain with recycleWorkers: { afterAttempts: 5000 }: a worker retired, and a replacement
//              booted, every 5,000 attempts (at no-op speed, several a second: a worst case); the cost per
//              retirement is printed from it
//   baseline   only with BENCH_BASELINE=<a checkout of an earlier version, built>: that version's runtime, loaded
//              from <checkout>/dist/src/index.js, running its own benchmarks/processors/tp-noop.js — e.g. the last
//              version without metrics, to measure what keeping them costs
// Ratios are of the medians over the rounds, against plain. Run with `npm run bench:observability-cost`.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { pino } from 'pino';
import { TaskRuntime } from 'light-task-tracker';
import { envInt, now, printTable, writeResults } from './lib/stats.js';
import { median, runRounds, type Round } from './lib/rounds.js';

const INSTANCES = envInt('BENCH_INSTANCES', 20_000);
const ROUNDS = envInt('BENCH_ROUNDS', 5);
const WINDOW = 512;
const WARMUP = Math.min(INSTANCES, 2_000);
const THREADS = 2;
const BASELINE = process.env.BENCH_BASELINE;

interface Submitting {
  submit(request: { processor: string }): { done: Promise<{ status: string }> };
  close(): Promise<void>;
}

const noop = new URL('./processors/tp-noop.js', import.meta.url);
const common = { maxThreads: THREADS, logger: pino({ level: 'silent' }), reporter: { report: () => {} } };
const plain = new TaskRuntime({ ...common, processors: { 'tp-noop': noop } });
const checking = new TaskRuntime({ ...common, processors: { 'tp-noop': noop }, recycleWorkers: { heapUsedMb: 4096 } });
const recycling = new TaskRuntime({ ...common, processors: { 'tp-noop': noop }, recycleWorkers: { afterAttempts: 5000 } });
const runtimes: Record<string, Submitting> = { plain, 'recycle, checked': checking, 'recycle, every 5,000': recycling };
if (BASELINE !== undefined) {
  const { TaskRuntime: Baseline } = (await import(`${BASELINE}/dist/src/index.js`)) as { TaskRuntime: new (options: object) => Submitting };
  runtimes.baseline = new Baseline({ ...common, processors: { 'tp-noop': new URL(`file://${BASELINE}/dist/benchmarks/processors/tp-noop.js`) } });
}

// Channels are process-wide: the channels variant is the plain runtime measured while a no-op subscriber listens on
// every instance channel; the subscribers come on before its measurements and go off before the others'.
const INSTANCE_CHANNELS = ['submit', 'start', 'interrupt', 'force-stop', 'retry', 'end'].map((name) => `light-task-tracker:instance:${name}`);
let published = 0;
const count = (): void => void published++;
function listening(on: boolean): void {
  for (const name of INSTANCE_CHANNELS) (on ? subscribe : unsubscribe)(name, count);
}
let listened = false;

const startOf = (runtime: Submitting) => (): Promise<boolean> =>
  runtime.submit({ processor: 'tp-noop' }).done.then((outcome) => outcome.status === 'SUCCEED');

const wallStart = now();
let rounds: Round[] = [];
try {
  const pools: Record<string, () => Promise<boolean>> = { channels: startOf(plain) };
  for (const [name, runtime] of Object.entries(runtimes)) pools[name] = startOf(runtime);
  rounds = await runRounds(pools, {
    rounds: ROUNDS,
    instances: INSTANCES,
    warmup: WARMUP,
    window: WINDOW,
    before: (pool) => {
      if ((pool === 'channels') !== listened) listening((listened = pool === 'channels'));
    },
  });
} finally {
  if (listened) listening(false);
  await Promise.all(Object.values(runtimes).map((runtime) => runtime.close()));
}

const medianOf = (all: readonly Round[], pool: string, field: 'opsPerSec' | 'mainCpuUs'): number => median(all.filter((r) => r.pool === pool).map((r) => r[field]));
const rows: string[][] = [];
const plainOps = medianOf(rounds, 'plain', 'opsPerSec');
for (const pool of ['plain', 'channels', 'recycle, checked', 'recycle, every 5,000', 'baseline']) {
  if (!rounds.some((r) => r.pool === pool)) continue;
  const ops = medianOf(rounds, pool, 'opsPerSec');
  rows.push([pool, ops.toFixed(0), medianOf(rounds, pool, 'mainCpuUs').toFixed(2), (ops / plainOps).toFixed(3)]);
}
printTable(`throughput, no-op instances, ${THREADS} threads (median of ${ROUNDS} rounds of ${INSTANCES})`, ['variant', 'ops/s', 'main CPU µs / instance', 'ratio to plain (same run)'], rows);
if (BASELINE !== undefined) {
  const cost = 1 - plainOps / medianOf(rounds, 'baseline', 'opsPerSec');
  console.log(`\nmetrics (plain against baseline): ${(cost * 100).toFixed(1)} % of throughput (target: at most 3 %)`);
}
console.log(`messages published in the channels variant's rounds: ${published}`);
const retired = recycling.metrics().workersRetired;
const recycleRounds = rounds.filter((r) => r.pool === 'recycle, every 5,000');
const recycleMs = recycleRounds.reduce((sum, r) => sum + r.wallMs, 0);
const plainMsPerInstance = 1000 / plainOps;
const extraMs = recycleMs - recycleRounds.reduce((sum, r) => sum + r.instances, 0) * plainMsPerInstance;
console.log(`workers retired (every 5,000 attempts): ${retired}, about ${(extraMs / Math.max(1, retired)).toFixed(1)} ms of throughput each`);
console.log(`wall time ${((now() - wallStart) / 1000).toFixed(1)} s`);
const file = writeResults('observability-cost', { config: { instances: INSTANCES, rounds: ROUNDS, window: WINDOW, threads: THREADS, baseline: BASELINE ?? null }, rounds });
console.log(`raw samples: ${file}`);
