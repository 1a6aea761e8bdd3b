// Every error `submit()` throws, one class and one stable `code` per cause. Match on `code`, never on text.

/** The base of every error this package throws for a refused request. */
export class TaskTrackerError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

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

/** The request names a processor that is not in the runtime's registry. */
export class UnknownProcessorError extends TaskTrackerError {
  readonly processor: unknown;
  constructor(processor: unknown) {
    super('ERR_UNKNOWN_PROCESSOR', `no processor named ${JSON.stringify(String(processor))} in the registry; only registered names are accepted, never paths or URLs`);
    this.processor = processor;
  }
}

/** `timeoutMs` is not a positive finite number. */
export class InvalidTimeoutError extends TaskTrackerError {
  readonly value: unknown;
  constructor(value: unknown) {
    super('ERR_INVALID_TIMEOUT', `timeoutMs must be a positive finite number of milliseconds, got ${String(value)}`);
    this.value = value;
  }
}

/** `maxRetries` is not a non-negative whole number. */
export class InvalidRetriesError extends TaskTrackerError {
  readonly value: unknown;
  constructor(value: unknown) {
    super('ERR_INVALID_RETRIES', `maxRetries must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, got ${String(value)}`);
    this.value = value;
  }
}

/** `jobParams` or `instanceParams` cannot be structured-cloned, so it could never reach a worker. */
export class ParamsNotCloneableError extends TaskTrackerError {
  readonly field: 'jobParams' | 'instanceParams';
  constructor(field: 'jobParams' | 'instanceParams', cause: unknown) {
    super('ERR_PARAMS_NOT_CLONEABLE', `${field} cannot be structured-cloned: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.field = field;
  }
}

/** The request is not of the expected shape (not an object, an id of the wrong type, a signal that is no AbortSignal…). */
export class InvalidRequestError extends TaskTrackerError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('ERR_INVALID_REQUEST', `${field}: ${message}`);
    this.field = field;
  }
}

/** The runtime is closing or closed and takes no new work. */
export class RuntimeClosedError extends TaskTrackerError {
  constructor() {
    super('ERR_RUNTIME_CLOSED', 'the runtime is closed and takes no new instances');
  }
}

/** A report could not be delivered (HTTP reporter: a non-2xx answer, a timeout, a network error). */
export class ReportDeliveryError extends TaskTrackerError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_REPORT_DELIVERY', message, options);
  }
}
