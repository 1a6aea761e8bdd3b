// Peers: how fast a runaway CPU task (an endless loop that ignores every interrupt) is stopped at a 50 ms deadline,
// and how fast the pool gets going again, by three single-thread pools in the same process:
//   workerpool  workerpool.pool(peer-workerpool, { minWorkers: 1, maxWorkers: 1 }) (worker threads, its defaults
//               otherwise); pool.exec('runaway', []).timeout(T)
//   piscina     new Piscina({ filename: peer-piscina, minThreads: 1, maxThreads: 1 }); piscina.run(null,
//               { name: 'runaway', signal }), the AbortController aborted by a setTimeout(T) set at run()
//   ours        TaskRuntime { maxThreads: 1, forceStopGraceMs: 0, silent logger, no-op reporter };
//               runtime.submit({ processor: 'peer-runaway', timeoutMs: T })
// Right behind each runaway a no-op ('next') is submitted to the same pool, so it is queued for the one thread;
// it returns the worker-side now() (epoch ms, comparable across threads) at the moment it starts.
// Per sample, with deadline = now() just before the runaway's submit + T:
//   settled   deadline → the runaway's promise settles (rejects / tracker.done resolves), main thread
//   next      deadline → the queued no-op starts running in the (new) worker
// The pools take turns sample by sample. workerpool is slow to recover (it first asks the worker to clean up and
// waits workerTerminateTimeout, 1 s by default, then asks it to exit and waits another 1 s before terminating it),
// so it is sampled only as its time budget (BENCH_WP_BUDGET_S, default 40 s) allows, spread over the run; ours and
// piscina get BENCH_SAMPLES (default 200) each.
// Run with `npm run bench:peers`.
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Piscina } from 'piscina';
import workerpool from 'workerpool';
import { OutcomeReason, TaskRuntime } from 'light-task-tracker';
import { envInt, now, printLatencyTable, printTable, summarize, writeResults } from './lib/stats.js';

const T = 50;
const SAMPLES = envInt('BENCH_SAMPLES', 200);
const WP_BUDGET_MS = envInt('BENCH_WP_BUDGET_S', 40) * 1000;
const processor = (name: string): URL => new URL(`./processors/${name}.js`, import.meta.url);

type PoolName = 'workerpool' | 'piscina' | 'ours';
const POOLS: readonly PoolName[] = ['workerpool', 'piscina', 'ours'];

interface Sample {
  /** deadline → the runaway's promise settled (ms). */
  readonly settledMs: number;
  /** deadline → the queued no-op started in a worker (ms). */
  readonly nextMs: number;
  /** How the runaway ended, e.g. its error's name or the outcome reason. */
  readonly how: string;
}

// --- The three pools ------------------------------------------------------------------------------------------
const wpool = workerpool.pool(fileURLToPath(processor('peer-workerpool')), { minWorkers: 1, maxWorkers: 1 });
const piscina = new Piscina({ filename: processor('peer-piscina').href, minThreads: 1, maxThreads: 1 });
const runtime = new TaskRuntime({
  processors: { 'peer-runaway': processor('peer-runaway'), 'peer-next': processor('peer-next') },
  maxThreads: 1,
  forceStopGraceMs: 0,
  logger: pino({ level: 'silent' }),
  reporter: { report: () => {} },
});

const errorName = (error: unknown): string => (error instanceof Error ? error.name : String(error));

