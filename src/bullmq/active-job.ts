// One BullMQ job a consumer is running: its instance, what may stop it, and its writes to Redis (progress, log
// lines, checkpoints), which all land before the job's completion.
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { ProcessorLogLine } from '../options.js';
import type { StatusReport } from '../report.js';
import { InstanceStatus } from '../status.js';
import { findNotJson } from './json-value.js';

/**
 * What a RUNNING report becomes: the job's progress, until the processor reports progress of its own (then the
 * job's progress is the processor's latest value). Times are epoch ms.
 */
export interface TaskJobProgress {
  readonly status: typeof InstanceStatus.RUNNING;
  readonly instanceId: string;
  /** When the instance's first attempt started; null while queued in the runtime. */
  readonly startTime: number | null;
  readonly reportTime: number;
  /** The runtime's `address` (by default `host:pid`). */
  readonly address: string;
}

export class ActiveJob {
  readonly job: Job;
  readonly token: string | undefined;
  readonly instanceId: string;
  /** BullMQ's signal for this job (`worker.cancelJob`), when it passes one. */
  readonly #cancelled: AbortSignal | undefined;
  /** Aborted by a stop from anywhere, a lost lock or `close()`'s deadline: stops the instance. */
  readonly stopper = new AbortController();
  /** Set by `close()`'s deadline: a stopped instance's job goes back to the queue instead of failing. */
  requeue = false;
  /**
   * Set when the job's lock is lost: another consumer may run it by now, and Redis no longer takes this run's
   * checkpoints (BullMQ's data update does not check the lock, so one would overwrite the new run's).
   */
  lockLost = false;
  readonly #logger: Logger;
  readonly #writes = new Set<Promise<void>>();
  // Processor log lines seen, written or not.
  #lines = 0;
  // Whether the processor has reported progress of its own: RUNNING reports then leave the job's progress to it.
  #ownProgress = false;
  // The kinds of value (progress, checkpoint) a warning has already said this job could not store.
  readonly #refused = new Set<string>();
  // The latest checkpoint not yet written (boxed: undefined is a state too), and whether writes are under way.
  #checkpoint: { readonly state: unknown } | undefined;
  #checkpointing = false;

  constructor(job: Job, token: string | undefined, cancelled: AbortSignal | undefined, instanceId: string, logger: Logger) {
    this.job = job;
    this.token = token;
    this.#cancelled = cancelled;
    this.instanceId = instanceId;
    this.#logger = logger;
  }

  /** Whether a stop has reached the job's instance (ours from anywhere, or BullMQ's cancel). */
  get stopping(): boolean {
    return this.stopper.signal.aborted || this.#cancelled?.aborted === true;
  }

