// interrupt-settled: how long from `tracker.stop()` until `tracker.done` resolves, for a cooperative processor
// (the bench-sync-spin hot loop, which gives up with InterruptedError as soon as it sees ctx.interrupted).
// How: a 2-thread runtime (silent logger, no-op reporter), one instance at a time. The processor marks 'started'
// on a SharedArrayBuffer probe in jobParams; the main thread waits for the mark with Atomics.waitAsync, takes
// t0 = now(), calls stop(); a `done.then(() => now())` registered at submit gives t1. Sample = t1 − t0 in ms,
// main-thread times only: the flag store, the loop seeing it, the worker's reply crossing back through piscina,
// the tracker judging it (STOP_INTERRUPTED) and resolving `done`. 50 unmeasured runs first; BENCH_SAMPLES
// (default 1000) measured runs.
import { now, printLatencyTable, summarize, writeResults, envInt } from './lib/stats.js';
import { Probe } from './lib/probe.js';
import { benchRuntime, expectReason, hostLoad } from './lib/harness.js';

const NAME = 'interrupt-settled';
const SAMPLES = envInt('BENCH_SAMPLES', 1000);
const WARMUP = 50;
const CASE = 'stop() → done resolves (cooperative)';

const wallStart = now();
const runtime = benchRuntime({ 'bench-sync-spin': new URL('./processors/bench-sync-spin.js', import.meta.url) });
const probe = new Probe();

/** One run: submit, wait until the processor spins, stop it; the latency in ms. */
async function runOnce(): Promise<number> {
  probe.reset();
  const tracker = runtime.submit({ processor: 'bench-sync-spin', jobParams: probe.params });
  const settledAt = tracker.done.then((outcome) => ({ outcome, at: now() }));
  await probe.waitStarted(tracker.done);
  const t0 = now();
  tracker.stop();
  const { outcome, at } = await settledAt;
  expectReason(outcome, 'STOP_INTERRUPTED', NAME);
  return at - t0;
}

const samples: number[] = [];
try {
  for (let i = 0; i < WARMUP; i++) await runOnce();
  for (let i = 0; i < SAMPLES; i++) samples.push(await runOnce());
} finally {
  await runtime.close();
}

const summaries = [summarize(CASE, samples, 'ms')];
printLatencyTable(`${NAME}: stop() → tracker.done resolves, cooperative hot loop (ms)`, summaries);
const file = writeResults(NAME, {
  summaries,
  samples: { [CASE]: samples },
  loadAverageAtEnd: hostLoad(),
  config: { samples: SAMPLES, warmup: WARMUP, maxThreads: 2 },
});
console.log(`\nraw samples: ${file}\nwall time: ${((now() - wallStart) / 1000).toFixed(1)} s`);
