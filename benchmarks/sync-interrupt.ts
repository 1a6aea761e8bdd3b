// sync-interrupt: how long from `tracker.stop()` in the main thread until a processor's hot CPU loop sees
// `ctx.interrupted` in its worker, in two positions, beside the floor measured in the same run.
// How: a 2-thread runtime (silent logger, no-op reporter) runs the bench-sync-spin processor, one instance at a
// time. The processor gets a SharedArrayBuffer probe in jobParams (shared, not copied, across threads), marks
// 'started' on it with Atomics.store + notify and spins `while (!ctx.interrupted)`; the worker writes its now() into
// the probe the moment its loop sees the flag. Sample = that − t0, in µs. now() is performance.timeOrigin +
// performance.now() on both threads (they agree to ~0.25 µs, the double's resolution at epoch scale).
//   suite position  the main thread wakes on the mark (Atomics.waitAsync), takes t0 and calls stop() at once.
//   user position   the main thread sees the mark, then sleeps until a 2 ms timer fires; in its callback it takes
//                   t0 and calls stop(). The loop has been hot for 2 ms, as a job's loop is when a stop or a
//                   timeout comes, and the main thread has to be woken first.
//   floor           a bare node:worker_threads Worker spins on `Atomics.load` of a shared flag; the main thread
//                   wakes from the same 2 ms timer, takes t0 and stores the flag; the worker writes its now().
// A last row gives, on the user-position runs, how long the stop() call itself takes in the main thread. The user
// position and the floor take turns; the suite position runs back to back after them. 50 unmeasured rounds first;
// BENCH_SAMPLES (default 1000) measured of each.
// Run with `npm run bench:sync-interrupt`.
import { envInt, now, printLatencyTable, printTable, summarize, writeResults } from './lib/stats.js';
import { floorSample, floorWorker } from './lib/floor.js';
import { Probe } from './lib/probe.js';
import { afterTimer, benchRuntime, expectReason, hostLoad, toMicros } from './lib/harness.js';

const NAME = 'sync-interrupt';
const SAMPLES = envInt('BENCH_SAMPLES', 1000);
const WARMUP = 50;
const SLEEP_MS = 2;
const SUITE = 'ours, suite position: stop() → hot loop sees ctx.interrupted (the loop just started)';
const USER = `ours, user position: stop() → hot loop sees ctx.interrupted (loop hot ${SLEEP_MS} ms, main woken by a timer)`;
const FLOOR = 'floor: store → a bare worker spinning on Atomics.load sees it (same position)';
const CALL = 'the stop() call itself (main thread, user position)';

// The floor's worker: cell 0 = started mark, cell 1 = the flag it spins on, Float64 slot 1 = its now() on seeing it.
const FLOOR_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const cells = new Int32Array(workerData, 0, 2);
const times = new Float64Array(workerData);
parentPort.on('message', () => {
  Atomics.store(cells, 0, 1);
  Atomics.notify(cells, 0);
  while (Atomics.load(cells, 1) === 0);
  times[1] = performance.timeOrigin + performance.now();
  parentPort.postMessage('seen');
});
`;

const wallStart = now();
const runtime = benchRuntime({ 'bench-sync-spin': new URL('./processors/bench-sync-spin.js', import.meta.url) });
const probe = new Probe();
const floor = floorWorker(FLOOR_CODE);

const calls: number[] = [];

/** One run of ours: submit, wait until the processor spins, stop it; the latency in µs. */
async function ours(userPosition: boolean): Promise<number> {
  probe.reset();
  const tracker = runtime.submit({ processor: 'bench-sync-spin', jobParams: probe.params });
  await probe.waitStarted(tracker.done);
  let t0: number;
  if (userPosition) {
    const [start, end] = await afterTimer(SLEEP_MS, () => tracker.stop());
    t0 = start;
    calls.push(toMicros(end - start));
  } else {
    t0 = now();
    tracker.stop();
  }
  expectReason(await tracker.done, 'STOP_INTERRUPTED', NAME);
  return toMicros(probe.seenTime - t0);
}


const samples: Record<string, number[]> = { [SUITE]: [], [USER]: [], [FLOOR]: [] };
// The user position and the floor take turns, one sample each per round; the suite position runs as a block of
// its own, back to back, as it always has (between sleeps, the main thread's code goes cold and stop() costs more).
const alternating: Array<[string, () => Promise<number>]> = [
  [USER, () => ours(true)],
  [FLOOR, () => floorSample(floor, SLEEP_MS, () => Atomics.store(floor.cells, 1, 1))],
];
try {
  await runtime.ready();
  for (let i = 0; i < WARMUP; i++) for (const [, run] of alternating) await run();
  calls.length = 0;
  for (let i = 0; i < SAMPLES; i++) {
    for (let j = 0; j < alternating.length; j++) {
      const [name, run] = alternating[(i + j) % alternating.length] as [string, () => Promise<number>];
      samples[name]?.push(await run());
    }
  }
  for (let i = 0; i < WARMUP; i++) await ours(false);
  for (let i = 0; i < SAMPLES; i++) samples[SUITE]?.push(await ours(false));
} finally {
  await runtime.close();
  await floor.worker.terminate();
}

const summaries = [...Object.entries(samples).map(([name, values]) => summarize(name, values, 'µs')), summarize(CALL, calls, 'µs')];
printLatencyTable(`${NAME}: stop() → ctx.interrupted seen in the worker's hot loop (µs)`, summaries);
const p50 = (name: string): number => summaries.find((s) => s.name === name)?.p50 ?? Number.NaN;
const ratio = p50(USER) / p50(FLOOR);
printTable('against the floor and the suite target (same run)', ['case', 'p50 µs', 'ratio to the floor', 'target'], [
  ['ours, user position', p50(USER).toFixed(2), ratio.toFixed(2), ratio <= 1.3 ? 'met (≤ 1.3 × floor)' : 'NOT met (≤ 1.3 × floor)'],
  ['ours, suite position', p50(SUITE).toFixed(2), '', p50(SUITE) <= 5 ? 'met (≤ 5 µs)' : 'NOT met (≤ 5 µs)'],
  ['floor', p50(FLOOR).toFixed(2), '1.00', ''],
]);
const file = writeResults(NAME, {
  summaries,
  samples: { ...samples, [CALL]: calls },
  ratioUserToFloor: ratio,
  loadAverageAtEnd: hostLoad(),
  config: { samples: SAMPLES, warmup: WARMUP, maxThreads: 2, sleepMs: SLEEP_MS },
});
console.log(`\nraw samples: ${file}\nwall time: ${((now() - wallStart) / 1000).toFixed(1)} s`);
