// The chaos soak: `node --expose-gc dist/test/soak/run.js <instances> [seed]` (run by test/soak.test.ts and
// `npm run soak`, after the build). One 2-thread runtime runs <instances> instances drawn at random among every way
// an instance can end (kinds.ts), at most `maxInstances` in flight, while a fault-injecting reporter (reporter.ts)
// throws, rejects, hangs or answers slowly on final reports. Afterwards it checks every outcome against what the
// library's decideOutcome says its kind must end with (expected.ts), every report and the runtime's own counters
// (checks.ts), prints its figures, and closes the runtime: the process must then exit by itself. Any violation sets
// a non-zero exit code.
// The seed fixes every draw (the kinds, their parameters, each report try's fault); timing is the machine's.
import { randomInt } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AdmissionLimitError, RuntimeClosedError, TaskRuntime, type SubmitRequest, type Tracker } from 'light-task-tracker';
import { checkCounters, checkInstances, checkOutcome, judgeTolerated } from './checks.js';
import { KINDS, PROCESSOR_FILES, STOP_APIS, type ProcessorName, type StopApi } from './kinds.js';
import { soakLogger } from './log.js';
import { draws, hash01 } from './random.js';
import { faultyReporter } from './reporter.js';
import { bump, createState, pause, type Counter } from './state.js';

// ---------------------------------------------------------------------------------------------------------------
// Parameters

const REPLAY = 'node --expose-gc dist/test/soak/run.js';
const N = Number(process.argv[2] ?? process.env.SOAK_INSTANCES ?? 1000);
if (!Number.isInteger(N) || N < 1) {
  console.error(`usage: ${REPLAY} <instances> [seed]`);
  process.exit(2);
}
const SEED = process.argv[3] !== undefined ? Number(process.argv[3]) >>> 0
  : process.env.SOAK_SEED !== undefined ? Number(process.env.SOAK_SEED) >>> 0 : randomInt(0, 2 ** 32);
console.log(`soak: seed=${SEED} instances=${N}  (replay: ${REPLAY} ${N} ${SEED})`);

const MAX_THREADS = 2;
const SPARE_THREADS = 1;
const WINDOW = 64; // maxInstances: the driver keeps at most this many instances live
const GRACE_MS = Number(process.env.SOAK_GRACE_MS ?? 50); // forceStopGraceMs; the npm test run gives a loaded machine more
const REPORT_TIMEOUT_MS = 50;
const FINAL_REPORT_RETRIES = 8;
const DRAIN_LIMIT_MS = 30_000; // the longest a drain may take before the soak declares instances stuck

// The processors are the JS fixtures in test/fixtures/, from this file's compiled place, dist/test/soak/.
const FIXTURES = new URL('../../../test/fixtures/', import.meta.url);
const processors = Object.fromEntries(
  Object.entries(PROCESSOR_FILES).map(([name, file]) => [name, new URL(`${file}.js`, FIXTURES)]),
) as Record<ProcessorName, URL>;

const draw = draws(SEED);
const TOTAL_WEIGHT = KINDS.reduce((sum, kind) => sum + kind.weight, 0);
function drawKind(): number {
  let r = draw.next() * TOTAL_WEIGHT;
  for (let k = 0; k < KINDS.length; k++) if ((r -= KINDS[k]?.weight ?? 0) < 0) return k;
  return KINDS.length - 1;
}

// ---------------------------------------------------------------------------------------------------------------
// The runtime: 2 threads (+1 spare), a heap cap on every worker (for the heap blow-ups; every processor here fits
// in it easily), a short grace, small report timeout and backoff.

const state = createState(N);
const { counts, violation, idOf } = state;
const runtime = new TaskRuntime({
  processors,
  maxThreads: MAX_THREADS,
  spareThreads: SPARE_THREADS,
  maxInstances: WINDOW,
  statusReportIntervalMs: 50,
  forceStopGraceMs: GRACE_MS,
  resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
  finalReportRetries: FINAL_REPORT_RETRIES,
  reportTimeoutMs: REPORT_TIMEOUT_MS,
  reportBackoffMs: 5,
  reportBackoffMaxMs: 40,
  reporter: faultyReporter(state, hash01(SEED), { reportTimeoutMs: REPORT_TIMEOUT_MS, finalReportRetries: FINAL_REPORT_RETRIES }),
  logger: soakLogger(state),
});

