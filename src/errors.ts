// The package's errors: one class and one stable `code` per cause. Match on `code` (or `instanceof`), never on text.
import { OutcomeStatus, type OutcomeReason } from './status.js';
import type { Outcome } from './outcome.js';

/**
 * The base of every error this package throws or rejects with: a refused request, a report that could not be
 * delivered or timed out, `run()`'s failed instance, a BullMQ job's failure (a job failed for good carries it as the
 * `cause` of BullMQ's `UnrecoverableError`). Bad options throw a plain `TypeError` or `RangeError` instead. `code` is
 * stable; the message is for people.
 */
export class TaskTrackerError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The request fields that carry data to the job, each checked, limited and snapshotted on its own. */
export type ParamsField = 'jobParams' | 'instanceParams' | 'childrenValues';

/** An instance with this id is still live in the runtime. */
export class DuplicateInstanceError extends TaskTrackerError {
  readonly instanceId: string;
  constructor(instanceId: string) {
    super('ERR_DUPLICATE_INSTANCE', `instance "${instanceId}" is already live in this runtime`);
    this.instanceId = instanceId;
  }
}

/** The runtime already holds `maxInstances` live instances. */
export class AdmissionLimitError extends TaskTrackerError {
  readonly limit: number;
  constructor(limit: number) {
    super('ERR_ADMISSION_LIMIT', `the runtime already holds its limit of ${limit} live instances (maxInstances)`);
    this.limit = limit;
  }
}

/** The request names a processor that is not in the runtime's registry (or gives no string name at all). */
export class UnknownProcessorError extends TaskTrackerError {
  readonly processor: unknown;
  constructor(processor: unknown) {
    super('ERR_UNKNOWN_PROCESSOR', `no processor named ${describeValue(processor)} in the registry; only registered names are accepted, never paths or URLs`);
    this.processor = processor;
  }
}

/** `timeoutMs` is not a positive finite number. */
export class InvalidTimeoutError extends TaskTrackerError {
  readonly value: unknown;
  constructor(value: unknown) {
    super('ERR_INVALID_TIMEOUT', `timeoutMs must be a positive finite number of milliseconds, got ${describeValue(value)}`);
    this.value = value;
  }
}

/** `maxRetries` is not a non-negative whole number. */
export class InvalidRetriesError extends TaskTrackerError {
  readonly value: unknown;
  constructor(value: unknown) {
    super('ERR_INVALID_RETRIES', `maxRetries must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, got ${describeValue(value)}`);
    this.value = value;
  }
}

/**
 * `jobParams`, `instanceParams` or `childrenValues` cannot be cloned (`v8.serialize`: a function, a symbol, a
 * WeakMap, a Proxy, a Node object whose state Node holds (a Blob or File, a BlockList, a SocketAddress, a web stream,
 * a CryptoKey: on every Node version), a MessagePort not marked with `move()`, a getter that
 * throws…), so it could never reach a worker. `cause` holds the clone error.
 */
export class ParamsNotCloneableError extends TaskTrackerError {
  readonly field: ParamsField;
  constructor(field: ParamsField, cause: unknown) {
    super('ERR_PARAMS_NOT_CLONEABLE', `${field} cannot be cloned: ${errorText(cause)}`, { cause });
    this.field = field;
  }
}

/**
 * `jobParams` or `instanceParams` is larger than `maxParamsBytes`. `bytes` is its size as counted: the length of
 * its `v8.serialize` output, or 2 bytes per UTF-16 code unit for a string; `limit` is `maxParamsBytes`. The message
 * says how to pass such data instead: its bytes in buffers marked with `move()` (moved, not copied, and not counted),
 * or a reference (a path, a key) to where it is.
 */
export class ParamsTooLargeError extends TaskTrackerError {
  readonly field: ParamsField;
  readonly bytes: number;
  readonly limit: number;
  constructor(field: ParamsField, bytes: number, limit: number) {
    super(
      'ERR_PARAMS_TOO_LARGE',
      `${field} takes ${bytes} bytes, over the limit of ${limit} (maxParamsBytes): put its bulk in buffers marked with move() ` +
        '(moved to the worker without a copy, and not counted), or pass a reference to where the data is (a path, a key)',
    );
    this.field = field;
    this.bytes = bytes;
    this.limit = limit;
  }
}

/**
 * `jobParams`, `instanceParams` or `childrenValues` holds a buffer marked with `move()` that is already detached
 * (moved before, most likely to another instance): it has no bytes left to send.
 */
