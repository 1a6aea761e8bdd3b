// The soak's checks: each outcome against what its kind must end with, each final report against its outcome, and
// once every instance has ended, the per-instance lines and the runtime's counters against the driver's own.
import type { Outcome, RuntimeStats } from 'light-task-tracker';
import { textMatches, type Expected } from './expected.js';
import { KINDS, type Kind, type Spec } from './kinds.js';
import { bump, inc, type Counter, type SoakState } from './state.js';

/** The share of a kind's instances that may fail to see their interrupt in time before that is a violation. */
export const TOLERATED_SHARE = 0.05;

const kindName = (state: SoakState, i: number): string => KINDS[state.kindOf[i] ?? 0]?.name ?? '?';
const matches = (want: Expected, outcome: Outcome): boolean =>
  want.status === outcome.status && want.reason === outcome.reason && textMatches(want.result, outcome.result) && want.attempts === outcome.attempts;

/** An instance's outcome, as `done` resolved it, in the same turn as its final report's first try. */
export function checkOutcome(state: SoakState, i: number, kind: Kind, spec: Spec, outcome: Outcome): void {
  const { violation, idOf } = state;
  state.settleMs[i] = performance.now() - (state.submitAt[i] ?? 0);
  const settled = inc(state.settledCount, i);
  state.counts.settled++;
  state.stopOnStart.delete(i);
  const name = `${idOf(i)} (${kind.name}, ${JSON.stringify(spec.request.jobParams ?? null)})`;
  if (settled > 1) violation(`${name}: done settled ${settled} times`);
  state.outcomeAttempts[i] = outcome.attempts;
  state.outcomeStarted[i] = outcome.startTime === null ? 0 : 1;
  bump(state.counts.reasons, outcome.reason);
  const said = `${outcome.status}/${outcome.reason} "${outcome.result}" after ${outcome.attempts} attempt(s)`;
  // The way it ended, among the kind's: the one it matches in full, else the first with its reason (to say what
  // differs), else none.
  const sameReason = spec.expect.filter((want) => want.reason === outcome.reason);
  const want = sameReason.find((candidate) => matches(candidate, outcome)) ?? sameReason[0];
  if (want === undefined) {
    const statuses = [...new Set(spec.expect.map((e) => e.status))];
    if (!statuses.includes(outcome.status)) violation(`${name}: status ${outcome.status}, must be ${statuses.join(' or ')}: ${said}`);
    violation(`${name}: reason ${outcome.reason}, must be one of ${spec.expect.map((e) => e.reason).join(', ')}: ${said}`);
  } else {
    if (outcome.status !== want.status) violation(`${name}: status ${outcome.status}, must be ${want.status}: ${said}`);
    // Judged at the end, once every log line is in; whether it had started is taken now (a withdrawn attempt may
    // still start later, on a worker that frees up, and log 'started' then).
    if (want.tolerated) state.toleratedLate[i] = (state.startedLines[i] ?? 0) > 0 ? 2 : 1;
    if (!textMatches(want.result, outcome.result)) violation(`${name}: result "${outcome.result}", must be ${String(want.result)}`);
    if (outcome.attempts !== want.attempts) violation(`${name}: ${outcome.attempts} attempts, must be ${want.attempts}: ${said}`);
    state.expectedDeaths[i] = want.deaths;
  }
  const attempts = want?.attempts ?? outcome.attempts;
  if ((outcome.startTime === null) !== (attempts === 0)) violation(`${name}: startTime ${outcome.startTime} with ${outcome.attempts} attempts`);
  if (outcome.startTime !== null && !(outcome.endTime >= outcome.startTime)) violation(`${name}: endTime ${outcome.endTime} before startTime ${outcome.startTime}`);
  // The final report is sent in the same turn as done settles: it has been tried once already (unless stopped).
  const report = state.firstReports.get(i);
  state.firstReports.delete(i);
  if (spec.stopped) {
    if (report !== undefined) violation(`${name}: stopped, yet a final report was sent`);
    return;
  }
  if (report === undefined) {
    violation(`${name}: settled ${outcome.status} with no final report sent`);
    return;
  }
  const ok = report.status === outcome.status && report.result === outcome.result && report.startTime === outcome.startTime
    && report.endTime === outcome.endTime && report.succeedTaskNum + report.failedTaskNum === 1
    && (want === undefined || report.succeedTaskNum === (want.succeeded ? 1 : 0))
    && report.totalTaskNum === 1 && report.triggerTime <= (outcome.startTime ?? Infinity);
  if (!ok) violation(`${name}: final report ${JSON.stringify(report)} disagrees with the outcome ${JSON.stringify(outcome)}`);
}

