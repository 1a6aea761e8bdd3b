// What the tracker tells the scheduler: the status report (PowerJob `TaskTrackerReportInstanceStatusReq`)
// and the running-status answer (PowerJob `InstanceDetail`).
import type { InstanceStatus } from './status.js';

/** One status report. Times are epoch milliseconds. */
export interface StatusReport {
  readonly instanceId: string;
  readonly jobId: string | number | undefined;
  readonly wfInstanceId: string | number | undefined;
  /** `RUNNING`, then `SUCCEED` or `FAILED`: a stopped instance is not reported. */
  readonly status: typeof InstanceStatus.RUNNING | typeof InstanceStatus.SUCCEED | typeof InstanceStatus.FAILED;
  /** The outcome's message cut to `maxResultLength` with "..." appended where cut; empty while RUNNING. */
  readonly result: string;
  /** When the runtime accepted the instance. */
  readonly triggerTime: number;
  /** When the first attempt started; null while still queued. */
  readonly startTime: number | null;
  /** When the instance finished; null while RUNNING. */
  readonly endTime: number | null;
  /** When this report was made. A final report's time is later than every RUNNING report's of the same instance. */
  readonly reportTime: number;
  /** The runtime's `address`. */
  readonly sourceAddress: string;
  /** Always 1: a light task is one task. */
  readonly totalTaskNum: 1;
  readonly succeedTaskNum: 0 | 1;
  readonly failedTaskNum: 0 | 1;
  /** What the processor appended to the workflow context; only for workflow instances with a final status. */
  readonly appendedWfContext: Record<string, unknown> | undefined;
  /** The latest progress value the processor reported (`ctx.progress`); undefined before the first. */
  readonly progress?: unknown;
}

/** Receives status reports. A final report is retried until `report` returns (or resolves) without throwing. */
export interface Reporter {
  /**
   * Delivers one report. Throwing or rejecting means "not delivered".
   * `signal` aborts when the runtime gives up on this call: a final report's try outlasting `reportTimeoutMs`, or
   * close()'s `reportDeadlineMs` passing. Stop the work it started then.
   */
  report(report: StatusReport, signal?: AbortSignal): void | Promise<void>;
}

/** A tracker's answer to the scheduler's running-status query. */
export interface RunningStatus {
  /** When the runtime accepted the instance (epoch ms). */
  readonly actualTriggerTime: number;
  /** RUNNING until the instance has finished; then SUCCEED, FAILED or STOPPED, as its outcome's status. */
  readonly status: InstanceStatus;
  /** The runtime's `address`. */
  readonly taskTrackerAddress: string;
  /** The task's own end: for a stopped instance, whether its processor succeeded or failed (0 and 0 if it never ran). */
  readonly taskDetail: {
    readonly totalTaskNum: 1;
    readonly succeedTaskNum: 0 | 1;
    readonly failedTaskNum: 0 | 1;
  };
}

/** Cuts `text` to `maxLength` characters and marks the cut with "...". */
export function cutResult(text: string, maxLength: number): string {
  return text.length <= maxLength ? text : `${text.slice(0, maxLength)}...`;
}
