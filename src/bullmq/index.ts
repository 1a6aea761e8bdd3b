// The BullMQ entry: `import { startConsumer, stopJob } from 'light-task-tracker/bullmq'`. Needs `bullmq` and
// `ioredis` installed; the main entry never loads them.
export { startConsumer, Consumer, type ConsumerCloseOptions } from './consumer.js';
export { stopJob, DEFAULT_STOP_MARK_TTL_MS, type StopJobOptions } from './control.js';
export { defaultConsumerOptions, type ConsumerOptions, type ConsumerWorkerOptions, type QueueLocation } from './options.js';
export type { TaskJobData } from './job-data.js';
export type { TaskJobProgress } from './active-job.js';
export { InvalidJobDataError, JobStoppedError, JobFailedError, JobValueError } from './errors.js';