/** Once every instance has ended and left the runtime: each ended once, was reported once (or none if stopped). */
export function checkInstances(state: SoakState, finalReportRetries: number): void {
  const { violation, idOf } = state;
  for (let i = 0; i < state.n; i++) {
    const name = `${idOf(i)} (${kindName(state, i)})`;
    const settled = state.settledCount[i] ?? 0;
    const tries = state.finalTries[i] ?? 0;
    const delivered = state.finalDelivered[i] ?? 0;
    const lost = state.finalLostLines[i] ?? 0;
    if (settled !== 1) violation(`${name}: done settled ${settled} times`);
    if (state.stoppedByDriver[i] === 1) {
      if (tries !== 0) violation(`${name}: stopped, yet its final report was tried ${tries} times`);
    } else {
      if (delivered + lost !== 1) {
        violation(`${name}: final report delivered ${delivered} time(s) and logged lost ${lost} time(s) over ${tries} tries; must be once in all`);
      }
      if (lost > 0 && tries !== finalReportRetries + 1) violation(`${name}: logged lost after ${tries} tries, not ${finalReportRetries + 1}`);
    }
    if (state.destroyedLines[i] !== 1) violation(`${name}: 'tracker destroyed' logged ${state.destroyedLines[i]} times`);
    if (state.finishedLines[i] !== state.outcomeStarted[i]) {
      violation(`${name}: 'instance finished' logged ${state.finishedLines[i]} times (started: ${state.outcomeStarted[i] === 1})`);
    }
    if (state.diedLines[i] !== state.expectedDeaths[i]) {
      violation(`${name}: 'the worker died under the attempt' logged ${state.diedLines[i]} times, must be ${state.expectedDeaths[i]}`);
    }
  }
}

/** The final report tries the reporter saw, summed over the instances. */
export function finalReportTotals(state: SoakState): { delivered: number; lostLines: number; retriedTries: number; finalInstances: number } {
  let delivered = 0, lostLines = 0, retriedTries = 0, finalInstances = 0;
  for (let i = 0; i < state.n; i++) {
    const tries = state.finalTries[i] ?? 0;
    delivered += state.finalDelivered[i] ?? 0;
    lostLines += state.finalLostLines[i] ?? 0;
    if (tries > 0) {
      finalInstances++;
      retriedTries += tries - 1;
    }
  }
  return { delivered, lostLines, retriedTries, finalInstances };
}

/** The runtime's counters and warnings against what the driver and its reporter saw. */
export function checkCounters(state: SoakState, stats: Readonly<RuntimeStats>): void {
  const { counts } = state;
  const { delivered, lostLines, retriedTries, finalInstances } = finalReportTotals(state);
  const expectEqual = (what: string, actual: number, expected: number): void => {
    if (actual !== expected) state.violation(`${what}: ${actual}, must be ${expected}`);
  };
  expectEqual('stats.submitted', stats.submitted, counts.submitted);
  expectEqual('stats.reportsDelivered (vs. tries the reporter saw answer in time)', stats.reportsDelivered, delivered);
  expectEqual('stats.reportsLost (vs. error lines "final report lost")', stats.reportsLost, lostLines);
  expectEqual('stats.reportsRetried (vs. final report tries beyond the first)', stats.reportsRetried, retriedTries);
  expectEqual('warnings "final report failed: retrying"', counts.retryLines, stats.reportsRetried);
  expectEqual('delivered + lost final reports (vs. instances not stopped)', delivered + lostLines, finalInstances);
  expectEqual('stats.runningReportsFailed (vs. injected RUNNING failures)', stats.runningReportsFailed, counts.runningInjectedFailures);
  expectEqual('warnings "RUNNING report failed"', counts.runningFailLines, counts.runningInjectedFailures);
  expectEqual('warnings "stop ignored: the instance has finished" (vs. stops sent to finished instances)', counts.stopIgnoredLines, counts.expectedStopIgnored);
  expectEqual('hung report calls whose signal aborted', counts.hangsAborted, counts.hangs);
}

/**
 * Why each instance that ended a tolerated way was late: its attempt had not reached a worker at the deadline (all
 * busy or booting: the timeout runs from dispatch), or it saw the interrupt but its answer came after the grace
 * (scheduling), or it was terminated before it logged seeing the interrupt. Only the last counts against
 * TOLERATED_SHARE: an interrupt that does not reach a running loop would make it near 100 %.
 */
export function judgeTolerated(state: SoakState): void {
  const unseenByKind: Counter = new Map();
  for (let i = 0; i < state.n; i++) {
    const late = state.toleratedLate[i] ?? 0;
    if (late === 0) continue;
    const kind = kindName(state, i);
    const why = late === 1 ? 'not yet in a worker' : (state.sawInterruptLines[i] ?? 0) > 0 ? 'answered after the grace' : 'interrupt not seen in time';
    bump(state.counts.tolerated, `${kind}: ${why}`);
    if (why === 'interrupt not seen in time') bump(unseenByKind, kind);
  }
  for (const [kind, unseen] of unseenByKind) {
    const ofKind = state.kindOf.reduce((sum, k) => sum + (KINDS[k]?.name === kind ? 1 : 0), 0);
    if (unseen > Math.max(2, TOLERATED_SHARE * ofKind)) {
      state.violation(`${kind}: ${unseen} of ${ofKind} running attempts did not see their interrupt within the grace, above ${TOLERATED_SHARE * 100} %`);
    }
  }
}
