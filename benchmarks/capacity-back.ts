// Benchmark 5 — capacity back after a terminate.
// A runtime at full capacity (maxThreads 1, held by a runaway that ignores interrupts) with a probe instance
// queued behind it. stop() on the runaway (forceStopGraceMs 0: terminate at once) → the probe starts running in a
// worker. (One slot, not two: two spinning threads on a 2-core machine would starve the main thread itself.) Sample = probe's own start time − the stop() call,
// both as performance.timeOrigin + performance.now(). Run with spareThreads 0 (the probe waits for piscina to
// spawn a replacement worker) and spareThreads 1 (it starts on a warm spare while the replacement spawns).
// Between samples the run waits for runtime.ready(): the replacement worker booted and warm again (steady state).
// Two positions with the spare: the suite's (the main thread wakes on the runaway's start mark and calls stop() at
// once) and the user's (the runaway has been spinning 2 ms, and the main thread wakes from a timer to call stop(), as
// when a stop arrives from elsewhere or a deadline passes). Without a spare, min(300, BENCH_SAMPLES) samples (each
// waits for a worker to boot).
import { pino } from 'pino';
import { TaskRuntime } from 'light-task-tracker';
import { envInt, now, printLatencyTable, printTable, summarize, writeResults, type Summary } from './lib/stats.js';
import { afterTimer } from './lib/harness.js';

const samples = envInt('BENCH_SAMPLES', 1000);
const processors = {
  runaway: new URL('./processors/cap-runaway.js', import.meta.url),
  probe: new URL('./processors/cap-probe.js', import.meta.url),
};

async function waitForMark(marks: Int32Array, index: number): Promise<void> {
  const waiting = Atomics.waitAsync(marks, index, 0);
  if (waiting.async) await waiting.value;
}

async function measure(spareThreads: number, userPosition: boolean, count: number): Promise<number[]> {
  const runtime = new TaskRuntime({
    processors,
    maxThreads: 1,
    spareThreads,
    forceStopGraceMs: 0,
    logger: pino({ level: 'silent' }),
    reporter: { report() {} },
  });
  await runtime.ready();
  const result: number[] = [];
  const warmup = 20;
  for (let i = 0; i < count + warmup; i++) {
    const buffer = new SharedArrayBuffer(16);
    const marks = new Int32Array(buffer);
    const runaway = runtime.submit({ processor: 'runaway', jobParams: { buffer, index: 0 } });
    const probe = runtime.submit({ processor: 'probe', jobParams: { buffer } });
    await waitForMark(marks, 0);
    const stoppedAt = userPosition ? (await afterTimer(2, () => runaway.stop()))[0] : now();
    if (!userPosition) runaway.stop();
    await probe.done;
    if (i >= warmup) result.push(new Float64Array(buffer, 8, 1)[0]! - stoppedAt);
    await runtime.ready();
  }
  await runtime.close();
  return result;
}

const started = Date.now();
const withoutSpare = await measure(0, false, Math.min(300, samples));
const withSpare = await measure(1, false, samples);
const withSpareUser = await measure(1, true, samples);
const rows: Summary[] = [
  summarize('terminate → next starts, spareThreads 0 (suite position)', withoutSpare),
  summarize('terminate → next starts, spareThreads 1 (suite position)', withSpare),
  summarize('terminate → next starts, spareThreads 1 (user position: spinning 2 ms, stop() from a timer)', withSpareUser),
];
printLatencyTable(`Capacity back after a terminate (ms)`, rows);
const ratio = (rows[0]!.p50 / rows[1]!.p50).toFixed(1);
const user = rows[2]!.p50;
printTable('Ratio and target (same run)', ['what', 'value'], [
  ['p50 spares 0 / spares 1, suite position', `${ratio}×`],
  ['user position p50, target ≤ 1 ms', `${user.toFixed(3)} ms: ${user <= 1 ? 'met' : 'NOT met'}`],
]);
const file = writeResults('capacity-back', { summaries: rows, samples: Object.fromEntries(rows.map((row, i) => [row.name, [withoutSpare, withSpare, withSpareUser][i]])) });
console.log(`\nraw samples: ${file} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
