// log-flood: a processor logging 3 million lines must not hold up the main thread, whose event loop fires every
// instance's timeout. Before lines were batched and bounded, each line was one postMessage and Node drains a port's
// whole backlog in one turn: another instance's 100 ms timeout fired 2.7–12 s late, and the process grew past 1.7 GB
// at 6 million lines.
// How: one 2-thread runtime (forceStopGraceMs 1000, so that a late answer is never force-stopped) whose logger is
// pino at info writing to /dev/null (a real write per line, the default bounds: processorLogRate 1000,
// processorLogBurst 2000). On one thread, BENCH_SAMPLES (default 200) runs of bench-timeout-spin with a 100 ms
// timeout, one at a time: the processor records its own start, sleeps (Atomics.wait: no CPU) until 20 ms before its
// deadline, then spins on ctx.interrupted and records the moment it sees the interrupt; lateness = that moment −
// (its start + 100 ms), as in timeout-lateness. On the other thread, in four phases of the same run:
//   no flood        nothing
//   no log line     instances running the flood's loop with a function of their own in place of the logger, back to
//                   back: the CPU and the garbage a flood takes from a 2-core machine (with the main thread and the
//                   timeout's spin, three threads and the worker's GC helpers want two cores), without its messages —
//                   the lateness to compare the floods with
//   debug flood     instances logging BENCH_FLOOD_LINES (default 3,000,000) lines at debug, back to back: below the
//                   logger's level, they never leave the worker
//   info flood      the same at info: written, up to the rate bound; the rest dropped in the worker and counted
// Printed: the lateness p50/p99 of each phase, the lines written and dropped, the floods run, how busy the main
// thread's event loop was (performance.eventLoopUtilization), and the peak RSS of the whole process (workers included)
// per phase, sampled every 10 ms, with process.resourceUsage().maxRSS at the end.
// Run with `npm run bench:log-flood`.
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { Probe } from './lib/probe.js';
import { benchRuntime, expectReason, hostLoad } from './lib/harness.js';
import { envInt, now, printLatencyTable, printTable, summarize, writeResults, type Summary } from './lib/stats.js';

const NAME = 'log-flood';
const SAMPLES = envInt('BENCH_SAMPLES', 200);
const LINES = envInt('BENCH_FLOOD_LINES', 3_000_000);
const TIMEOUT_MS = 100;
const WARMUP = 20;
const MB = 2 ** 20;

type Level = 'debug' | 'info';
interface Phase {
  readonly name: string;
  /** The neighbour's log level; 'none': its loop calls no logger; undefined: no neighbour. */
  readonly level: Level | 'none' | undefined;
}
const SPIN_LEAD_MS = 20;
const PHASES: readonly Phase[] = [
  { name: 'no flood', level: undefined },
  { name: `the flood's loop, no log line (${LINES.toLocaleString('en')} calls an instance)`, level: 'none' },
  { name: `debug flood (${LINES.toLocaleString('en')} lines an instance, below the logger's level)`, level: 'debug' },
  { name: `info flood (${LINES.toLocaleString('en')} lines an instance, written up to processorLogRate)`, level: 'info' },
];

const wallStart = now();
const runtime = benchRuntime(
  {
    'bench-timeout-spin': new URL('./processors/bench-timeout-spin.js', import.meta.url),
    'log-flood': new URL('./processors/log-flood.js', import.meta.url),
  },
  { forceStopGraceMs: 1000, logger: pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: true })) },
);

// The process's RSS, sampled: the peak since the last reset.
let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 10);

async function lateness(probe: Probe): Promise<number> {
  probe.reset();
  const tracker = runtime.submit({ processor: 'bench-timeout-spin', jobParams: { ...probe.params, sleepMs: TIMEOUT_MS - SPIN_LEAD_MS }, timeoutMs: TIMEOUT_MS });
  expectReason(await tracker.done, 'TIMEOUT_INTERRUPTED', `${NAME} ${TIMEOUT_MS} ms`);
  return probe.seenTime - (probe.startTime + TIMEOUT_MS);
}

interface Result {
  readonly phase: Phase;
  readonly late: number[];
  readonly floods: number;
  readonly written: number;
  readonly dropped: number;
  readonly peakRssMb: number;
  /** The share of the phase the main thread's event loop was busy (performance.eventLoopUtilization). */
  readonly mainBusy: number;
}

