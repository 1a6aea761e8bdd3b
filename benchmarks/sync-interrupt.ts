// sync-interrupt: how long from `tracker.stop()` in the main thread until a processor's hot CPU loop sees
// `ctx.interrupted` in its worker.
// How: a 2-thread runtime (silent logger, no-op reporter) runs the bench-sync-spin processor, one instance at a
// time. The processor gets a SharedArrayBuffer probe in jobParams (shared, not copied, across threads), marks
// 'started' on it with Atomics.store + notify and spins `while (!ctx.interrupted)`; the main thread waits for the
// mark with Atomics.waitAsync, takes t0 = now(), calls stop(), and awaits `done`; the worker wrote its now() into
// the probe the moment its loop saw the flag. Sample = seen − t0, printed in µs. now() is
// performance.timeOrigin + performance.now() on both threads (they agree to ~0.25 µs, the double's resolution
// at epoch scale). The sample includes stop()'s own work before the flag store (logging at a silent level, the
// grace timer). A second row gives, on the same runs, how long the stop() call itself takes in the main thread
// (t0 → stop() returns). 50 unmeasured runs first; BENCH_SAMPLES (default 1000) measured runs.
import { now, printLatencyTable, summarize, writeResults, envInt } from './lib/stats.js';
import { Probe } from './lib/probe.js';
import { benchRuntime, expectReason, toMicros, hostLoad } from './lib/harness.js';

const NAME = 'sync-interrupt';
const SAMPLES = envInt('BENCH_SAMPLES', 1000);
const WARMUP = 50;
const CASE = 'stop() → hot loop sees ctx.interrupted';
const CALL = 'stop() call returns (main thread, same runs)';

const wallStart = now();
const runtime = benchRuntime({ 'bench-sync-spin': new URL('./processors/bench-sync-spin.js', import.meta.url) });
const probe = new Probe();

/** One run: submit, wait until the processor spins, stop it; the latency and the stop() call, in µs. */
async function runOnce(): Promise<[seen: number, call: number]> {
  probe.reset();
  const tracker = runtime.submit({ processor: 'bench-sync-spin', jobParams: probe.params });
  await probe.waitStarted(tracker.done);
  const t0 = now();
  tracker.stop();
  const t1 = now();
  expectReason(await tracker.done, 'STOP_INTERRUPTED', NAME);
  return [toMicros(probe.seenTime - t0), toMicros(t1 - t0)];
}

const samples: number[] = [];
const calls: number[] = [];
try {
  for (let i = 0; i < WARMUP; i++) await runOnce();
  for (let i = 0; i < SAMPLES; i++) {
    const [seen, call] = await runOnce();
    samples.push(seen);
    calls.push(call);
  }
} finally {
  await runtime.close();
}

const summaries = [summarize(CASE, samples, 'µs'), summarize(CALL, calls, 'µs')];
printLatencyTable(`${NAME}: stop() → ctx.interrupted seen in the worker's hot loop (µs)`, summaries);
const file = writeResults(NAME, {
  summaries,
  samples: { [CASE]: samples, [CALL]: calls },
  loadAverageAtEnd: hostLoad(),
  config: { samples: SAMPLES, warmup: WARMUP, maxThreads: 2 },
});
console.log(`\nraw samples: ${file}\nwall time: ${((now() - wallStart) / 1000).toFixed(1)} s`);