let maxLive = 0;
let maxThreadsSeen = 0;
const sampler = setInterval(() => {
  maxThreadsSeen = Math.max(maxThreadsSeen, runtime.threads);
  maxLive = Math.max(maxLive, runtime.size);
}, 10);

function doStop(i: number, api: StopApi, tracker: Tracker, controller: AbortController | undefined, expectLive: boolean): void {
  if (api === 'tracker.stop()') tracker.stop();
  else if (api === 'runtime.stop(id)') {
    const found = runtime.stop(idOf(i));
    if (found !== expectLive) violation(`${idOf(i)}: runtime.stop(id) returned ${found}, expected ${expectLive}`);
  } else if (controller === undefined) violation(`${idOf(i)}: a stop by signal.abort() without a signal of the driver's`);
  else controller.abort();
}

function submitOne(i: number): void {
  const k = drawKind();
  const kind = KINDS[k];
  if (kind === undefined) throw new RangeError(`no kind ${k}`);
  const spec = kind.make(i, draw);
  state.kindOf[i] = k;
  state.stoppedByDriver[i] = spec.stopped ? 1 : 0;
  // Some instances carry a signal of their own even when nobody stops them; a tenth of the unstopped ones get a
  // stop after they have ended, which must change nothing.
  const controller = spec.stop !== undefined || draw.next() < 0.3 ? new AbortController() : undefined;
  const lateStop = spec.stop === undefined && !spec.stopped && draw.next() < 0.1 ? draw.pick(STOP_APIS) : undefined;
  const request: SubmitRequest = spec.request.signal === undefined && controller !== undefined
    ? { ...spec.request, instanceId: idOf(i), signal: controller.signal }
    : { ...spec.request, instanceId: idOf(i) };
  state.submitAt[i] = performance.now();
  let tracker: Tracker;
  try {
    tracker = runtime.submit(request);
  } catch (error) {
    violation(`${idOf(i)} (${kind.name}): submit threw ${error instanceof AdmissionLimitError ? 'AdmissionLimitError with the window respected' : String(error)}`);
    state.settledCount[i] = 1;
    counts.settled++;
    return;
  }
  counts.submitted++;
  maxLive = Math.max(maxLive, runtime.size);
  maxThreadsSeen = Math.max(maxThreadsSeen, runtime.threads);
  if (runtime.size > WINDOW) violation(`runtime.size ${runtime.size} above maxInstances ${WINDOW}`);
  const stop = spec.stop;
  if (stop?.on === 'started') {
    state.stopOnStart.set(i, () => state.later(stop.delayMs, () => doStop(i, stop.api, tracker, controller, true)));
  } else if (stop?.on === 'submit') {
    state.later(stop.delayMs, () => {
      if ((state.settledCount[i] ?? 0) > 0) violation(`${idOf(i)}: a 60 s sleep settled before its stop`);
      doStop(i, stop.api, tracker, controller, true);
    });
  }
  tracker.done.then(
    (outcome) => {
      checkOutcome(state, i, kind, spec, outcome);
      if (lateStop !== undefined) {
        counts.lateStops++;
        const live = runtime.get(idOf(i)) !== undefined;
        if (lateStop === 'tracker.stop()') counts.expectedStopIgnored++;
        else if (lateStop === 'runtime.stop(id)' && live) counts.expectedStopIgnored++;
        doStop(i, lateStop, tracker, controller ?? new AbortController(), live);
      }
    },
    (error: unknown) => violation(`${idOf(i)}: done rejected: ${String(error)}`),
  );
}

// Submits instances [from, to), never more than WINDOW live, then waits until all have settled and left the runtime.
async function run(from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    while (runtime.size >= WINDOW) await pause(1);
    submitOne(i);
  }
  await drain(to);
}

