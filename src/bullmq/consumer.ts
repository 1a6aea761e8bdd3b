// A BullMQ worker whose jobs run through a TaskRuntime: concurrency = the runtime's threads, a job's outcome is its
// completion, a stop reaches it from any process, and close() hands unfinished jobs back to the queue.
import { Worker, WaitingError, type ConnectionOptions, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { checkDeadline } from '../checks.js';
import { describeValue, RuntimeClosedError, TaskTrackerError } from '../errors.js';
import { keySet, refuseUnknownOptions } from '../keys.js';
import { MAX_INT32 } from '../limits.js';
import { defaultLogger } from '../options.js';
import type { Reporter, StatusReport } from '../report.js';
import { InstanceStatus, OutcomeReason, OutcomeStatus } from '../status.js';
import { TaskRuntime } from '../runtime.js';
import type { Outcome } from '../outcome.js';
import { ActiveJob } from './active-job.js';
import { StopListener } from './control.js';
import { InvalidJobDataError, JobFailedError, JobStoppedError, JobValueError, unrecoverable } from './errors.js';
import { findNotJson } from './json-value.js';
import { dataFieldOf, readJobData, refusalText, type TaskJobData } from './job-data.js';
import { resolveConsumerOptions, type ConsumerOptions, type ResolvedConsumerOptions } from './options.js';

/** What `consumer.close()` takes. */
export interface ConsumerCloseOptions {
  /**
   * How long running jobs may go on (ms); then their instances are stopped (interrupt, force-stop after the
   * runtime's grace) and their jobs go back to the queue, not failed. 0 to 2^31-1.
   * @default the consumer's `closeDeadlineMs` (30000)
   */
  readonly deadlineMs?: number;
}

const CLOSE_OPTION_KEYS = keySet({ deadlineMs: true } satisfies Record<keyof ConsumerCloseOptions, true>);

/** The runtime's own ceiling on live instances, for the consumer's runtime, whose admission is BullMQ's. */
const MAX_LIVE_INSTANCES = MAX_INT32;


/**
 * Starts a consumer: a `TaskRuntime` and a BullMQ `Worker` on `options.queue` that runs every job through it.
 * Resolves once the worker is connected and listening for stops. A job's data is a `TaskJobData`.
 */
export async function startConsumer(options: ConsumerOptions): Promise<Consumer> {
  return Consumer[kOpen](options);
}

const kOpen = Symbol('open');

export class Consumer {
  /** The BullMQ worker: its events (`completed`, `failed`, `active`, …) are the application's to listen to. */
  readonly worker: Worker<TaskJobData, unknown>;
  /** The consumer's own runtime. */
  readonly runtime: TaskRuntime;
  /** Jobs run at once: the runtime's `maxThreads`. */
  readonly concurrency: number;
  readonly #options: ResolvedConsumerOptions;
  readonly #queue: string;
  readonly #logger: Logger;
  readonly #listener: StopListener;
  readonly #byJob = new Map<string, ActiveJob>();
  readonly #byInstance = new Map<string, ActiveJob>();
  #closing = false;
  #closed: Promise<void> | undefined;

  static async [kOpen](options: ConsumerOptions): Promise<Consumer> {
    const resolved = resolveConsumerOptions(options);
    const logger = options.runtime.logger ?? defaultLogger();
    let consumer: Consumer | undefined;
    const listener = await StopListener.open(
      options,
      (jobId) => {
        if (consumer !== undefined) consumer.#stopJob(jobId);
      },
      () => {
        // Stops published while the subscriber was away: look for their marks now.
        if (consumer !== undefined) for (const active of consumer.#byJob.values()) void consumer.#checkMark(active);
      },
      (error) => logger.warn({ err: error, queue: options.queue }, 'stop channel connection error'),
    );
    try {
      consumer = new Consumer(options, resolved, logger, listener);
    } catch (error) {
      await listener.close();
      throw error;
    }
    try {
      await consumer.worker.waitUntilReady();
    } catch (error) {
      await consumer.close({ deadlineMs: 0 });
      throw error;
    }
    return consumer;
  }

  private constructor(options: ConsumerOptions, resolved: ResolvedConsumerOptions, logger: Logger, listener: StopListener) {
    this.#options = resolved;
    this.#queue = options.queue;
    this.#logger = logger;
    this.#listener = listener;
    this.runtime = new TaskRuntime({
      ...options.runtime,
      // BullMQ's concurrency admits the jobs; instances awaiting their final report must not refuse the next one.
      maxInstances: MAX_LIVE_INSTANCES,
      logger,
      reporter: this.#reporter(options.runtime.reporter),
      onProcessorLog: (line) => {
        this.#byInstance.get(line.instanceId)?.log(line, resolved.maxJobLogLines);
        options.runtime.onProcessorLog?.(line);
      },
      onProgress: (event) => {
        this.#byInstance.get(event.instanceId)?.processorProgress(event.value);
        options.runtime.onProgress?.(event);
      },
      onCheckpoint: (event) => {
        this.#byInstance.get(event.instanceId)?.checkpoint(event.state);
        options.runtime.onCheckpoint?.(event);
      },
    });
    this.concurrency = this.runtime.maxThreads;
    try {
      // Three declared parameters: BullMQ passes its AbortSignal only to a processor that takes one.
      this.worker = new Worker<TaskJobData, unknown>(options.queue, (job, token, signal) => this.#process(job, token, signal), {
        name: this.runtime.address,
        ...resolved.worker,
        // ioredis' own options type is wider than BullMQ's copy of it; BullMQ hands them to ioredis unchanged.
        connection: options.connection as ConnectionOptions,
        prefix: resolved.prefix,
        concurrency: this.concurrency,
        autorun: true,
      });
    } catch (error) {
      void this.runtime.close();
      throw error;
    }
    this.worker.on('error', (error) => logger.warn({ err: error, queue: this.#queue }, 'BullMQ worker error'));
    // The lock is gone (another consumer may have the job by now): stop our run of it.
    // Its stop mark, if any, stays: the run BullMQ's stalled check starts next must still see it.
    this.worker.on('lockRenewalFailed', (jobIds) => {
      for (const jobId of jobIds) {
        const active = this.#byJob.get(jobId);
        if (active === undefined) continue;
        active.lockLost = true;
        active.stopper.abort();
      }
    });
  }

  /** Jobs running now. */
  get active(): number {
    return this.#byJob.size;
  }

  /**
   * Stops taking jobs, lets the running ones finish until the deadline, then stops them and returns their jobs to
   * the queue (they are not failed), and closes the worker, the runtime and the connections. Idempotent: a second
   * call returns the first one's promise. Afterwards nothing of the consumer keeps the process alive.
   */
  close(options: ConsumerCloseOptions = {}): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    if (typeof options !== 'object' || options === null) throw new TypeError(`close: options must be an object, got ${describeValue(options)}`);
    refuseUnknownOptions('close', options, CLOSE_OPTION_KEYS);
    const deadlineMs = checkDeadline('close: options.deadlineMs', options.deadlineMs ?? this.#options.closeDeadlineMs);
    this.#closed = this.#close(deadlineMs);
    return this.#closed;
  }

  async #close(deadlineMs: number): Promise<void> {
    this.#closing = true;
    const deadline = setTimeout(() => {
      // One already stopping (stopJob, cancelJob, a lost lock) ends as that stop says, not back in the queue.
      for (const active of this.#byJob.values()) if (!active.stopping) active.requeue = true;
      // The runtime's close stops every instance and terminates the ones that ignore it after the grace, even with
      // allowForceStop false; a job taken meanwhile meets a closed runtime and goes back to the queue too.
      void this.runtime.close({ reportDeadlineMs: deadlineMs });
    }, deadlineMs);
    try {
      // BullMQ's close stops fetching and waits for every running processor call.
      await this.worker.close();
    } catch (error) {
      this.#logger.warn({ err: error, queue: this.#queue }, 'closing the BullMQ worker failed');
    } finally {
      clearTimeout(deadline);
    }
    // Final reports to the user's own reporter, if any, get the same deadline again, from here.
    await Promise.all([this.#listener.close(), this.runtime.close({ reportDeadlineMs: deadlineMs })]);
  }

  #stopJob(jobId: string): void {
    const active = this.#byJob.get(jobId);
    if (active === undefined) return;
    active.stopper.abort();
    // The stop has landed: its mark must not stop a later retry of the job, or a new job with its id. Removed
    // before the job fails, so that such a retry cannot see it.
    active.hold(this.#checkMark(active));
  }

  /** Takes the job's stop mark, if any, and stops the job if there was one. Never rejects. */
  #checkMark(active: ActiveJob): Promise<void> {
    return this.#listener.takeMark(active.job.id as string).then(
      (marked) => {
        if (marked) active.stopper.abort();
      },
      (error: unknown) => this.#logger.warn({ err: error, jobId: active.job.id }, 'reading the stop mark failed'),
    );
  }

  #reporter(user: Reporter | undefined): Reporter {
    const own = (report: StatusReport): Promise<void> | undefined => {
      if (report.status !== InstanceStatus.RUNNING) return undefined;
      const active = this.#byInstance.get(report.instanceId);
      if (active === undefined) return undefined;
      // The stop channel is fire-and-forget: a message published while our subscriber was reconnecting is lost.
      // Its mark is not, so each RUNNING report also looks for one.
      void this.#checkMark(active);
      return active.progress(report);
    };
    if (user === undefined) return { report: own };
    return { report: async (report, signal) => void (await Promise.all([own(report), user.report(report, signal)])) };
  }

  async #process(job: Job<TaskJobData, unknown>, token: string | undefined, signal: AbortSignal | undefined): Promise<unknown> {
    const jobId = job.id;
    if (jobId === undefined) throw new Error('BullMQ handed over a job without an id');
    if (this.#closing) return requeue(job, token);
    let data: TaskJobData;
    try {
      data = readJobData(job.data, job.opts.attempts);
    } catch (error) {
      throw error instanceof TaskTrackerError ? unrecoverable(error) : error;
    }
    // One instance per start of the job: a BullMQ retry or a stalled job's rerun gets an id of its own.
    const active = new ActiveJob(job, token, signal, `${this.#queue}:${jobId}:${job.attemptsStarted}`, this.#logger);
    this.#byJob.set(jobId, active);
    this.#byInstance.set(active.instanceId, active);
    try {
      // Registered first, then the mark read: a stop published in between is seen one way or the other. The
      // values of the job's children (a flow's parent) are read at the same time.
      const [marked, childrenValues] = await Promise.all([this.#listener.takeMark(jobId), job.getChildrenValues()]);
      if (marked) active.stopper.abort();
      const outcome = await this.#run(active, data, signal, Object.keys(childrenValues).length > 0 ? childrenValues : undefined);
      if (outcome.stack !== undefined) active.note('warn', outcome.attempts - 1, `force-stopped; its thread was at:\n${outcome.stack}`);
      await active.flushed(this.#options.maxJobLogLines);
      return await this.#settle(active, outcome);
    } finally {
      // A rerun of the same job (handed back by BullMQ's stalled check while this run was ending) keeps its entry.
      if (this.#byJob.get(jobId) === active) this.#byJob.delete(jobId);
      this.#byInstance.delete(active.instanceId);
    }
  }

  async #run(active: ActiveJob, data: TaskJobData, signal: AbortSignal | undefined, childrenValues: Record<string, unknown> | undefined): Promise<Outcome> {
    try {
      const tracker = this.runtime.submit({
        instanceId: active.instanceId,
        jobId: active.job.id,
        processor: data.processor,
        jobParams: data.params,
        childrenValues,
        timeoutMs: data.timeoutMs,
        maxRetries: data.maxRetries,
        resumeFrom: data.checkpoint,
        signal: signal === undefined ? active.stopper.signal : AbortSignal.any([signal, active.stopper.signal]),
      });
      return await tracker.done;
    } catch (error) {
      const field = error instanceof TaskTrackerError ? dataFieldOf(error) : undefined;
      if (field !== undefined) throw unrecoverable(new InvalidJobDataError(field, refusalText(error as TaskTrackerError), { cause: error }));
      if (error instanceof RuntimeClosedError) return requeue(active.job, active.token);
      throw error;
    }
  }

  async #settle(active: ActiveJob, outcome: Outcome): Promise<unknown> {
    if (outcome.status === OutcomeStatus.SUCCEED) {
      // The processor's value is the job's return value (its result text when it gives none); BullMQ stores it as
      // JSON, so a value JSON would change fails the job, for good, naming the culprit.
      if (outcome.value === undefined) return outcome.result;
      const notJson = findNotJson(outcome.value);
      if (notJson !== undefined) throw unrecoverable(new JobValueError(outcome, notJson.path, notJson.what));
      return outcome.value;
    }
    if (outcome.status === OutcomeStatus.FAILED) {
      // A module that cannot load, or a stream processor (run by stream() only), fails the same way on every attempt:
      // spend none of BullMQ's on it.
      if (outcome.reason === OutcomeReason.PROCESSOR_LOAD_FAILED || outcome.reason === OutcomeReason.PROCESSOR_KIND_MISMATCH) throw unrecoverable(new JobFailedError(outcome));
      throw new JobFailedError(outcome);
    }
    if (active.requeue) return requeue(active.job, active.token);
    throw unrecoverable(new JobStoppedError(outcome));
  }
}

/** Puts the job back at the end of the wait list, unfailed; BullMQ then leaves it alone (`WaitingError`). */
async function requeue(job: Job, token: string | undefined): Promise<never> {
  await job.moveToWait(token);
  throw new WaitingError();
}
