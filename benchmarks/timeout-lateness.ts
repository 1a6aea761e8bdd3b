// timeout-lateness: how late, past its deadline, the timeout interrupt reaches a processor's hot CPU loop, for
// timeouts of 10 ms, 100 ms and 1000 ms — beside the lateness the reference (PowerJob's LightTaskTracker) would
// have on the same runs under its polling model.
// How: a 2-thread runtime (silent logger, no-op reporter; forceStopGraceMs 1000 so that a slow reply is never
// force-stopped, which would recycle a worker mid-run). Each run submits bench-timeout-spin with `timeoutMs` on
// an idle slot. The processor records its own start on a SharedArrayBuffer probe in jobParams (its first line), spins
// on ctx.interrupted and writes its now() the moment it sees the interrupt.
//   start     = the processor's own start, taken in the worker: the position a job is in. The timeout counts from
//               the attempt's start in its worker, as PowerJob's does from processTask, so the hand-off from the
//               main thread is not taken out of the job's budget.
//   deadline  = start + timeoutMs;   ours = (worker's now() when its loop saw ctx.interrupted) − deadline.
//   Negative = the job was interrupted before its budget was spent, from its own view: must never happen.
// Reference model, on the same runs: the reference schedules its timeout check with a fixed delay, first run at
// creation + timeout, then every period (timeout/10 under 1 s, else 1 s); a check interrupts only once
// now − taskStartTime ≥ timeout. Its taskStartTime is when the processor starts, which is later than creation by
// the queue delay q = (processor's own start) − (start above), measured on each run. Checks at
// creation + timeout + k·period; the first at or after (creation + q) + timeout fires: k = ceil(q / period);
// reference lateness = k·period − q. The model is idealised (checks exactly on time, interrupt delivery free), so
// it is a lower bound for the reference; the loop seeing the flag is not modelled.
// Samples: 50 unmeasured 10 ms runs first; then BENCH_SAMPLES (default 1000) runs for 10 ms and 100 ms, one at a
// time; for 1000 ms fewer by default (BENCH_SAMPLES_1S, default BENCH_SAMPLES / 10 = 100) to keep the script
// under ~3 minutes, run as 2 concurrent lanes (BENCH_LANES_1S) staggered by half the timeout; for those runs the
// processor sleeps (Atomics.wait, no CPU) until 20 ms before its deadline and spins only then, so two runs never
// spin at once and never compete for the CPU with the main thread's timer. Times: now() =
// performance.timeOrigin + performance.now() on both threads; ms unless marked µs.
import { now, printLatencyTable, printTable, summarize, writeResults, envInt, type Summary } from './lib/stats.js';
import { Probe } from './lib/probe.js';
import { benchRuntime, expectReason, pause, toMicros, hostLoad } from './lib/harness.js';

const NAME = 'timeout-lateness';
const SAMPLES = envInt('BENCH_SAMPLES', 1000);
const SAMPLES_1S = envInt('BENCH_SAMPLES_1S', Math.min(100, Math.max(10, Math.round(SAMPLES / 10))));
const LANES_1S = envInt('BENCH_LANES_1S', 2);
const WARMUP = 50;
const SPIN_LEAD_MS = 20; // 1 s runs: spin from 20 ms before the deadline

interface Case {
  readonly timeoutMs: number;
  readonly samples: number;
  readonly lanes: number;
  readonly sleepMs: number;
}
const CASES: readonly Case[] = [
  { timeoutMs: 10, samples: SAMPLES, lanes: 1, sleepMs: 0 },
  { timeoutMs: 100, samples: SAMPLES, lanes: 1, sleepMs: 0 },
  { timeoutMs: 1000, samples: SAMPLES_1S, lanes: LANES_1S, sleepMs: 1000 - SPIN_LEAD_MS },
];

/** One run's raw times (main-thread and worker now(), epoch ms). */
interface Run {
  readonly submitAt: number; // now() just before submit()
  readonly returnedAt: number; // now() just after submit() returned
  readonly startAt: number; // the processor's own now() on entry
  readonly seenAt: number; // the processor's now() when its loop saw ctx.interrupted
}

const wallStart = now();
const runtime = benchRuntime(
  { 'bench-timeout-spin': new URL('./processors/bench-timeout-spin.js', import.meta.url) },
  { forceStopGraceMs: 1000 },
);