async function runPhase(phase: Phase): Promise<Result> {
  const probe = new Probe();
  const before = runtime.metrics().processorLogLinesDropped;
  const elu = performance.eventLoopUtilization();
  peakRss = process.memoryUsage.rss();
  let running = true;
  let floods = 0;
  const flooding = phase.level === undefined ? Promise.resolve() : (async () => {
    while (running) {
      const jobParams = phase.level === 'none' ? { lines: LINES } : { lines: LINES, level: phase.level };
      const outcome = await runtime.submit({ processor: 'log-flood', jobParams }).done;
      expectReason(outcome, 'SUCCEEDED', `${NAME} flood`);
      floods++;
    }
  })();
  const late: number[] = [];
  for (let i = 0; i < SAMPLES; i++) late.push(await lateness(probe));
  running = false;
  await flooding;
  const mainBusy = performance.eventLoopUtilization(elu).utilization;
  const dropped = runtime.metrics().processorLogLinesDropped - before;
  const attempted = phase.level === 'info' ? floods * LINES : 0;
  return { phase, late, floods, written: attempted - dropped, dropped, peakRssMb: peakRss / MB, mainBusy };
}

const results: Result[] = [];
try {
  await runtime.ready();
  const probe = new Probe();
  for (let i = 0; i < WARMUP; i++) await lateness(probe);
  for (const phase of PHASES) results.push(await runPhase(phase));
} finally {
  clearInterval(sampler);
  await runtime.close();
}

const summaries: Summary[] = results.map((r) => summarize(r.phase.name, r.late, 'ms'));
printLatencyTable(`${NAME}: a ${TIMEOUT_MS} ms timeout's lateness (the processor's own start + ${TIMEOUT_MS} ms → its loop sees ctx.interrupted), beside a processor flooding its log on the other thread (ms)`, summaries);
printTable('the same phases: the flood, how busy the main thread\'s event loop was, and the memory of the whole process (workers included)', ['phase', 'floods', 'lines logged', 'written', 'dropped', 'main loop busy', 'peak RSS MB'], results.map((r) => [
  r.phase.name,
  String(r.floods),
  (r.floods * (r.phase.level === undefined || r.phase.level === 'none' ? 0 : LINES)).toLocaleString('en'),
  r.phase.level === 'info' ? r.written.toLocaleString('en') : '0',
  r.dropped.toLocaleString('en'),
  `${(r.mainBusy * 100).toFixed(1)} %`,
  r.peakRssMb.toFixed(1),
]));
const control = results[1] as Result; // the same loop, no log line
const controlLate = summaries[1] as Summary;
printTable(
  'against the targets (same run): the main thread no busier than 10 points above the same loop without log lines, RSS bounded (peak < 1 GB); the lateness beside that loop\'s (on a shared machine its tails are the machine\'s: a flood takes a core, and its worker\'s GC helpers more)',
  ['phase', 'p50 ms', 'p99 ms', 'same loop, no line: p50 / p99 ms', 'main loop busy', 'peak RSS MB', 'target'],
  results.slice(2).map((r, index) => {
    const late = summaries[index + 2] as Summary;
    const busyOk = r.mainBusy <= control.mainBusy + 0.1;
    return [
      r.phase.name,
      late.p50.toFixed(3),
      late.p99.toFixed(3),
      `${controlLate.p50.toFixed(3)} / ${controlLate.p99.toFixed(3)}`,
      `${(r.mainBusy * 100).toFixed(1)} % (${(control.mainBusy * 100).toFixed(1)} %)`,
      r.peakRssMb.toFixed(1),
      busyOk && r.peakRssMb < 1024 ? 'met' : 'NOT met',
    ];
  }),
);
console.log(`\nprocess.resourceUsage().maxRSS at the end: ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MB`);
const file = writeResults(NAME, {
  summaries,
  samples: Object.fromEntries(results.map((r) => [r.phase.name, r.late])),
  phases: results.map((r) => ({ phase: r.phase.name, floods: r.floods, written: r.written, dropped: r.dropped, mainBusy: r.mainBusy, peakRssMb: r.peakRssMb })),
  loadAverageAtEnd: hostLoad(),
  config: { samples: SAMPLES, lines: LINES, timeoutMs: TIMEOUT_MS, spinLeadMs: SPIN_LEAD_MS, maxThreads: 2, forceStopGraceMs: 1000, logger: 'pino info → /dev/null' },
});
console.log(`\nraw samples: ${file}\nwall time: ${((now() - wallStart) / 1000).toFixed(1)} s`);
