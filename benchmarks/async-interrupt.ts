// async-interrupt: how long from `tracker.stop()` in the main thread until a processor awaiting `ctx.signal` runs
// its 'abort' listener in its worker, in two positions, beside the floors measured in the same run.
// How: a 2-thread runtime (silent logger, no-op reporter) runs the bench-async-wait processor, one instance at a
// time. The processor gets a SharedArrayBuffer probe in jobParams (shared across threads), adds an 'abort'
// listener to ctx.signal, marks 'started' with Atomics.store + notify, and awaits a promise only that listener
// resolves (its event loop is otherwise idle). The listener writes the worker's now() into the probe as its first
// act. Sample = that − t0, in µs (now() = performance.timeOrigin + performance.now() on both threads).
//   suite position  the main thread wakes on the mark (Atomics.waitAsync), takes t0 and calls stop() at once: the
//                   worker has only just started waiting, and may not be asleep yet.
//   user position   the main thread sees the mark, then sleeps until a 2 ms timer fires; in its callback it takes
//                   t0 and calls stop(). The worker's event loop has been asleep for 2 ms, as a processor awaiting
//                   I/O or a timer is when a stop or a timeout comes.
// The floors, bare node:worker_threads Workers (eval'd code) in the user position: the main thread wakes from the
// same 2 ms timer, takes t0, then
//   notify  stores a shared flag and Atomics.notify()s it: the idle worker's Atomics.waitAsync callback writes its now();
//   post    postMessage()s the worker: its 'message' listener writes its now().
// The four take turns, one sample each per round. 50 unmeasured rounds first; BENCH_SAMPLES (default 1000) measured.
// Run with `npm run bench:async-interrupt`.
import { envInt, now, printLatencyTable, printTable, summarize, writeResults } from './lib/stats.js';
import { floorSample, floorWorker } from './lib/floor.js';
import { Probe } from './lib/probe.js';
import { afterTimer, benchRuntime, expectReason, hostLoad, toMicros } from './lib/harness.js';

const NAME = 'async-interrupt';
const SAMPLES = envInt('BENCH_SAMPLES', 1000);
const WARMUP = 50;
const SLEEP_MS = 2;
const SUITE = "ours, suite position: stop() → 'abort' listener (the worker just started waiting)";
const USER = `ours, user position: stop() → 'abort' listener (worker idle ${SLEEP_MS} ms, main woken by a timer)`;
const NOTIFY = 'floor: Atomics.notify → idle worker\'s waitAsync callback (same position)';
const POST = 'floor: postMessage → idle worker\'s message listener (same position)';

// The floor workers: cell 0 = started mark, cell 1 = the flag the notify worker waits on, Float64 slot 1 = the
// worker's now() on waking.
const NOTIFY_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const cells = new Int32Array(workerData, 0, 2);
const times = new Float64Array(workerData);
parentPort.on('message', () => {
  const waiting = Atomics.waitAsync(cells, 1, 0);
  Atomics.store(cells, 0, 1);
  Atomics.notify(cells, 0);
  waiting.value.then(() => {
    times[1] = performance.timeOrigin + performance.now();
    parentPort.postMessage('woken');
  });
});
`;
const POST_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const cells = new Int32Array(workerData, 0, 2);
const times = new Float64Array(workerData);
let armed = false;
parentPort.on('message', (message) => {
  if (message === 'arm') {
    armed = true;
    Atomics.store(cells, 0, 1);
    Atomics.notify(cells, 0);
    return;
  }
  if (!armed) return;
  times[1] = performance.timeOrigin + performance.now();
  armed = false;
  parentPort.postMessage('woken');
});
`;

const wallStart = now();
const runtime = benchRuntime({ 'bench-async-wait': new URL('./processors/bench-async-wait.js', import.meta.url) });
const probe = new Probe();

const notifyFloor = floorWorker(NOTIFY_CODE);
const postFloor = floorWorker(POST_CODE);

/** One run of ours: submit, wait until the processor awaits its signal, stop it; the latency in µs. */
async function ours(userPosition: boolean): Promise<number> {
  probe.reset();
  const tracker = runtime.submit({ processor: 'bench-async-wait', jobParams: probe.params });
  await probe.waitStarted(tracker.done);
  let t0: number;
  if (userPosition) {
    [t0] = await afterTimer(SLEEP_MS, () => tracker.stop());
  } else {
    t0 = now();
    tracker.stop();
  }
  expectReason(await tracker.done, 'STOP_INTERRUPTED', NAME);
  return toMicros(probe.seenTime - t0);
}

const wakeNotify = (): void => {
  Atomics.store(notifyFloor.cells, 1, 1);
  Atomics.notify(notifyFloor.cells, 1);
};
const wakePost = (): void => postFloor.worker.postMessage('wake');

const samples: Record<string, number[]> = { [SUITE]: [], [USER]: [], [NOTIFY]: [], [POST]: [] };
const runs: Array<[string, () => Promise<number>]> = [
  [SUITE, () => ours(false)],
  [USER, () => ours(true)],
  [NOTIFY, () => floorSample(notifyFloor, SLEEP_MS, wakeNotify)],
  [POST, () => floorSample(postFloor, SLEEP_MS, wakePost)],
];
try {
  await runtime.ready();
  for (let i = 0; i < WARMUP; i++) for (const [, run] of runs) await run();
  for (let i = 0; i < SAMPLES; i++) {
    // The order rotates from round to round.
    for (let j = 0; j < runs.length; j++) {
      const [name, run] = runs[(i + j) % runs.length] as [string, () => Promise<number>];
      samples[name]?.push(await run());
    }
  }
} finally {
  await runtime.close();
  await notifyFloor.worker.terminate();
  await postFloor.worker.terminate();
}

const summaries = Object.entries(samples).map(([name, values]) => summarize(name, values, 'µs'));
printLatencyTable(`${NAME}: stop() → the worker's signal 'abort' listener runs (µs)`, summaries);
const p50 = (name: string): number => summaries.find((s) => s.name === name)?.p50 ?? Number.NaN;
const floorP50 = Math.min(p50(NOTIFY), p50(POST));
const ratio = p50(USER) / floorP50;
printTable('user position against the floor (same run)', ['case', 'p50 µs', 'ratio to the lower floor', 'target'], [
  ['ours, user position', p50(USER).toFixed(1), ratio.toFixed(2), ratio <= 1.5 ? 'met (≤ 1.5)' : 'NOT met (≤ 1.5)'],
  [`lower floor: ${p50(NOTIFY) <= p50(POST) ? 'Atomics.notify → waitAsync' : 'postMessage → message listener'}`, floorP50.toFixed(1), '1.00', ''],
]);
const file = writeResults(NAME, {
  summaries,
  samples,
  ratioUserToFloor: ratio,
  loadAverageAtEnd: hostLoad(),
  config: { samples: SAMPLES, warmup: WARMUP, maxThreads: 2, sleepMs: SLEEP_MS },
});
console.log(`\nraw samples: ${file}\nwall time: ${((now() - wallStart) / 1000).toFixed(1)} s`);
