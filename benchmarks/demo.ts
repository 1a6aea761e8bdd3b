// light-task-tracker demo: one instance for each way an instance ends, run one after another on a 2-thread
// runtime — success, timeout of a cooperative loop (interrupted), timeout of a runaway loop (force-stopped),
// a user stop of an async sleeper, and a failure followed by a successful retry. Each is submitted once the pool's
// workers are ready (`runtime.ready()`), and starts when a worker takes it, not inside `submit()`: the demo learns
// each attempt's start from the `light-task-tracker:instance:start` diagnostics channel (the moment the attempt's
// timeout counts from) and measures every latency from that start, or from the `stop()` call, to when `done`
// settled (performance.now()). It prints each outcome with its latency, then the final reports the MemoryReporter
// received, and where the force-stopped job's thread was (its stack, captured just before the terminate). Run with
// `npm run demo`. Exits 1 if an outcome is not the expected one.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { channels, MemoryReporter, TaskRuntime, type Outcome, type StartMessage, type SubmitRequest } from 'light-task-tracker';

const TIMEOUT_MS = 200;
const GRACE_MS = 100; // room for a loaded machine: the cooperative cases reply well within it
const WORK_MS = 50; // what the successful processor sums for

// --- Starts, from the start channel ---------------------------------------------------------------------
const starts = new Map<string, StartMessage[]>(); // instanceId → its attempts' start messages, in order
const startWaiters = new Map<string, () => void>();

function onStart(message: unknown): void {
  const start = message as StartMessage;
  starts.set(start.instanceId, [...(starts.get(start.instanceId) ?? []), start]);
  startWaiters.get(start.instanceId)?.();
  startWaiters.delete(start.instanceId);
}
channels.start.subscribe(onStart); // before any submit: a worker announces its starts only while someone listens

/** The main-thread time (performance.now()) at which attempt `attempt` started in its worker; NaN if it did not. */
function startOf(instanceId: string, attempt = 1): number {
  const start = starts.get(instanceId)?.find((message) => message.attempt === attempt);
  return start === undefined ? NaN : start.time - performance.timeOrigin; // `time` is epoch ms
}

/** Resolves once the instance's first attempt has started in its worker. */
function started(instanceId: string): Promise<void> {
  if (starts.has(instanceId)) return Promise.resolve();
  return new Promise((resolve) => startWaiters.set(instanceId, resolve));
}

// --- A logger that shows the tracker's warnings as they happen ----------------------------------------------
interface LogLine { level: number; msg: string; instanceId?: string }
const logStream = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    for (const text of chunk.toString().split('\n')) {
      if (text === '') continue;
      const line = JSON.parse(text) as LogLine;
      console.log(`  log ${line.level >= 50 ? 'error' : 'warn '} ${(line.instanceId ?? '-').padEnd(17)} ${line.msg}`);
    }
    callback();
  },
});

// --- The runtime ----------------------------------------------------------------------------------------
const processor = (name: string): URL => new URL(`./processors/${name}.js`, import.meta.url);
const reporter = new MemoryReporter();
const runtime = new TaskRuntime({
  processors: { sum: processor('sum'), spin: processor('spin'), runaway: processor('runaway'), sleep: processor('sleep'), flaky: processor('flaky') },
  maxThreads: 2,
  forceStopGraceMs: GRACE_MS,
  reporter,
  logger: pino({ level: 'warn' }, logStream),
});

/**
 * Submits one instance once the pool is ready (every worker booted with the processors imported; after the
 * force-stop, its replacement too), so that no case waits for a boot; gives its tracker and when `done` settled.
 */
async function submit(request: SubmitRequest & { instanceId: string }) {
  await runtime.ready();
  const tracker = runtime.submit(request);
  const settled = tracker.done.then((outcome) => ({ outcome, doneAt: performance.now() }));
  return { tracker, settled };
}

interface Row { name: string; outcome: Outcome; latencyMs: number; measures: string; expected: string } // expected: 'status reason attempts'
const rows: Row[] = [];