async function drain(upTo: number): Promise<void> {
  const deadline = performance.now() + DRAIN_LIMIT_MS;
  while (counts.settled < upTo || runtime.size > 0 || state.pendingTimers > 0) {
    if (performance.now() > deadline) {
      const stuck: string[] = [];
      for (let i = 0; i < upTo && stuck.length < 20; i++) {
        const live = runtime.get(idOf(i));
        if (state.settledCount[i] === 0 || live !== undefined) {
          stuck.push(`${idOf(i)} (${KINDS[state.kindOf[i] ?? 0]?.name}): settled ${state.settledCount[i]}, live ${live !== undefined}, taskStatus ${live?.taskStatus}, final tries ${state.finalTries[i]}`);
        }
      }
      console.error(`soak FAILED: not drained after ${DRAIN_LIMIT_MS} ms: settled ${counts.settled}/${upTo}, runtime.size ${runtime.size}, driver timers ${state.pendingTimers}\n  ${stuck.join('\n  ')}`);
      process.exit(1); // a hang: nothing else would end this process
    }
    await pause(5);
  }
}

const gc: () => void = typeof globalThis.gc === 'function' ? globalThis.gc : (setFlagsFromString('--expose-gc'), runInNewContext('gc') as () => void);
async function heapAfterGc(): Promise<number> {
  await pause(20);
  gc();
  await pause(5);
  gc();
  return process.memoryUsage().heapUsed;
}
const MB = 1024 * 1024;
const mb = (bytes: number): string => (bytes / MB).toFixed(2);

// ---------------------------------------------------------------------------------------------------------------
// The soak.

const t0 = performance.now();
await runtime.ready();
const warmUp = Math.min(N, Math.max(50, Math.round(N / 10)));
const half = Math.max(warmUp, Math.round((warmUp + N) / 2));
const tRun = performance.now();
await run(0, warmUp);
const heapBaseline = await heapAfterGc();
await run(warmUp, half);
const heapMid = await heapAfterGc();
await run(half, N);
const runMs = performance.now() - tRun;
const heapEnd = await heapAfterGc();
clearInterval(sampler);

// Per-instance checks, then runtime-wide ones.
checkInstances(state, FINAL_REPORT_RETRIES);
const stats = runtime.stats;
checkCounters(state, stats);
const expectEqual = (what: string, actual: number, expected: number): void => {
  if (actual !== expected) violation(`${what}: ${actual}, must be ${expected}`);
};
expectEqual('runtime.size', runtime.size, 0);
judgeTolerated(state);
if (maxLive > WINDOW) violation(`max live ${maxLive} above maxInstances ${WINDOW}`);
// A force-stopped worker's replacement boots while it is being terminated: at most one beside each running worker.
const MAX_THREADS_SEEN = 2 * MAX_THREADS + SPARE_THREADS;
if (maxThreadsSeen > MAX_THREADS_SEEN) violation(`${maxThreadsSeen} worker threads seen, above 2 × maxThreads + spareThreads = ${MAX_THREADS_SEEN}`);

// The pool is whole again once every replacement has booted, and no thread burns CPU for an instance long gone
// (a runaway left spinning in a worker would show here as ~100 % of a core).
let readyTimer: NodeJS.Timeout | undefined;
const readyInTime = await Promise.race([
  runtime.ready().then(() => true),
  new Promise<boolean>((resolve) => {
    readyTimer = setTimeout(() => resolve(false), 10_000);
  }),
]);
clearTimeout(readyTimer);
if (!readyInTime) violation(`runtime.ready() did not resolve within 10 s of the last instance (threads: ${runtime.threads})`);
expectEqual('runtime.threads after ready() (maxThreads + spareThreads)', runtime.threads, MAX_THREADS + SPARE_THREADS);
const cpuBefore = process.cpuUsage();
const idleFrom = performance.now();
await pause(300);
const cpu = process.cpuUsage(cpuBefore);
const idleCpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - idleFrom);
if (idleCpuShare > 0.5) violation(`the process burns ${(idleCpuShare * 100).toFixed(0)} % of a core with nothing to run: a worker still spins`);

// Heap: the runtime keeps nothing per finished instance, and the driver's records are preallocated typed arrays,
// so after the warm-up the main thread's heap must stay flat. Allowed: 3 MB of noise (V8 code, pino and piscina
// buffers, retained GC slack) plus 64 bytes per instance after the warm-up: a leak of anything tracker-sized
// (a Tracker, its request, its report and closures take well over 1 KB) shows at 10,000 instances.
const heapBound = heapBaseline + 3 * MB + 64 * (N - warmUp);
if (heapEnd > heapBound) violation(`heap after gc ${mb(heapEnd)} MB, above the bound ${mb(heapBound)} MB (baseline ${mb(heapBaseline)} MB after ${warmUp} instances)`);

