// Status names, as the reference names them, so they read the same in logs, reports and code.

/** A tracker's state (PowerJob `TaskStatus`). */
export const TaskStatus = Object.freeze({
  /** Accepted, waiting for a worker. */
  WORKER_RECEIVED: 'WORKER_RECEIVED',
  /** An attempt has started in a worker. */
  WORKER_PROCESSING: 'WORKER_PROCESSING',
  WORKER_PROCESS_SUCCESS: 'WORKER_PROCESS_SUCCESS',
  WORKER_PROCESS_FAILED: 'WORKER_PROCESS_FAILED',
} as const);
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

/**
 * An instance's status as the scheduler sees it (PowerJob `InstanceStatus`): what a report carries (`RUNNING`, then
 * `SUCCEED` or `FAILED`) and what a running-status query answers, `STOPPED` included (a stopped instance is never
 * reported).
 */
export const InstanceStatus = Object.freeze({
  RUNNING: 'RUNNING',
  SUCCEED: 'SUCCEED',
  FAILED: 'FAILED',
  /** Stopped (before its start or while it ran): only a running-status answer says it. */
  STOPPED: 'STOPPED',
} as const);
export type InstanceStatus = (typeof InstanceStatus)[keyof typeof InstanceStatus];

/** How an instance ended, as `tracker.done` tells it. A stopped instance is never reported. */
export const OutcomeStatus = Object.freeze({
  SUCCEED: 'SUCCEED',
  FAILED: 'FAILED',
  STOPPED: 'STOPPED',
} as const);
export type OutcomeStatus = (typeof OutcomeStatus)[keyof typeof OutcomeStatus];

/** Why an instance ended: a stable code to match on, where `result` is text for people. */
export const OutcomeReason = Object.freeze({
  /** The processor returned `{ success: true }`. */
  SUCCEEDED: 'SUCCEEDED',
  /** The processor returned `{ success: false }`. */
  PROCESSOR_FAILED: 'PROCESSOR_FAILED',
  /** The processor threw; `result` is the error's text. */
  PROCESSOR_THREW: 'PROCESSOR_THREW',
  /** The processor returned null or undefined. */
  PROCESSOR_RETURNED_NULL: 'PROCESSOR_RETURNED_NULL',
  /** The processor module could not be loaded, or exports no processor. */
  PROCESSOR_LOAD_FAILED: 'PROCESSOR_LOAD_FAILED',
  /** The processor succeeded, but its `value` cannot be cloned (a function, a symbol, a WeakMap…): `result` names it. */
  VALUE_NOT_CLONEABLE: 'VALUE_NOT_CLONEABLE',
  /** The worker died under the attempt: `process.exit`, an uncaught error, the heap cap. */
  WORKER_DIED: 'WORKER_DIED',
  /** No worker can boot (`resourceLimits` too small, a broken install): the processor never ran. */
  WORKER_BOOT_FAILED: 'WORKER_BOOT_FAILED',
  /** The timeout interrupted the processor and it gave up. */
  TIMEOUT_INTERRUPTED: 'TIMEOUT_INTERRUPTED',
  /** The timeout interrupted the processor, it did not finish within the grace, and its worker was terminated. */
  TIMEOUT_FORCE_STOPPED: 'TIMEOUT_FORCE_STOPPED',
  /** The attempt stalled (no heartbeat for `heartbeatTimeoutMs`), was interrupted and gave up; retried while retries remain. */
  HEARTBEAT_TIMEOUT_INTERRUPTED: 'HEARTBEAT_TIMEOUT_INTERRUPTED',
  /** The attempt stalled, did not finish within the grace, and its worker was terminated; retried while retries remain. */
  HEARTBEAT_TIMEOUT_FORCE_STOPPED: 'HEARTBEAT_TIMEOUT_FORCE_STOPPED',
  /** A stop interrupted the processor and it gave up. */
  STOP_INTERRUPTED: 'STOP_INTERRUPTED',
  /** A stop interrupted the processor, it did not finish within the grace, and its worker was terminated. */
  STOP_FORCE_STOPPED: 'STOP_FORCE_STOPPED',
  /** Stopped while still queued: the processor never ran. */
  STOPPED_BEFORE_START: 'STOPPED_BEFORE_START',
  /** Stopped while running, and the processor finished on its own after the stop. */
  STOPPED: 'STOPPED',
  /**
   * A stream processor (an async generator function) run by `submit()`, `run()` or `map()`, or a processor that is
   * none run by `runtime.stream()`: it never ran, and `result` names the call to use.
   */
  PROCESSOR_KIND_MISMATCH: 'PROCESSOR_KIND_MISMATCH',
} as const);
export type OutcomeReason = (typeof OutcomeReason)[keyof typeof OutcomeReason];

/** The result texts the tracker writes itself (PowerJob `SystemInstanceResult`). */
export const SystemResult = Object.freeze({
  TIMEOUT_INTERRUPTED: 'instance execute timeout,interrupted success',
  TIMEOUT_FORCE_STOPPED: 'instance execute timeout,force stop success',
  STOP_INTERRUPTED: 'user stop instance,interrupted success',
  STOP_FORCE_STOPPED: 'user stop instance,force stop success',
  /** Its worker was terminated, and its thread had not exited STUCK_THREAD_MS later (blocked in a system call). */
  TIMEOUT_FORCE_STOP_STUCK: 'instance execute timeout,force stop requested; thread still blocked',
  STOP_FORCE_STOP_STUCK: 'user stop instance,force stop requested; thread still blocked',
  STOPPED_BEFORE_START: 'user stop instance,never started',
  HEARTBEAT_TIMEOUT_INTERRUPTED: 'instance stalled: no heartbeat within heartbeatTimeoutMs,interrupted success',
  HEARTBEAT_TIMEOUT_FORCE_STOPPED: 'instance stalled: no heartbeat within heartbeatTimeoutMs,force stop success',
  HEARTBEAT_TIMEOUT_FORCE_STOP_STUCK: 'instance stalled: no heartbeat within heartbeatTimeoutMs,force stop requested; thread still blocked',
  PROCESSOR_RETURNED_NULL: 'Processor return null',
} as const);