try {
  const bootAt = performance.now();
  await runtime.ready();
  console.log(`the pool's workers booted in ${(performance.now() - bootAt).toFixed(0)} ms`);
  console.log('running the cases (the tracker\'s warnings are shown as they happen):');

  // 1. A CPU-bound processor that finishes on its own.
  const ok = await submit({ processor: 'sum', instanceId: 'success', jobParams: WORK_MS });
  const r1 = await ok.settled;
  rows.push({
    name: 'success', outcome: r1.outcome, latencyMs: r1.doneAt - startOf('success'),
    measures: `start → done (${WORK_MS} ms of work)`, expected: 'SUCCEED SUCCEEDED 1',
  });

  // 2. A hot loop that reads ctx.interrupted: the timeout's interrupt ends it without a terminate.
  const coop = await submit({ processor: 'spin', instanceId: 'timeout-interrupt', timeoutMs: TIMEOUT_MS });
  const r2 = await coop.settled;
  rows.push({
    name: 'timeout-interrupt', outcome: r2.outcome, latencyMs: r2.doneAt - (startOf('timeout-interrupt') + TIMEOUT_MS),
    measures: `deadline (start+${TIMEOUT_MS}) → done`, expected: 'FAILED TIMEOUT_INTERRUPTED 1',
  });

  // 3. A loop that ignores the interrupt: its worker is terminated once the grace is over.
  const runaway = await submit({ processor: 'runaway', instanceId: 'force-stop', timeoutMs: TIMEOUT_MS });
  const r3 = await runaway.settled;
  rows.push({
    name: 'force-stop', outcome: r3.outcome, latencyMs: r3.doneAt - (startOf('force-stop') + TIMEOUT_MS + GRACE_MS),
    measures: `deadline+grace (start+${TIMEOUT_MS + GRACE_MS}) → done`, expected: 'FAILED TIMEOUT_FORCE_STOPPED 1',
  });

  // 4. An async sleeper, stopped by the user once it has started in its worker.
  const sleeper = await submit({ processor: 'sleep', instanceId: 'user-stop' });
  await Promise.race([started('user-stop'), sleeper.settled]); // settled first only if it failed to start
  const stopAt = performance.now();
  sleeper.tracker.stop();
  const r4 = await sleeper.settled;
  rows.push({ name: 'user-stop', outcome: r4.outcome, latencyMs: r4.doneAt - stopAt, measures: 'stop() → done', expected: 'STOPPED STOP_INTERRUPTED 1' });

  // 5. Fails its first attempt, succeeds on the retry.
  const flaky = await submit({ processor: 'flaky', instanceId: 'retry', maxRetries: 2 });
  const r5 = await flaky.settled;
  rows.push({
    name: 'retry', outcome: r5.outcome, latencyMs: r5.doneAt - startOf('retry'),
    measures: '1st start → done (2 attempts)', expected: 'SUCCEED SUCCEEDED 2',
  });
} finally {
  // Waits for every final report to be delivered, then destroys the pool: nothing keeps the process alive.
  await runtime.close();
  channels.start.unsubscribe(onStart);
}

// --- Output -------------------------------------------------------------------------------------------
function printTable(header: string[], body: string[][]): void {
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((row) => (row[i] ?? '').length)));
  const numeric = (text: string): boolean => /^-?[\d.]+$/.test(text);
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (numeric(cell) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  console.log(line(header));
  console.log(line(widths.map((width) => '-'.repeat(width))));
  for (const row of body) console.log(line(row));
}

console.log('\noutcomes (tracker.done):');
printTable(
  ['case', 'status', 'reason', 'attempts', 'latency ms', 'latency measures', 'result'],
  rows.map(({ name, outcome, latencyMs, measures }) => [
    name, outcome.status, outcome.reason, String(outcome.attempts), latencyMs.toFixed(2), measures, outcome.result,
  ]),
);

// Where the runaway was when its worker was terminated: captured just before (captureStack), mapped to its .ts source.
const forceStopped = rows.find((row) => row.name === 'force-stop')?.outcome.stack;
console.log('\nwhere the force-stopped job was (outcome.stack):');
console.log(forceStopped ?? '  (no stack)');

const wait = (id: string): string => `${id} ${(starts.get(id)?.[0]?.waitMs ?? NaN).toFixed(2)}`;
console.log(`\nsubmit → start in its worker, in ms (the start channel's waitMs: the hand-off to a ready worker):`);
console.log(rows.map((row) => wait(row.name)).join(', '));

console.log('\nfinal reports received by the MemoryReporter (a stopped instance sends none):');
const finals = reporter.reports.filter((report) => report.status !== 'RUNNING');
printTable(['instanceId', 'status', 'result'], finals.map((report) => [report.instanceId, report.status, report.result]));

const got = ({ outcome }: Row): string => `${outcome.status} ${outcome.reason} ${outcome.attempts}`;
const wrong = rows.filter((row) => got(row) !== row.expected || !Number.isFinite(row.latencyMs));
for (const row of wrong) {
  console.log(`UNEXPECTED ${row.name}: got "${got(row)}", latency ${row.latencyMs}; expected "${row.expected}" (status reason attempts) and a latency`);
}
if (forceStopped === undefined) console.log('UNEXPECTED force-stop: no stack');
if (rows.length !== 5 || wrong.length > 0 || finals.length !== 4 || forceStopped === undefined) process.exitCode = 1;
