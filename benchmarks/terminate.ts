// terminate: how long from `tracker.stop()` until `tracker.done` resolves for a processor that ignores its
// interrupt (bench-runaway spins forever), on a runtime with forceStopGraceMs: 0 — and, beside it in the same run,
// the floor: a bare node:worker_threads Worker spinning forever, from the worker.terminate() call until the
// promise it returns resolves (the thread has exited).
// How (ours): a 2-thread runtime (silent logger, no-op reporter, forceStopGraceMs 0), one instance at a time. The
// processor marks 'started' on a SharedArrayBuffer probe in jobParams and spins; the main thread waits for the mark
// with Atomics.waitAsync, takes t0 = now(), calls stop(), and a `done.then(() => now())` gives t1. What lies on that
// path is the runtime's business; as written (grace 0) the tracker force-stops inside stop(): it sets the interrupt
// flag, calls worker.terminate() and frees the slot before stop() returns, and `done` resolves once the thread has
// exited (an instance is never said force-stopped while its thread may still run), as the floor below waits for the
// exit too. A third row gives, on the same runs, t0 → stop() returns.
// How (floor): new Worker(eval'd code that posts 'spinning' then loops forever); once 'spinning' arrives,
// t0 = now(), await worker.terminate(), t1 = now().
// The two alternate, one sample each per round. After each of ours the script waits for runtime.ready()
// (unmeasured) so that the pool's replacement worker has booted before the next measurement: its boot would
// otherwise compete for the CPU. Times are main-thread now() (performance.timeOrigin + performance.now()), in ms.
// 50 unmeasured rounds first; BENCH_SAMPLES (default 1000) measured rounds.
import { now, printLatencyTable, printTable, summarize, writeResults, envInt } from './lib/stats.js';
import { Probe } from './lib/probe.js';
import { benchRuntime, expectReason, hostLoad, terminateFloor } from './lib/harness.js';

const NAME = 'terminate';
const SAMPLES = envInt('BENCH_SAMPLES', 1000);
const WARMUP = 50;
const OURS = 'ours: stop() → done (runaway, grace 0)';
const CALL = 'ours: stop() call returns (same runs)';
const FLOOR = 'floor: worker.terminate() → promise resolves';

const FLOOR_CODE = `
const { parentPort } = require('node:worker_threads');
parentPort.postMessage('spinning');
for (;;);
`;

const wallStart = now();
const runtime = benchRuntime({ 'bench-runaway': new URL('./processors/bench-runaway.js', import.meta.url) }, { forceStopGraceMs: 0 });
const probe = new Probe();

/** One of ours: submit the runaway, wait until it spins, stop it; ms until done, and ms in the stop() call. */
async function runOurs(): Promise<[settled: number, call: number]> {
  probe.reset();
  const tracker = runtime.submit({ processor: 'bench-runaway', jobParams: probe.params });
  const settledAt = tracker.done.then((outcome) => ({ outcome, at: now() }));
  await probe.waitStarted(tracker.done);
  const t0 = now();
  tracker.stop();
  const t1 = now();
  const { outcome, at } = await settledAt;
  expectReason(outcome, 'STOP_FORCE_STOPPED', NAME);
  return [at - t0, t1 - t0];
}

const ours: number[] = [];
const calls: number[] = [];
const floor: number[] = [];
try {
  for (let i = 0; i < WARMUP; i++) {
    await runOurs();
    await runtime.ready();
    await terminateFloor(FLOOR_CODE);
  }
  for (let i = 0; i < SAMPLES; i++) {
    const [settled, call] = await runOurs();
    ours.push(settled);
    calls.push(call);
    await runtime.ready();
    floor.push(await terminateFloor(FLOOR_CODE));
  }
} finally {
  await runtime.close();
}

const summaries = [summarize(OURS, ours, 'ms'), summarize(FLOOR, floor, 'ms'), summarize(CALL, calls, 'ms')];
printLatencyTable(`${NAME}: force-stop of a runaway loop → settled, against a bare Worker.terminate() (ms)`, summaries);
const [o, f] = summaries;
const ratio = (o?.p50 ?? Number.NaN) / (f?.p50 ?? Number.NaN);
printTable('ratio of p50s', ['ours / floor', 'ours p50 ms', 'floor p50 ms'], [[ratio.toFixed(2), String(o?.p50.toFixed(4)), String(f?.p50.toFixed(4))]]);
const file = writeResults(NAME, {
  summaries,
  ratioOfP50s: ratio,
  samples: { [OURS]: ours, [FLOOR]: floor, [CALL]: calls },
  loadAverageAtEnd: hostLoad(),
  config: { samples: SAMPLES, warmup: WARMUP, maxThreads: 2, forceStopGraceMs: 0, betweenSamples: "runtime.ready()" },
});
console.log(`\nraw samples: ${file}\nwall time: ${((now() - wallStart) / 1000).toFixed(1)} s`);