const sample: Record<PoolName, () => Promise<Sample>> = {
  async workerpool() {
    const t0 = now();
    const runaway = wpool.exec('runaway', []).timeout(T);
    const next = wpool.exec('next', []);
    const deadline = t0 + T;
    const how = await new Promise<string>((resolve) => {
      runaway.then(() => resolve('resolved?!'), (error: unknown) => resolve(errorName(error)));
    });
    const settledAt = now();
    const startedAt = await new Promise<number>((resolve, reject) => {
      next.then((value: unknown) => resolve(Number(value)), reject);
    });
    return { settledMs: settledAt - deadline, nextMs: startedAt - deadline, how };
  },

  async piscina() {
    const abort = new AbortController();
    const t0 = now();
    const runaway = piscina.run(null, { name: 'runaway', signal: abort.signal });
    const next = piscina.run(null, { name: 'next' }) as Promise<number>;
    setTimeout(() => abort.abort(), T);
    const deadline = t0 + T;
    const how = await runaway.then(() => 'resolved?!', errorName);
    const settledAt = now();
    const startedAt = await next;
    return { settledMs: settledAt - deadline, nextMs: startedAt - deadline, how };
  },

  async ours() {
    const t0 = now();
    const runaway = runtime.submit({ processor: 'peer-runaway', timeoutMs: T });
    const next = runtime.submit({ processor: 'peer-next' });
    // Ours counts the timeout from the runaway's start in its worker, later than this deadline by the hand-off to the
    // worker (some 0.25 ms): it is in ours' figures, as the setTimeout's late firing is in piscina's.
    const deadline = t0 + T;
    const outcome = await runaway.done;
    const settledAt = now();
    const nextOutcome = await next.done;
    if (nextOutcome.reason !== OutcomeReason.SUCCEEDED) throw new Error(`next: ${nextOutcome.reason} ${nextOutcome.result}`);
    return { settledMs: settledAt - deadline, nextMs: Number(nextOutcome.result) - deadline, how: outcome.reason };
  },
};

const EXPECTED: Record<PoolName, string> = { workerpool: 'TimeoutError', piscina: 'AbortError', ours: OutcomeReason.TIMEOUT_FORCE_STOPPED };

// --- Run ------------------------------------------------------------------------------------------------------
const wallStart = now();
const samples: Record<PoolName, Sample[]> = { workerpool: [], piscina: [], ours: [] };
const spentMs: Record<PoolName, number> = { workerpool: 0, piscina: 0, ours: 0 };
try {
  // Warm-up, not recorded: threads up, modules loaded, one runaway each stopped.
  for (const pool of POOLS) await sample[pool]();
  for (let i = 0; i < SAMPLES; i++) {
    for (let k = 0; k < POOLS.length; k++) {
      const pool = POOLS[(i + k) % POOLS.length] as PoolName;
      // workerpool: only as fast as its budget allows, spread evenly over the iterations.
      if (pool === 'workerpool' && spentMs.workerpool > (WP_BUDGET_MS * (i + 1)) / SAMPLES) continue;
      const t0 = now();
      samples[pool].push(await sample[pool]());
      spentMs[pool] += now() - t0;
    }
    if ((i + 1) % 50 === 0) console.log(`${i + 1}/${SAMPLES} (workerpool ${samples.workerpool.length}), ${((now() - wallStart) / 1000).toFixed(0)} s`);
  }
} finally {
  await runtime.close();
  await piscina.destroy();
  await wpool.terminate(true);
}

// --- Output ---------------------------------------------------------------------------------------------------
const rows = [
  ...POOLS.map((pool) => summarize(`settled: ${pool}`, samples[pool].map((s) => s.settledMs))),
  ...POOLS.map((pool) => summarize(`next starts: ${pool}`, samples[pool].map((s) => s.nextMs))),
];
printLatencyTable(`runaway CPU task, 1 thread, deadline T = ${T} ms: ms past the deadline until the runaway's promise settled / the queued next task started`, rows);

const unexpected = POOLS.flatMap((pool) => samples[pool].filter((s) => s.how !== EXPECTED[pool]).map((s) => `${pool}: ${s.how}`));
printTable('how the runaway ended', ['pool', 'samples', 'ended as', 'time spent, s'], POOLS.map((pool) => [
  pool,
  String(samples[pool].length),
  [...new Set(samples[pool].map((s) => s.how))].join(', '),
  (spentMs[pool] / 1000).toFixed(1),
]));
if (unexpected.length > 0) console.log(`UNEXPECTED endings: ${unexpected.slice(0, 5).join('; ')}${unexpected.length > 5 ? ' …' : ''}`);
const wallS = (now() - wallStart) / 1000;
console.log(`wall time ${wallS.toFixed(1)} s`);

const file = writeResults('peers', {
  config: { deadlineMs: T, samples: SAMPLES, workerpoolBudgetMs: WP_BUDGET_MS, threads: 1, forceStopGraceMs: 0 },
  summaries: rows,
  samples,
  wallSeconds: wallS,
});
console.log(`raw samples: ${file}`);
if (unexpected.length > 0) process.exitCode = 1;