const tClose = performance.now();
const closing = runtime.close();
if (runtime.close() !== closing) violation('close() is not idempotent: a second call returned another promise');
try {
  runtime.submit({ processor: 'succeed' });
  violation('submit() after close() was accepted');
} catch (error) {
  if (!(error instanceof RuntimeClosedError)) violation(`submit() after close() threw ${String(error)}, not RuntimeClosedError`);
}
await closing;
const closeMs = performance.now() - tClose;
expectEqual('runtime.size after close()', runtime.size, 0);
expectEqual('runtime.threads after close()', runtime.threads, 0);
// Nothing a processor said was lost without a count: every line dropped, every message of an attempt that had ended,
// every error thrown outside an attempt is in the metrics and in the warnings and errors that reported it (the last
// of those are logged by close()).
const metrics = runtime.metrics();
expectEqual('metrics.processorLogLinesDropped (vs. the warnings that count them)', metrics.processorLogLinesDropped, counts.droppedLines);
expectEqual('metrics.lateMessagesDropped (vs. the warnings that count them)', metrics.lateMessagesDropped, counts.lateMessages);
expectEqual('metrics.strayErrors (vs. the error lines that count them)', metrics.strayErrors, counts.strayErrors);
expectEqual('metrics.malformedMessages', metrics.malformedMessages, 0);

// Figures.
const sorted = Float64Array.from(state.settleMs).sort();
const quantile = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
const wallMs = performance.now() - t0;
const table = (map: Counter): string => [...map].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
const kindCounts: Counter = new Map();
for (const k of state.kindOf) bump(kindCounts, KINDS[k]?.name ?? '?');
console.log(`figures (seed ${SEED}):
  instances            ${N} (warm-up ${warmUp})
  wall time            ${(wallMs / 1000).toFixed(2)} s (instances ${(runMs / 1000).toFixed(2)} s, close ${closeMs.toFixed(1)} ms)
  instances/s          ${(N / (runMs / 1000)).toFixed(1)}
  max live             ${maxLive} (maxInstances ${WINDOW}); max threads ${maxThreadsSeen}
  settle ms            p50 ${quantile(0.5).toFixed(1)}, p99 ${quantile(0.99).toFixed(1)}, max ${quantile(1).toFixed(1)} (submit -> done)
  final reports        delivered ${stats.reportsDelivered}, retried ${stats.reportsRetried}, lost ${stats.reportsLost} (each logged as an error)
  report faults        ${table(counts.faults)}; slow answers timed out ${counts.slowTimedOut}, late answers ignored ${counts.lateAnswers}
  RUNNING reports      delivered ${counts.runningDelivered}, failed ${stats.runningReportsFailed} (injected)
  processor messages   log lines dropped ${metrics.processorLogLinesDropped}, messages of ended attempts dropped ${metrics.lateMessagesDropped}, errors outside any attempt ${metrics.strayErrors} (each counted and logged)
  heap after gc        baseline ${mb(heapBaseline)} MB, mid ${mb(heapMid)} MB, end ${mb(heapEnd)} MB (bound ${mb(heapBound)} MB)
  idle cpu             ${(idleCpuShare * 100).toFixed(1)} % of a core after the soak
  kinds                ${table(kindCounts)}
  reasons              ${table(counts.reasons)}
  tolerated late       ${counts.tolerated.size === 0 ? 'none' : table(counts.tolerated)}
  late stops           ${counts.lateStops} (ignored with a warning: ${counts.stopIgnoredLines})
  other warnings       ${counts.warnings.size === 0 ? 'none' : table(counts.warnings)}`);

const { violations } = state;
if (violations.length > 0) {
  console.error(`soak FAILED (seed ${SEED}): ${violations.length} violation(s)${violations.length > 20 ? ', the first 20 above' : ''}`);
  process.exitCode = 1;
} else {
  console.log('soak passed: closed, now exiting by itself');
}
// Nothing may keep the process alive now. This timer does not either (unref'd): it speaks only if something does.
setTimeout(() => {
  console.error(`soak FAILED: the process is still alive 10 s after close(): ${JSON.stringify(process.getActiveResourcesInfo())}`);
  process.exit(1);
}, 10_000).unref();
