// The names an instance span is written with: its attributes and its events, as frozen constants so that queries,
// dashboards and tests can name them without spelling them out.

/** The attributes of an instance span. */
export const SpanAttribute = Object.freeze({
  /** The instance's id (set at submit). */
  INSTANCE_ID: 'light_task_tracker.instance_id',
  /** The processor's registry name; the span is named after it too (set at submit). */
  PROCESSOR: 'light_task_tracker.processor',
  /** The instance's `timeoutMs`, when it has one (set at submit). */
  TIMEOUT_MS: 'light_task_tracker.timeout_ms',
  /** The instance's `maxRetries` (set at submit). */
  MAX_RETRIES: 'light_task_tracker.max_retries',
  /** Attempts started: 0 when it never ran, 1 + retries otherwise (set at the end). */
  ATTEMPTS: 'light_task_tracker.attempts',
  /** From the submit to the first attempt's start, in whole ms; absent when no attempt started (set at the end). */
  WAIT_MS: 'light_task_tracker.wait_ms',
  /** The outcome's status: SUCCEED, FAILED or STOPPED (set at the end). */
  OUTCOME_STATUS: 'light_task_tracker.outcome.status',
  /** The outcome's reason, a stable code: SUCCEEDED, PROCESSOR_FAILED, TIMEOUT_FORCE_STOPPED, … (set at the end). */
  OUTCOME_REASON: 'light_task_tracker.outcome.reason',
  /** The outcome's result text, cut to `maxResultLength` (set at the end). */
  OUTCOME_RESULT: 'light_task_tracker.outcome.result',
  /** The OpenTelemetry convention's error class: the outcome's reason, on a FAILED instance only. */
  ERROR_TYPE: 'error.type',
  /** Event attribute: the attempt the event is about (1, 2, …). */
  ATTEMPT: 'light_task_tracker.attempt',
  /** Event attribute of `interrupt` and `force-stop`: why, `stop`, `timeout` or `heartbeat`. */
  CAUSE: 'light_task_tracker.cause',
  /** The `force-stop` event's: where the attempt's thread was (`outcome.stack`), when captured. */
  STACK: 'light_task_tracker.stack',
  /** Event attribute of `retry`: why the attempt before failed (an outcome reason). */
  REASON: 'light_task_tracker.reason',
  /** Event attribute of `retry`: the failed attempt's result text, cut to `maxResultLength`. */
  RESULT: 'light_task_tracker.result',
} as const);
export type SpanAttribute = (typeof SpanAttribute)[keyof typeof SpanAttribute];

/** The events of an instance span, each at the time the runtime published it. */
export const SpanEvent = Object.freeze({
  /** The running attempt was interrupted (its flag set, its signal aborted). */
  INTERRUPT: 'interrupt',
  /** The attempt did not finish within its grace: its worker is being terminated. */
  FORCE_STOP: 'force-stop',
  /** An attempt failed and the next one is handed to the pool; its `attempt` is the next one's. */
  RETRY: 'retry',
} as const);
export type SpanEvent = (typeof SpanEvent)[keyof typeof SpanEvent];
