// The PowerJob status views of one instance: its TaskStatus (WORKER_RECEIVED → WORKER_PROCESSING →
// WORKER_PROCESS_SUCCESS | WORKER_PROCESS_FAILED) and the scheduler's running-status answer (`InstanceDetail`).
import type { Decision } from './outcome.js';
import type { RunningStatus } from './report.js';
import { InstanceStatus, OutcomeStatus, TaskStatus } from './status.js';

/** The TaskStatus of an instance that has `started` or not, and has ended with `decision` (undefined: not yet). */
export function taskStatusOf(started: boolean, decision: Decision | undefined): TaskStatus {
  if (!started) return TaskStatus.WORKER_RECEIVED;
  if (decision === undefined) return TaskStatus.WORKER_PROCESSING;
  return decision.succeeded ? TaskStatus.WORKER_PROCESS_SUCCESS : TaskStatus.WORKER_PROCESS_FAILED;
}

/** The scheduler's running-status answer. A stopped instance, before its start or while it ran, says so. */
export function runningStatusOf(taskStatus: TaskStatus, decision: Decision | undefined, triggerTime: number, address: string): RunningStatus {
  const succeeded = taskStatus === TaskStatus.WORKER_PROCESS_SUCCESS;
  const failed = taskStatus === TaskStatus.WORKER_PROCESS_FAILED;
  const stopped = decision?.status === OutcomeStatus.STOPPED;
  return {
    actualTriggerTime: triggerTime,
    status: stopped ? InstanceStatus.STOPPED : succeeded ? InstanceStatus.SUCCEED : failed ? InstanceStatus.FAILED : InstanceStatus.RUNNING,
    taskTrackerAddress: address,
    taskDetail: { totalTaskNum: 1, succeedTaskNum: succeeded ? 1 : 0, failedTaskNum: failed ? 1 : 0 },
  };
}
