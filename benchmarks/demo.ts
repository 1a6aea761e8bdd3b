// light-task-tracker demo: one instance for each way an instance ends, run one after another on a 2-thread
// runtime — success, timeout of a cooperative loop (interrupted), timeout of a runaway loop (force-stopped),
// a user stop of an async sleeper, and a failure followed by a successful retry. It prints each outcome with how
// long the tracker took to settle it (performance.now()), then the final reports the MemoryReporter received.
// Run with `npm run demo`. Exits 1 if an outcome is not the expected one.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { MemoryReporter, TaskRuntime, TaskStatus, type Outcome, type SubmitRequest } from 'light-task-tracker';

const TIMEOUT_MS = 200;
const GRACE_MS = 50;

// --- A quiet logger that doubles as the demo's event source ----------------------------------------------
// The logger runs at 'info' only so that the processors' 'started' lines reach this stream; the stream turns
// each into a main-thread time and prints nothing below 'warn' (so the console looks as with level 'warn').
interface LogLine { level: number; msg: string; instanceId?: string; source?: string; at?: number }
const startedAt = new Map<string, number>(); // instanceId → performance.now() of its first processor start
const startWaiters = new Map<string, (at: number) => void>();

const logStream = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    for (const text of chunk.toString().split('\n')) {
      if (text === '') continue;
      const line = JSON.parse(text) as LogLine;
      const id = line.instanceId;
      if (line.source === 'processor' && line.msg === 'started' && id !== undefined && typeof line.at === 'number') {
        // `at` is the worker's performance.timeOrigin + performance.now(): bring it onto this thread's clock.
        const at = line.at - performance.timeOrigin;
        if (!startedAt.has(id)) startedAt.set(id, at);
        startWaiters.get(id)?.(at);
        startWaiters.delete(id);
      } else if (line.level >= 40) {
        console.log(`  log ${line.level >= 50 ? 'error' : 'warn '} ${(id ?? '-').padEnd(17)} ${line.msg}`);
      }
    }
    callback();
  },
});

/** Resolves with the main-thread time at which the instance's processor logged 'started'. */
function started(instanceId: string): Promise<number> {
  const seen = startedAt.get(instanceId);
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise((resolve) => startWaiters.set(instanceId, resolve));
}

// --- The runtime ----------------------------------------------------------------------------------------
const processor = (name: string): URL => new URL(`./processors/${name}.js`, import.meta.url);
const reporter = new MemoryReporter();
const runtime = new TaskRuntime({
  processors: { sum: processor('sum'), spin: processor('spin'), runaway: processor('runaway'), sleep: processor('sleep'), flaky: processor('flaky') },
  maxThreads: 2,
  forceStopGraceMs: GRACE_MS,
  reporter,
  logger: pino({ level: 'info' }, logStream),
});

const submittedAt = new Map<string, number>(); // instanceId → performance.now() just before submit()

/** Submits one instance; gives its tracker, the time just before submit(), and when `done` settled. */
function submit(request: SubmitRequest & { instanceId: string }) {
  const at = performance.now();
  submittedAt.set(request.instanceId, at);
  const tracker = runtime.submit(request);
  // With a free slot the instance starts inside submit(): its timeout timer was armed at `at` (± µs).
  if (tracker.taskStatus !== TaskStatus.WORKER_PROCESSING) throw new Error(`${request.instanceId} was queued, not started`);
  const settled = tracker.done.then((outcome) => ({ outcome, doneAt: performance.now() }));
  return { tracker, submittedAt: at, settled };
}

interface Row { name: string; outcome: Outcome; latencyMs: number; measures: string; expected: string } // expected: 'status reason attempts'
const rows: Row[] = [];

