// async-interrupt: how long from `tracker.stop()` in the main thread until a processor awaiting `ctx.signal` runs
// its 'abort' listener in its worker.
// How: a 2-thread runtime (silent logger, no-op reporter) runs the bench-async-wait processor, one instance at a
// time. The processor gets a SharedArrayBuffer probe in jobParams (shared across threads), adds an 'abort'
// listener to ctx.signal, marks 'started' with Atomics.store + notify, and awaits a promise only that listener
// resolves (its event loop is otherwise idle). The main thread waits for the mark with Atomics.waitAsync, takes
// t0 = now(), calls stop(), and awaits `done`; the listener wrote the worker's now() into the probe as its first
// act. Sample = seen − t0, printed in µs (now() = performance.timeOrigin + performance.now() on both threads).
// The path: the flag store + Atomics.notify in stop(), the worker's Atomics.waitAsync waking its event loop,
// the AbortController firing.
// Beside it, in the same run, the floor for waking an idle worker: a bare node:worker_threads Worker (eval'd code)
// calls Atomics.waitAsync on a shared cell, marks 'started' and idles; the main thread takes t0 = now() and does
// Atomics.store + Atomics.notify; the worker's waitAsync callback writes its now(). Sample = that − t0. Ours and the
// floor alternate, one sample each per round. 50 unmeasured rounds first; BENCH_SAMPLES (default 1000) measured.
import { Worker } from 'node:worker_threads';
import { now, printLatencyTable, summarize, writeResults, envInt } from './lib/stats.js';
import { Probe } from './lib/probe.js';
import { benchRuntime, expectReason, toMicros, hostLoad } from './lib/harness.js';

const NAME = 'async-interrupt';
const SAMPLES = envInt('BENCH_SAMPLES', 1000);
const WARMUP = 50;
const CASE = "stop() → signal 'abort' listener runs";
const FLOOR = 'floor: Atomics.notify → idle worker\'s waitAsync callback';

// The floor's worker: cell 0 = started mark, cell 1 = the flag it waits on, Float64 slot 1 = its now() on waking.
const FLOOR_CODE = `
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

const wallStart = now();
const runtime = benchRuntime({ 'bench-async-wait': new URL('./processors/bench-async-wait.js', import.meta.url) });
const probe = new Probe();
const floorMemory = new SharedArrayBuffer(2 * Float64Array.BYTES_PER_ELEMENT);
const floorCells = new Int32Array(floorMemory, 0, 2);
const floorTimes = new Float64Array(floorMemory);
const floorWorker = new Worker(FLOOR_CODE, { eval: true, workerData: floorMemory });

/** One run: submit, wait until the processor awaits its signal, stop it; the latency in µs. */
async function runOnce(): Promise<number> {
  probe.reset();
  const tracker = runtime.submit({ processor: 'bench-async-wait', jobParams: probe.params });
  await probe.waitStarted(tracker.done);
  const t0 = now();
  tracker.stop();
  expectReason(await tracker.done, 'STOP_INTERRUPTED', NAME);
  return toMicros(probe.seenTime - t0);
}

/** One floor sample: wake the bare worker's waitAsync; µs until its callback ran. */
async function runFloor(): Promise<number> {
  Atomics.store(floorCells, 0, 0);
  Atomics.store(floorCells, 1, 0);
  const woken = new Promise((resolve) => floorWorker.once('message', resolve));
  floorWorker.postMessage('arm');
  while (Atomics.load(floorCells, 0) !== 1) {
    const waiting = Atomics.waitAsync(floorCells, 0, 0, 1000);
    if (waiting.async) await waiting.value;
  }
  const t0 = now();
  Atomics.store(floorCells, 1, 1);
  Atomics.notify(floorCells, 1);
  await woken;
  return toMicros((floorTimes[1] as number) - t0);
}

const samples: number[] = [];
const floor: number[] = [];
try {
  for (let i = 0; i < WARMUP; i++) {
    await runOnce();
    await runFloor();
  }
  for (let i = 0; i < SAMPLES; i++) {
    samples.push(await runOnce());
    floor.push(await runFloor());
  }
} finally {
  await runtime.close();
  await floorWorker.terminate();
}

const summaries = [summarize(CASE, samples, 'µs'), summarize(FLOOR, floor, 'µs')];
printLatencyTable(`${NAME}: stop() → the worker's signal 'abort' listener runs (µs)`, summaries);
const file = writeResults(NAME, {
  summaries,
  samples: { [CASE]: samples, [FLOOR]: floor },
  loadAverageAtEnd: hostLoad(),
  config: { samples: SAMPLES, warmup: WARMUP, maxThreads: 2 },
});
console.log(`\nraw samples: ${file}\nwall time: ${((now() - wallStart) / 1000).toFixed(1)} s`);
