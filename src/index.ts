// The main-thread API: `import { TaskRuntime } from 'light-task-tracker'`.
export { TaskRuntime, type RuntimeStats, type RuntimeCloseOptions } from './runtime.js';
export { Tracker, type Outcome } from './tracker.js';
export { defaultOptions, type TaskRuntimeOptions, type ProcessorLogLine } from './options.js';
export type { SubmitRequest } from './request.js';
export type { Reporter, StatusReport, RunningStatus } from './report.js';
export { MemoryReporter } from './reporters/memory.js';
export { HttpReporter, type HttpReporterOptions } from './reporters/http.js';
export { TaskStatus, InstanceStatus, OutcomeStatus, OutcomeReason, SystemResult } from './status.js';
export {
  TaskTrackerError,
  DuplicateInstanceError,
  AdmissionLimitError,
  UnknownProcessorError,
  InvalidTimeoutError,
  InvalidRetriesError,
  ParamsNotCloneableError,
  ParamsTooLargeError,
  InvalidRequestError,
  RuntimeClosedError,
  ReportDeliveryError,
} from './errors.js';
