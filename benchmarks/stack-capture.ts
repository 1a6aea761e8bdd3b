// stack-capture: what capturing a spinning worker's stack adds to its force-stop. On bare node:worker_threads
// Workers (no runtime), two cases alternate, one sample each per round: "capture + terminate", captureStack(worker,
// { timeoutMs: 250 }) and then worker.terminate(), from the call until the terminate's promise resolves (the thread
// has exited); and "terminate alone", worker.terminate() until its promise resolves. A third row gives, on the same
// runs as the first, the capture alone (call → its promise resolves); a count says how many captures gave no stack.
// How: each worker posts 'spinning' and then spins in a function that never returns (a runaway processor's loop);
// t0 = now() once that message has arrived. The process's inspector session is made (prepareStackCapture) before
// the first worker starts, as a runtime with stack capture on makes it. Worker spawns are not measured.
// 10 unmeasured rounds first; BENCH_SAMPLES (default 200) measured rounds. Times are main-thread now(), in ms.
import { captureStack, prepareStackCapture } from '../src/stack-capture.js';
import { bareWorker, hostLoad, terminateFloor } from './lib/harness.js';
import { envInt, now, printLatencyTable, printTable, summarize, writeResults } from './lib/stats.js';

const NAME = 'stack-capture';
const SAMPLES = envInt('BENCH_SAMPLES', 200);
const WARMUP = 10;
const CAPTURE_MS = 250;
const WITH = 'capture + terminate → exited';
const ALONE = 'terminate alone → exited';
const CAPTURE = 'capture alone (same runs as the first)';

const SPIN_CODE = `
const { parentPort } = require('node:worker_threads');
function runaway() { let turns = 0; for (;;) turns++; }
parentPort.postMessage('spinning');
runaway();
`;

const wallStart = now();
prepareStackCapture();

/** One sample with the capture: ms until the thread has exited, ms of the capture, and whether it gave a stack. */
async function withCapture(): Promise<[exited: number, capture: number, stack: boolean]> {
  const worker = await bareWorker(SPIN_CODE);
  const t0 = now();
  const stack = await captureStack(worker, { timeoutMs: CAPTURE_MS });
  const t1 = now();
  await worker.terminate();
  return [now() - t0, t1 - t0, stack !== undefined];
}

const withSamples: number[] = [];
const captureSamples: number[] = [];
const aloneSamples: number[] = [];
let noStack = 0;
for (let i = 0; i < WARMUP; i++) {
  await withCapture();
  await terminateFloor(SPIN_CODE);
}
for (let i = 0; i < SAMPLES; i++) {
  const [exited, capture, stack] = await withCapture();
  withSamples.push(exited);
  captureSamples.push(capture);
  if (!stack) noStack++;
  aloneSamples.push(await terminateFloor(SPIN_CODE));
}

const summaries = [summarize(WITH, withSamples), summarize(ALONE, aloneSamples), summarize(CAPTURE, captureSamples)];
printLatencyTable(`${NAME}: a spinning worker's force-stop with its stack captured first, against terminate() alone (ms)`, summaries);
const [w, a] = summaries;
const ratio = (w?.p50 ?? Number.NaN) / (a?.p50 ?? Number.NaN);
const ratio99 = (w?.p99 ?? Number.NaN) / (a?.p99 ?? Number.NaN);
printTable('ratios, and captures that gave no stack', ['p50 ratio', 'p99 ratio', 'no stack'], [[ratio.toFixed(2), ratio99.toFixed(2), `${noStack} of ${SAMPLES}`]]);
const file = writeResults(NAME, {
  summaries,
  ratioOfP50s: ratio,
  ratioOfP99s: ratio99,
  noStack,
  samples: { [WITH]: withSamples, [ALONE]: aloneSamples, [CAPTURE]: captureSamples },
  loadAverageAtEnd: hostLoad(),
  config: { samples: SAMPLES, warmup: WARMUP, timeoutMs: CAPTURE_MS },
});
console.log(`\nraw samples: ${file}\nwall time: ${((now() - wallStart) / 1000).toFixed(1)} s`);