export class DetachedBufferError extends TaskTrackerError {
  readonly field: ParamsField;
  constructor(field: ParamsField, what: string) {
    super('ERR_DETACHED_BUFFER', `${field} holds ${what}: it was moved already and has no bytes left`);
    this.field = field;
  }
}

/** The request is not of the expected shape (not an object, an id of the wrong type, a signal that is no AbortSignal…). */
export class InvalidRequestError extends TaskTrackerError {
  readonly field: string;
  constructor(field: string, message: string, options?: ErrorOptions) {
    super('ERR_INVALID_REQUEST', `${field}: ${message}`, options);
    this.field = field;
  }
}

/** The runtime is closing or closed and takes no new work. */
export class RuntimeClosedError extends TaskTrackerError {
  constructor() {
    super('ERR_RUNTIME_CLOSED', 'the runtime is closed and takes no new instances');
  }
}

/**
 * No worker of the pool can boot (its heap cap, `resourceLimits`, is too small for a thread to start, or the
 * package's worker entry cannot be loaded): what `ready()` rejects with. Every instance waiting for a worker, and
 * every one submitted after, ends FAILED with reason `WORKER_BOOT_FAILED`. `cause` is the worker's error, if it
 * gave one.
 */
export class WorkerBootError extends TaskTrackerError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_WORKER_BOOT_FAILED', message, options);
  }
}

/**
 * A report's try outlasted its time (`reportTimeoutMs`; an `HttpReporter` request, its `timeoutMs`): the reason
 * its `signal` aborts with, and what the try fails with.
 */
export class TimeoutError extends TaskTrackerError {
  constructor(message: string) {
    super('ERR_TIMEOUT', message);
  }
}

/** A report could not be delivered (HTTP reporter: a non-2xx answer, a timeout, a network error). */
export class ReportDeliveryError extends TaskTrackerError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_REPORT_DELIVERY', message, options);
  }
}

/**
 * `runtime.run()`'s rejection: the instance did not succeed. `code` is `ERR_INSTANCE_FAILED` (status FAILED) or
 * `ERR_INSTANCE_STOPPED` (status STOPPED); `outcome` is the whole outcome, `reason` its reason. When the caller's
 * `signal` stopped it, `cause` is the signal's reason (what was given to `abort(reason)`).
 */
export class InstanceError extends TaskTrackerError {
  readonly instanceId: string;
  readonly outcome: Outcome;
  readonly reason: OutcomeReason;
  constructor(instanceId: string, outcome: Outcome) {
    super(
      outcome.status === OutcomeStatus.STOPPED ? 'ERR_INSTANCE_STOPPED' : 'ERR_INSTANCE_FAILED',
      `instance "${instanceId}" ended ${outcome.status} (${outcome.reason}${outcome.stoppedBy === undefined ? '' : `, stopped by ${outcome.stoppedBy}`}): ${outcome.result}`,
      // The caller's own abort reason, as fetch() and the other AbortSignal users give it back.
      outcome.stoppedBy === 'signal' ? { cause: outcome.abortReason } : undefined,
    );
    this.instanceId = instanceId;
    this.outcome = outcome;
    this.reason = outcome.reason;
  }
}

const MAX_SHOWN = 80;
const BIGINT_SHOWN = 10n ** 30n;

/**
 * A short text for any value a caller passed, for an error message. Never runs the caller's code (no `toString`,
 * no getter, no Proxy trap) and never throws: a hostile value must still get its typed error.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value.length <= MAX_SHOWN ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, MAX_SHOWN))}… (${value.length} characters)`;
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'bigint':
      // A huge bigint's decimal text costs more than quadratic time: print only small ones.
      return value > -BIGINT_SHOWN && value < BIGINT_SHOWN ? `${value}n` : 'a large bigint';
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      return value === null ? 'null' : 'an object';
  }
}

// The text of a clone error, for a message, kept short: V8's clone error quotes the value (a function's whole
// source). Never throws: what a getter of the caller's params threw arrives here too (a Proxy, anything).
function errorText(cause: unknown): string {
  let text: string;
  try {
    text = cause instanceof Error && typeof cause.message === 'string' ? cause.message : describeValue(cause);
  } catch {
    text = describeValue(cause);
  }
  return text.length <= 4 * MAX_SHOWN ? text : `${text.slice(0, 4 * MAX_SHOWN)}…`;
}
