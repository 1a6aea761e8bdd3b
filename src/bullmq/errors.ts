// What a consumer throws, and what a BullMQ job fails with: one class and one stable `code` per cause.
import { UnrecoverableError } from 'bullmq';
import { TaskTrackerError } from '../errors.js';
import type { Outcome } from '../outcome.js';

/**
 * A job's data is not `{ processor, params?, timeoutMs?, maxRetries? }` as the runtime takes it (or it asks for
 * BullMQ `attempts` and `maxRetries` at once). `field` names the culprit; `cause` holds the runtime's own refusal
 * where there is one (`UnknownProcessorError`, `InvalidTimeoutError`, …). Such a job fails without further attempts.
 */
export class InvalidJobDataError extends TaskTrackerError {
  readonly field: string;
  constructor(field: string, message: string, options?: ErrorOptions) {
    super('ERR_INVALID_JOB_DATA', `job data ${field}: ${message}`, options);
    this.field = field;
  }
}

/** The job's instance was stopped (`stopJob`, `worker.cancelJob`): it fails as cancelled, without further attempts. */
export class JobStoppedError extends TaskTrackerError {
  readonly outcome: Outcome;
  constructor(outcome: Outcome) {
    super('ERR_JOB_STOPPED', outcome.result);
    this.outcome = outcome;
  }
}

/**
 * The job's instance ended FAILED. Its message is the outcome's `result` text, so that is the job's
 * `failedReason`; BullMQ's `attempts` and `backoff` apply as configured.
 */
export class JobFailedError extends TaskTrackerError {
  readonly outcome: Outcome;
  /** The outcome's reason: `PROCESSOR_FAILED`, `TIMEOUT_FORCE_STOPPED`, … */
  readonly reason: Outcome['reason'];
  constructor(outcome: Outcome) {
    super('ERR_JOB_FAILED', outcome.result);
    this.outcome = outcome;
    this.reason = outcome.reason;
  }
}

/**
 * The error handed to BullMQ for a job that must not be tried again: an `UnrecoverableError` (the only kind BullMQ
 * never retries) whose message starts with the typed error's code, e.g. `ERR_JOB_STOPPED: user stop instance,…`,
 * since a job's `failedReason` keeps only the text. `cause` is the typed error.
 */
export function unrecoverable(error: TaskTrackerError): UnrecoverableError {
  const wrapped = new UnrecoverableError(`${error.code}: ${error.message}`);
  Object.defineProperty(wrapped, 'cause', { value: error, configurable: true, writable: true });
  return wrapped;
}

/**
 * The job's instance succeeded, but its processor's `value` (or a part of it, at `path`) cannot be stored as the
 * job's return value: BullMQ keeps JSON, and JSON would not give back binary, a Map, a Date, NaN… The job fails
 * for good (the same value would come again): return where the data is instead (a file, a Redis key), or plain
 * JSON data.
 */
export class JobValueError extends TaskTrackerError {
  readonly outcome: Outcome;
  readonly path: string;
  readonly what: string;
  constructor(outcome: Outcome, path: string, what: string) {
    super('ERR_JOB_VALUE', `${path} is ${what}, which a BullMQ job's return value (stored as JSON) cannot hold`);
    this.outcome = outcome;
    this.path = path;
    this.what = what;
  }
}