async function runOnce(c: Case, probe: Probe): Promise<Run> {
  probe.reset();
  const jobParams = { ...probe.params, sleepMs: c.sleepMs };
  const submitAt = now();
  const tracker = runtime.submit({ processor: 'bench-timeout-spin', jobParams, timeoutMs: c.timeoutMs });
  const returnedAt = now();
  expectReason(await tracker.done, 'TIMEOUT_INTERRUPTED', `${NAME} ${c.timeoutMs} ms`);
  return { submitAt, returnedAt, startAt: probe.startTime, seenAt: probe.seenTime };
}

async function runCase(c: Case): Promise<Run[]> {
  const runs: Run[] = [];
  let taken = 0;
  const lane = async (index: number): Promise<void> => {
    if (index > 0) await pause((index * c.timeoutMs) / c.lanes);
    const probe = new Probe();
    while (taken < c.samples) {
      taken++;
      runs.push(await runOnce(c, probe));
    }
  };
  await Promise.all(Array.from({ length: c.lanes }, (_, index) => lane(index)));
  return runs;
}

const results: { c: Case; runs: Run[] }[] = [];
try {
  await runtime.ready();
  const probe = new Probe();
  for (let i = 0; i < WARMUP; i++) await runOnce({ timeoutMs: 10, samples: 1, lanes: 1, sleepMs: 0 }, probe);
  for (const c of CASES) results.push({ c, runs: await runCase(c) });
} finally {
  await runtime.close();
}

const lateness: Summary[] = [];
const details: Summary[] = [];
const samples: Record<string, number[]> = {};
const raw: Record<string, number[][]> = {};
const early: string[] = [];
for (const { c, runs } of results) {
  const t = `${c.timeoutMs} ms`;
  const period = c.timeoutMs < 1000 ? c.timeoutMs / 10 : 1000;
  const ours = runs.map((r) => r.seenAt - (r.startAt + c.timeoutMs));
  const queue = runs.map((r) => r.startAt - r.submitAt);
  const reference = queue.map((q) => Math.max(0, Math.ceil(q / period)) * period - q);
  const submitCall = runs.map((r) => toMicros(r.returnedAt - r.submitAt));
  const names = {
    ours: `ours, timeout ${t}`,
    reference: `reference model, timeout ${t} (period ${period} ms)`,
    queue: `queue delay q (submit → processor start), ${t}`,
    submit: `submit() call, ${t}`,
  };
  lateness.push(summarize(names.ours, ours, 'ms'), summarize(names.reference, reference, 'ms'));
  details.push(summarize(names.queue, queue, 'ms'), summarize(names.submit, submitCall, 'µs'));
  Object.assign(samples, { [names.ours]: ours, [names.reference]: reference, [names.queue]: queue, [names.submit]: submitCall });
  raw[t] = runs.map((r) => [r.submitAt, r.returnedAt, r.startAt, r.seenAt]);
  early.push(`${t}: ${ours.filter((x) => x < 0).length}/${ours.length}`);
}

const concurrency = LANES_1S > 1 ? `, 1000 ms runs ${LANES_1S} at a time (staggered)` : '';
printLatencyTable(`${NAME}: deadline (the processor's own start + timeout) → its hot loop sees ctx.interrupted (ms)${concurrency}`, lateness);
printLatencyTable('the same runs: queue delay (submit → the processor\'s start; the reference model\'s input) and the submit() call', details);
console.log(`\ninterrupt seen before the deadline (negative lateness; target: none): ${early.join(', ')}`);
printTable('against the target (same run): never early, p99 ≤ 1 ms late', ['timeout', 'earliest ms', 'p99 ms', 'target'], results.map(({ c }) => {
  const summary = lateness.find((x) => x.name === `ours, timeout ${c.timeoutMs} ms`) as Summary;
  const values = samples[summary.name] as number[];
  const earliest = Math.min(...values);
  return [`${c.timeoutMs} ms`, earliest.toFixed(3), summary.p99.toFixed(3), earliest >= 0 && summary.p99 <= 1 ? 'met' : 'NOT met'];
}));
const file = writeResults(NAME, {
  summaries: [...lateness, ...details],
  samples,
  raw: { columns: ['submitAt', 'returnedAt', 'processorStartAt', 'seenAt'], ...raw },
  loadAverageAtEnd: hostLoad(),
  config: { cases: CASES, warmup: WARMUP, maxThreads: 2, forceStopGraceMs: 1000, spinLeadMs: SPIN_LEAD_MS },
});
console.log(`\nraw samples: ${file}\nwall time: ${((now() - wallStart) / 1000).toFixed(1)} s`);