try {
  console.log('running the cases (the tracker\'s warnings are shown as they happen):');

  // 1. A CPU-bound processor that finishes on its own.
  const ok = submit({ processor: 'sum', instanceId: 'success', jobParams: 50 });
  const r1 = await ok.settled;
  rows.push({ name: 'success', outcome: r1.outcome, latencyMs: r1.doneAt - ok.submittedAt, measures: 'submit → done (cold pool)', expected: 'SUCCEED SUCCEEDED 1' });

  // 2. A hot loop that reads ctx.interrupted: the timeout's interrupt ends it without a terminate.
  const coop = submit({ processor: 'spin', instanceId: 'timeout-interrupt', timeoutMs: TIMEOUT_MS });
  const r2 = await coop.settled;
  rows.push({
    name: 'timeout-interrupt', outcome: r2.outcome, latencyMs: r2.doneAt - (coop.submittedAt + TIMEOUT_MS),
    measures: `deadline (start+${TIMEOUT_MS}) → done`, expected: 'FAILED TIMEOUT_INTERRUPTED 1',
  });

  // 3. A loop that ignores the interrupt: its worker is terminated once the grace is over.
  const runaway = submit({ processor: 'runaway', instanceId: 'force-stop', timeoutMs: TIMEOUT_MS });
  const r3 = await runaway.settled;
  rows.push({
    name: 'force-stop', outcome: r3.outcome, latencyMs: r3.doneAt - (runaway.submittedAt + TIMEOUT_MS + GRACE_MS),
    measures: `deadline+grace (+${GRACE_MS}) → done`, expected: 'FAILED TIMEOUT_FORCE_STOPPED 1',
  });

  // 4. An async sleeper, stopped by the user once its processor has logged 'started'.
  const sleeper = submit({ processor: 'sleep', instanceId: 'user-stop' });
  await Promise.race([started('user-stop'), sleeper.settled]); // settled first only if it failed to start
  const stopAt = performance.now();
  sleeper.tracker.stop();
  const r4 = await sleeper.settled;
  rows.push({ name: 'user-stop', outcome: r4.outcome, latencyMs: r4.doneAt - stopAt, measures: 'stop() → done', expected: 'STOPPED STOP_INTERRUPTED 1' });

  // 5. Fails its first attempt, succeeds on the retry.
  const flaky = submit({ processor: 'flaky', instanceId: 'retry', maxRetries: 2 });
  const r5 = await flaky.settled;
  rows.push({ name: 'retry', outcome: r5.outcome, latencyMs: r5.doneAt - flaky.submittedAt, measures: 'submit → done (2 attempts)', expected: 'SUCCEED SUCCEEDED 2' });
} finally {
  // Waits for every final report to be delivered, then destroys the pool: nothing keeps the process alive.
  await runtime.close();
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
  ['case', 'status', 'reason', 'result', 'attempts', 'latency ms', 'latency measures'],
  rows.map(({ name, outcome, latencyMs, measures }) => [
    name, outcome.status, outcome.reason, outcome.result, String(outcome.attempts), latencyMs.toFixed(2), measures,
  ]),
);

const lag = (id: string): string => `${id} ${((startedAt.get(id) ?? NaN) - (submittedAt.get(id) ?? NaN)).toFixed(2)}`;
console.log(`submit → processor 'started' in ms (worker hand-off + first module load; the first case also waits for the`);
console.log(`threads to boot): ${rows.map((row) => lag(row.name)).join(', ')}`);

console.log('\nfinal reports received by the MemoryReporter (a stopped instance sends none):');
const finals = reporter.reports.filter((report) => report.status !== 'RUNNING');
printTable(['instanceId', 'status', 'result'], finals.map((report) => [report.instanceId, report.status, report.result]));

const got = ({ outcome }: Row): string => `${outcome.status} ${outcome.reason} ${outcome.attempts}`;
const wrong = rows.filter((row) => got(row) !== row.expected);
for (const row of wrong) console.log(`UNEXPECTED ${row.name}: got "${got(row)}", expected "${row.expected}" (status reason attempts)`);
if (wrong.length > 0 || finals.length !== 4) process.exitCode = 1;
