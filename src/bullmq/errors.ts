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

/**
 * The job's instance was stopped (`stopJob`, `worker.cancelJob`): it fails as cancelled, without further attempts.
 * Its message is the outcome's `result`, then the stack of a force-stopped attempt where there is one.
 */
export class JobStoppedError extends TaskTrackerError {
  readonly outcome: Outcome;
  constructor(outcome: Outcome) {
    super('ERR_JOB_STOPPED', reasonText(outcome));
    this.outcome = outcome;
    showProcessorStack(this, outcome);
  }
}

/**
 * The job's instance ended FAILED. Its message is the outcome's `result` text, then, for a force-stopped attempt,
 * the stack its thread was stopped at (`outcome.stack`): that is the job's `failedReason`. BullMQ's `attempts` and
 * `backoff` apply as configured.
 */
export class JobFailedError extends TaskTrackerError {
  readonly outcome: Outcome;
  /** The outcome's reason: `PROCESSOR_FAILED`, `TIMEOUT_FORCE_STOPPED`, … */
  readonly reason: Outcome['reason'];
  constructor(outcome: Outcome) {
    super('ERR_JOB_FAILED', reasonText(outcome));
    this.outcome = outcome;
    this.reason = outcome.reason;
    showProcessorStack(this, outcome);
  }
}

/** A job's failed reason: the outcome's result, and on the lines after it where a force-stopped thread was. */
function reasonText(outcome: Outcome): string {
  return outcome.stack === undefined ? outcome.result : `${outcome.result}\n${outcome.stack}`;
}

// BullMQ keeps an error's `stack` as the job's `stacktrace`: for a force-stopped attempt, the processor's frames (in
// the message already) say more than the consumer's own.
function showProcessorStack(error: Error, outcome: Outcome): void {
  if (outcome.stack !== undefined) error.stack = `${error.name}: ${error.message}`;
}

/**
 * The error handed to BullMQ for a job that must not be tried again: an `UnrecoverableError` (the only kind BullMQ
 * never retries) whose message starts with the typed error's code, e.g. `ERR_JOB_STOPPED: user stop instance,…`,
 * since a job's `failedReason` keeps only the text. `cause` is the typed error.
 */
export function unrecoverable(error: TaskTrackerError): UnrecoverableError {
  const wrapped = new UnrecoverableError(`${error.code}: ${error.message}`);
  if ('outcome' in error) showProcessorStack(wrapped, error.outcome as Outcome);
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
