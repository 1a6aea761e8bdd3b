// The fault-injecting reporter. RUNNING reports: 10 % throw, 10 % reject (the runtime logs and counts them).
// Final reports, each try: ok at once, ok after a while under the timeout, throw, reject, hang for good, or answer
// only after the runtime has given up on the call. A try counts as delivered when it answers without error while its
// signal is not aborted (the runtime then takes the answer).
import { InstanceStatus, type Reporter, type StatusReport } from 'light-task-tracker';
import type { Hash01 } from './random.js';
import { bump, inc, type SoakState } from './state.js';

type FinalFault = 'ok' | 'slow' | 'throw' | 'reject' | 'hang' | 'late';
const FINAL_FAULTS: ReadonlyArray<readonly [FinalFault, number]> = [
  ['ok', 0.35], ['slow', 0.15], ['throw', 0.12], ['reject', 0.12], ['hang', 0.13], ['late', 0.13],
];

export interface ReporterSettings {
  /** The runtime's reportTimeoutMs. */
  readonly reportTimeoutMs: number;
  /** The runtime's finalReportRetries. */
  readonly finalReportRetries: number;
}

export function faultyReporter(state: SoakState, hash01: Hash01, settings: ReporterSettings): Reporter {
  const { counts, violation, idOf } = state;
  const { reportTimeoutMs, finalReportRetries } = settings;

  function finalFault(i: number, tryNumber: number): FinalFault {
    let r = hash01(i, tryNumber, 1);
    for (const [fault, p] of FINAL_FAULTS) if ((r -= p) < 0) return fault;
    return 'ok';
  }

  function runningReport(i: number, report: StatusReport): void | Promise<void> {
    if ((state.settledCount[i] ?? 0) > 0) violation(`${idOf(i)}: a RUNNING report after its outcome settled`);
    if ((state.finalTries[i] ?? 0) > 0) violation(`${idOf(i)}: a RUNNING report after its final report`);
    if (report.endTime !== null || report.result !== '' || report.succeedTaskNum + report.failedTaskNum !== 0) {
      violation(`${idOf(i)}: a malformed RUNNING report ${JSON.stringify(report)}`);
    }
    const reports = inc(state.runningReports, i);
    state.lastRunningReportTime[i] = Math.max(state.lastRunningReportTime[i] ?? 0, report.reportTime);
    const r = hash01(i, reports, 2);
    if (r < 0.1) {
      counts.runningInjectedFailures++;
      throw new Error('injected: RUNNING report threw');
    }
    if (r < 0.2) {
      counts.runningInjectedFailures++;
      return Promise.reject(new Error('injected: RUNNING report rejected'));
    }
    counts.runningDelivered++;
    return undefined;
  }

  function finalReport(i: number, report: StatusReport, given: AbortSignal | undefined): void | Promise<void> {
    const tryNumber = inc(state.finalTries, i) - 1;
    if (tryNumber === 0) {
      state.firstFinalReportTime[i] = report.reportTime;
      state.firstReports.set(i, report);
    } else if (report.reportTime !== state.firstFinalReportTime[i]) {
      violation(`${idOf(i)}: final report try ${tryNumber} carries another reportTime than the first`);
    }
    if (tryNumber > finalReportRetries) violation(`${idOf(i)}: final report tried ${tryNumber + 1} times (retries: ${finalReportRetries})`);
    if ((state.finalDelivered[i] ?? 0) > 0) violation(`${idOf(i)}: final report tried again after it was delivered`);
    if (!(report.reportTime > (state.lastRunningReportTime[i] ?? 0))) {
      violation(`${idOf(i)}: final reportTime ${report.reportTime} not after RUNNING ${state.lastRunningReportTime[i]}`);
    }
    if (!(given instanceof AbortSignal) || given.aborted) violation(`${idOf(i)}: final report try without a live AbortSignal`);
    const signal = given ?? new AbortController().signal;
    const fault = finalFault(i, tryNumber);
    bump(counts.faults, fault);
    const deliver = (): void => {
      inc(state.finalDelivered, i);
    };
    switch (fault) {
      case 'ok':
        deliver();
        return undefined;
      case 'slow':
        return new Promise((resolve) => state.later(5 + Math.floor(hash01(i, tryNumber, 3) * 31), () => {
          // Under load the runtime's timeout may run out first: then this answer is not taken.
          if (signal.aborted) counts.slowTimedOut++;
          else deliver();
          resolve();
        }));
      case 'throw':
        throw new Error('injected: final report threw');
      case 'reject':
        return new Promise((_, reject) => state.later(Math.floor(hash01(i, tryNumber, 3) * 21), () => reject(new Error('injected: final report rejected'))));
      case 'hang':
        counts.hangs++;
        signal.addEventListener('abort', () => counts.hangsAborted++, { once: true });
        return new Promise(() => {});
      case 'late':
        return new Promise((resolve) => state.later(reportTimeoutMs + 20 + Math.floor(hash01(i, tryNumber, 3) * 41), () => {
          counts.lateAnswers++;
          if (!signal.aborted) violation(`${idOf(i)}: an answer ${reportTimeoutMs}+ ms late was still awaited (reportTimeoutMs ${reportTimeoutMs})`);
          resolve();
        }));
    }
  }

  return {
    // Two parameters: the runtime passes a signal only to a report() that declares one.
    report(report: StatusReport, signal?: AbortSignal): void | Promise<void> {
      const i = state.indexOf(report.instanceId);
      if (i < 0) return undefined;
      // Code an instance left behind sets progress 'left behind n': no instance's report may ever carry it.
      if (typeof report.progress === 'string' && report.progress.startsWith('left behind')) {
        violation(`${state.idOf(i)}: its report carries progress set by code another instance left behind: ${report.progress}`);
      }
      if (report.status === InstanceStatus.RUNNING) return runningReport(i, report);
      return finalReport(i, report, signal);
    },
  };
}
