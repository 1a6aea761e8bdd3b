// The main-thread API: `import { TaskRuntime } from 'light-task-tracker'`.
export {
  TaskRuntime,
  type RuntimeStats,
  type RuntimeCloseOptions,
  type RunOptions,
  type RunArguments,
  type ProcessorModule,
  type ProcessorModules,
  type ParamsOf,
  type ValueOf,
  type ProgressOf,
  type ChunkOf,
  type CheckpointOf,
  type RunName,
  type StreamName,
} from './runtime.js';
export { Tracker } from './tracker.js';
export type { Outcome, StoppedBy } from './outcome.js';
export type { MapResults } from './map.js';
export type { MapItems, MapSettled, MapProgress } from './map-types.js';
export type { MapOptions } from './map-options.js';
export type { StreamResults } from './stream.js';
export type { StreamOptions } from './stream-options.js';
export { defaultOptions, type TaskRuntimeOptions, type ProcessorLogLine, type ProgressEvent, type CheckpointEvent, type RecycleWorkers } from './options.js';
export { move } from './move.js';
export type { MetricsSnapshot, ProcessorMetrics, Distribution } from './metrics.js';
export {
  channels,
  type InstanceMessage,
  type SubmitMessage,
  type StartMessage,
  type InterruptMessage,
  type ForceStopMessage,
  type RetryMessage,
  type EndMessage,
  type WorkerMessage,
  type RetireMessage,
} from './channels.js';
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
  TimeoutError,
  DetachedBufferError,
  InstanceError,
  MapInstanceError,
  MapItemRefusedError,
  WorkerBootError,
  type ParamsField,
} from './errors.js';