  /**
   * Writes a RUNNING report as the job's progress, unless the processor reports progress of its own; the returned
   * promise rejects if Redis refuses it.
   */
  progress(report: StatusReport): Promise<void> | undefined {
    if (this.#ownProgress) return undefined;
    const progress: TaskJobProgress = {
      status: InstanceStatus.RUNNING,
      instanceId: report.instanceId,
      startTime: report.startTime,
      reportTime: report.reportTime,
      address: report.sourceAddress,
    };
    const write = this.job.updateProgress(progress);
    // The runtime logs and counts a failed RUNNING report: only wait for it here.
    this.#track(write);
    return write;
  }

  /**
   * Writes a processor's progress value as the job's progress (`job.updateProgress(value)`). One that JSON cannot
   * hold (BullMQ stores progress as JSON) is not written: a warning says so, once per job. A failed write is logged.
   */
  processorProgress(value: unknown): void {
    this.#ownProgress = true;
    if (!this.#fitsJson(value, 'progress')) return;
    this.#track(this.job.updateProgress(value as object), 'progress');
  }

  /**
   * Writes a processor's checkpoint into the job's data (`checkpoint`), where a later run of the job (BullMQ's retry,
   * a stalled job's rerun in another consumer) finds it and resumes from it. Writes go one at a time; checkpoints
   * made meanwhile are coalesced, the latest always written. One that JSON cannot hold (BullMQ stores data as JSON)
   * is not written: a warning says so, once per job. A failed write is logged.
   */
  checkpoint(state: unknown): void {
    if (this.lockLost || !this.#fitsJson(state, 'checkpoint')) return;
    this.#checkpoint = { state };
    if (this.#checkpointing) return;
    this.#checkpointing = true;
    this.#track(this.#writeCheckpoints());
  }

  // Whether BullMQ can store `value` (as JSON); when it cannot, a warning names the culprit, once per job and kind.
  #fitsJson(value: unknown, kind: 'progress' | 'checkpoint'): boolean {
    const notJson = findNotJson(value, kind);
    if (notJson === undefined) return true;
    if (!this.#refused.has(kind)) {
      this.#logger.warn({ jobId: this.job.id, instanceId: this.instanceId, path: notJson.path }, `${kind} not written to the BullMQ job: ${notJson.path} is ${notJson.what}, which JSON cannot hold`);
    }
    this.#refused.add(kind);
    return false;
  }

  async #writeCheckpoints(): Promise<void> {
    for (let next = this.#checkpoint; next !== undefined && !this.lockLost; next = this.#checkpoint) {
      this.#checkpoint = undefined;
      try {
        await this.job.updateData({ ...(this.job.data as object), checkpoint: next.state });
      } catch (error) {
        this.#logger.warn({ err: error, jobId: this.job.id, instanceId: this.instanceId }, 'a checkpoint could not be written to the BullMQ job');
      }
    }
    this.#checkpointing = false;
  }

  /** Appends a processor log line to the job's log, up to `maxLines`. A failed write is logged, never thrown. */
  log(line: ProcessorLogLine, maxLines: number): void {
    if (this.#lines++ >= maxLines) return;
    this.#write(formatLine(line));
  }

  /** Resolves when every write started so far has landed or failed; first notes the lines left out, if any. */
  async flushed(maxLines: number): Promise<void> {
    if (this.#lines > maxLines) this.#write(`${this.#lines - maxLines} more processor log lines not written (maxJobLogLines ${maxLines})`);
    while (this.#writes.size > 0) await Promise.allSettled([...this.#writes]);
  }

  /** Appends a line of the consumer's own about attempt `attempt` to the job's log (not counted against `maxJobLogLines`). */
  note(level: ProcessorLogLine['level'], attempt: number, msg: string): void {
    this.#write(lineHead(level, attempt, msg));
  }

  #write(text: string): void {
    this.#track(this.job.log(text).then(() => undefined), 'log line');
  }

  /** Makes the job's completion wait for `work` too (which must not reject). */
  hold(work: Promise<void>): void {
    this.#track(work);
  }

  // A write whose failure is worth a warning names itself (`what`); one without a name fails silently.
  #track(write: Promise<void>, what?: string): void {
    const tracked = write.then(
      () => undefined,
      (error: unknown) => {
        if (what !== undefined) this.#logger.warn({ err: error, jobId: this.job.id, instanceId: this.instanceId }, `a ${what} could not be written to the BullMQ job`);
      },
    );
    this.#writes.add(tracked);
    void tracked.finally(() => this.#writes.delete(tracked));
  }
}

/** `WARN [attempt 0] …`: how every line of a job's log begins. */
function lineHead(level: string, attempt: number, msg: string): string {
  return `${level.toUpperCase()} [attempt ${attempt}] ${msg}`;
}

/** `INFO [attempt 0] started {"file":"a.bin"}`: one line of a job's log. */
export function formatLine(line: ProcessorLogLine): string {
  const head = lineHead(line.level, line.attempt, line.msg);
  if (line.fields === undefined || Object.keys(line.fields).length === 0) return head;
  try {
    return `${head} ${JSON.stringify(line.fields, (_key, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value))}`;
  } catch {
    return `${head} (fields not printable)`;
  }
}
