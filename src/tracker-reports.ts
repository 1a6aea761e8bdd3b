// One instance's reports to its scheduler: the RUNNING report each period while it runs, and its final report, whose
// delivery the tracker outlives (it is destroyed once the report is delivered or given up).
import type { Logger } from 'pino';
import type { Decision } from './outcome.js';
import type { ResolvedOptions } from './options.js';
import { cutResult, type StatusReport } from './report.js';
import { InstanceStatus } from './status.js';

/** What the reports need of the runtime. */
export interface ReportHost {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  /** Sends a RUNNING report; failures are logged, not retried (the next period sends a fresher one). */
  reportRunning(report: StatusReport): void;
  /** Delivers a final report with retries; never rejects; undefined when delivered synchronously. */
  reportFinal(report: StatusReport): Promise<void> | undefined;
}

/** The instance as its reports tell it. */
export interface ReportView {
  readonly instanceId: string;
  readonly jobId: string | number | undefined;
  readonly wfInstanceId: string | number | undefined;
  /** How it ended; undefined while it runs. */
  readonly decision: Decision | undefined;
  readonly startTime: number | null;
  readonly endTime: number | null;
  readonly appended: Record<string, unknown> | undefined;
  readonly progress: unknown;
}

export class InstanceReports {
  readonly #host: ReportHost;
  readonly #createTime: number;
  // When the next RUNNING report is due (epoch ms); the runtime's one report ticker asks every tracker.
  #nextReportAt: number;
  #lastReportTime = 0;

  constructor(host: ReportHost, createTime: number) {
    this.#host = host;
    this.#createTime = createTime;
    const period = host.options.statusReportIntervalMs;
    // Spread over the period's middle third, so that instances submitted together do not report together.
    this.#nextReportAt = createTime + period / 3 + Math.random() * (period / 3);
  }

  /** Sends the RUNNING report if one is due at `now`. */
  tick(now: number, view: () => ReportView): void {
    if (now < this.#nextReportAt) return;
    const report = this.#build(view(), false);
    this.#lastReportTime = report.reportTime;
    this.#nextReportAt = Math.max(this.#nextReportAt + this.#host.options.statusReportIntervalMs, now);
    this.#host.reportRunning(report);
  }

  /** Delivers the final report, then calls `then`, whatever happened to the delivery. */
  deliverFinal(view: ReportView, then: () => void): void {
    let delivering: Promise<void> | undefined;
    try {
      delivering = this.#host.reportFinal(this.#build(view, true));
    } catch (error) {
      this.#onBroken(view.instanceId, error);
    }
    // The host's delivery never rejects; should it all the same, the tracker must still go (not leak).
    if (delivering === undefined) then();
    else void delivering.then(then, (error: unknown) => {
      this.#onBroken(view.instanceId, error);
      then();
    });
  }

  #onBroken(instanceId: string, error: unknown): void {
    this.#host.logger.error({ instanceId, err: error }, 'final report delivery failed outside its retries');
  }

  #build(view: ReportView, final: boolean): StatusReport {
    const decision = final ? view.decision : undefined;
    const succeeded = decision?.succeeded === true;
    const failed = decision !== undefined && !succeeded;
    const options = this.#host.options;
    const now = Date.now();
    return {
      instanceId: view.instanceId,
      jobId: view.jobId,
      wfInstanceId: view.wfInstanceId,
      status: succeeded ? InstanceStatus.SUCCEED : failed ? InstanceStatus.FAILED : InstanceStatus.RUNNING,
      result: decision !== undefined ? cutResult(decision.text, options.maxResultLength) : '',
      triggerTime: this.#createTime,
      startTime: view.startTime,
      endTime: final ? view.endTime : null,
      // A final report is stamped later than every RUNNING one, so a receiver ordering by time keeps it.
      reportTime: final ? Math.max(now, this.#lastReportTime) + 1 : now,
      sourceAddress: options.address,
      totalTaskNum: 1,
      succeedTaskNum: succeeded ? 1 : 0,
      failedTaskNum: failed ? 1 : 0,
      appendedWfContext: final && view.wfInstanceId !== undefined ? { ...view.appended } : undefined,
      progress: view.progress,
    };
  }
}

/** The tracker's last line, at info: its status and times. */
export function logDestroyed(logger: Logger, view: ReportView, status: string, createTime: number): void {
  if (!logger.isLevelEnabled('info')) return;
  const { startTime, endTime } = view;
  logger.info(
    {
      instanceId: view.instanceId,
      status,
      startTime,
      endTime,
      queueMs: startTime === null ? null : startTime - createTime,
      runMs: startTime === null || endTime === null ? null : endTime - startTime,
      totalMs: Date.now() - createTime,
    },
    'tracker destroyed',
  );
}
