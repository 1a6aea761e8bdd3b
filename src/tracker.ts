// One tracker per job instance, in the main thread: its timers, its interrupt / force-stop escalation, its retries
// and its reports. Its state is a phase (queued → running → finished → destroyed), an escalation cause (none,
// timeout, stop) and an escalation stage; every move of the last two is in #escalate, and what an attempt's end
// means is decided by decideOutcome (outcome.ts), never here. Each handler is guarded by the phase, so a late event
// (a reply after a force-stop, a timer after the finish) can never move a finished instance back.
import type { Logger } from 'pino';
import { decideOutcome, Ending, isStop, type Cause, type Decision, type Outcome } from './outcome.js';
import { kAttemptError, kAttemptReply, type AttemptOwner, type PoolAttempt, type WorkerPool } from './pool.js';
import { channels, epochNow, TIME_ORIGIN, type EndMessage, type ForceStopMessage, type InterruptMessage, type RetryMessage, type StartMessage, type SubmitMessage } from './channels.js';
import { listenToAbort } from './caller-signal.js';
import { WorkerBootError } from './errors.js';
import type { Metrics } from './metrics.js';
import { AttemptEnd, type AttemptReply, type AttemptRequest, type WorkerBatch } from './messages.js';
import { readValue } from './value-codec.js';
import { textOf } from './text.js';
import { cutResult, type RunningStatus, type StatusReport } from './report.js';
import type { Params } from './params.js';
import type { AcceptedRequest } from './request.js';
import { InstanceStatus, OutcomeStatus, TaskStatus } from './status.js';
import type { ResolvedOptions } from './options.js';

/** What a tracker needs from its runtime: one object per runtime, shared by all its trackers. */
export interface TrackerHost {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  readonly pool: WorkerPool;
  /** Sends a RUNNING report; failures are logged, not retried (the next period sends a fresher one). */
  reportRunning(report: StatusReport): void;
  /** Hands a progress value on to the application (`onProgress`); never throws. */
  onProgress(instanceId: string, attempt: number, value: unknown): void;
  /**
   * Before an attempt's end is taken, what its worker `threadId` posted is taken in (see `WorkerChannels.settle`):
   * true when it is in; false when `then` is called once it is.
   */
  afterMessages(threadId: number, drain: boolean, batch: WorkerBatch | undefined, then: () => void): boolean;
  /** Delivers a final report with retries; never rejects; undefined when delivered synchronously. */
  reportFinal(report: StatusReport): Promise<void> | undefined;
  /** The tracker is done with its dispatch slot. */
  releaseSlot(slot: number): void;
  /** The runtime's metrics: the tracker records its instance's start, attempts and end. */
  readonly metrics: Metrics;
  /** The tracker is destroyed: forget it. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  forget(tracker: Tracker<any, any>): void;
}

/** The runtime's handles on a tracker: symbols the package does not export, so they stay off the public API. */
export const kStart = Symbol('start');
export const kStopForClose = Symbol('stopForClose');
export const kAttemptOf = Symbol('attemptOf');
export const kProgress = Symbol('progress');
export const kReportTick = Symbol('reportTick');
export const kStarted = Symbol('started');
export const kCallerAbort = Symbol('callerAbort');

const Phase = { QUEUED: 0, RUNNING: 1, FINISHED: 2, DESTROYED: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** How far the tracker has gone to end the running attempt from outside. */
const Stage = {
  NONE: 0,
  /** The attempt's flag is set; its grace runs. */
  INTERRUPTED: 1,
  /** The grace has passed and force-stop is off: it runs on, until it ends or close() terminates it. */
  OVERDUE: 2,
  /** Its worker is being terminated. */
  FORCE_STOPPED: 3,
} as const;
type Stage = (typeof Stage)[keyof typeof Stage];

/**
 * What moves an instance's escalation: a stop from outside (a call, or the caller's signal), its timeout, the grace
 * after an interrupt, close().
 */
type Escalation = 'stop' | 'signal' | 'timeout' | 'grace-expired' | 'close';

/** One instance's tracker. `V` is the type of its processor's value, `G` of its progress values. */
export class Tracker<V = unknown, G = unknown> implements AttemptOwner {
  readonly instanceId: string;
  /** Settles exactly once, when the instance's outcome is decided. Never rejects. */
  readonly done: Promise<Outcome<V>>;

  readonly #host: TrackerHost;
  readonly #request: AcceptedRequest;
  readonly #createTime = Date.now();
  /** The submit, for wait times (epoch ms, µs precision). */
  readonly #submittedAt = epochNow();
  /** The last attempt (1, 2, …) whose start has been counted and published. */
  #startSeen = 0;
  /** Trace context a submit subscriber put in, sent with every attempt; undefined when none. */
  #trace: Record<string, string> | undefined;
  #resolveDone!: (outcome: Outcome<V>) => void;
  #phase: Phase = Phase.QUEUED;
  #cause: Cause = 'none';
  #stage: Stage = Stage.NONE;
  /** close() has reached it: it is terminated after its grace even with force-stop off. */
  #closing = false;
  #decision: Decision | undefined;
  /** When the first attempt started in its worker (epoch ms, µs precision); null until the tracker has seen it. */
  #startedAt: number | null = null;
  #endTime: number | null = null;
  /** Attempts handed to the pool (one of them may not have started yet). */
  #attempts = 0;
  #slot = -1;
  /** The current attempt's ticket: its worker starts it by taking the ticket from the slot's stamp. */
  #ticket = 0;
  /** How the last attempt ended, for a stop that cancels its retry before it starts. */
  #lastEnding: Ending = Ending.NEVER_STARTED;
  #lastText = '';
  #appended: Record<string, unknown> | undefined;
  #progress: G | undefined;
  #value: V | undefined;
  #lastReportTime = 0;
  /**
   * The attempt's end (its reply, or its worker's death), held while the messages it posted before it are taken in
   * on this thread (they travel on the worker's channel, not with the reply).
   */
  #held: Held | undefined;
  /** The attempt in the pool: what a force-stop terminates. */
  #attempt: PoolAttempt | undefined;
  // When the next RUNNING report is due (epoch ms); the runtime's one report ticker asks every tracker.
  #nextReportAt: number;
  #timeoutTimer: NodeJS.Timeout | undefined;
  #timeoutImmediate: NodeJS.Immediate | undefined;
  /** The timeout's deadline on the monotonic clock (performance.now()): 0 until the first start is seen. */
  #deadline = 0;
  #graceTimer: NodeJS.Timeout | undefined;
  /** A retry waiting out the death backoff. */
  #retryTimer: NodeJS.Timeout | undefined;
  /** A force-stop found the attempt's reply on its way, and waits for it (once). */
  #replyAwaited = false;
  /** The dispatch slot has been given back (a force-stop gives it before its thread has exited). */
  #slotHandedOn = false;
  #onCallerAbort: (() => void) | undefined;
  /** Stops listening to the caller's signal (shared with the other instances given the same signal). */
  #stopListening: (() => void) | undefined;

  constructor(host: TrackerHost, request: AcceptedRequest) {
    this.#host = host;
    this.#request = request;
    this.instanceId = request.instanceId;
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
    const period = host.options.statusReportIntervalMs;
    this.#nextReportAt = this.#createTime + period / 3 + Math.random() * (period / 3);
    if (request.signal !== undefined) {
      this.#onCallerAbort = () => this[kCallerAbort]();
      this.#stopListening = listenToAbort(request.signal, this.#onCallerAbort);
    }
    if (channels.submit.hasSubscribers) this.#publishSubmit();
  }

  #publishSubmit(): void {
    const request = this.#request;
    const message: SubmitMessage = {
      instanceId: this.instanceId,
      processor: request.processorName,
      attempt: 0,
      time: this.#submittedAt,
      trace: {},
      timeoutMs: request.timeoutMs,
      maxRetries: request.maxRetries,
    };
    channels.submit.publish(message);
    const entries = Object.entries(message.trace).filter(([, value]) => typeof value === 'string');
    if (entries.length > 0) this.#trace = Object.fromEntries(entries);
  }

  /** The reference's TaskStatus: WORKER_RECEIVED → WORKER_PROCESSING → WORKER_PROCESS_SUCCESS | WORKER_PROCESS_FAILED. */
  get taskStatus(): TaskStatus {
    if (this.#noteStart() === null) return TaskStatus.WORKER_RECEIVED;
    if (this.#decision === undefined) return TaskStatus.WORKER_PROCESSING;
    return this.#decision.succeeded ? TaskStatus.WORKER_PROCESS_SUCCESS : TaskStatus.WORKER_PROCESS_FAILED;
  }

  /** The latest progress value its processor reported (`ctx.progress`), or undefined before the first. */
  get progress(): G | undefined {
    return this.#progress;
  }

  /** The scheduler's running-status query (PowerJob `InstanceDetail`). */
  runningStatus(): RunningStatus {
    const taskStatus = this.taskStatus;
    const succeeded = taskStatus === TaskStatus.WORKER_PROCESS_SUCCESS;
    const failed = taskStatus === TaskStatus.WORKER_PROCESS_FAILED;
    // A stopped instance, before its start or while it ran, says so: its task status alone would say RUNNING or FAILED.
    const stopped = this.#decision?.status === OutcomeStatus.STOPPED;
    return {
      actualTriggerTime: this.#createTime,
      status: stopped ? InstanceStatus.STOPPED : succeeded ? InstanceStatus.SUCCEED : failed ? InstanceStatus.FAILED : InstanceStatus.RUNNING,
      taskTrackerAddress: this.#host.options.address,
      taskDetail: { totalTaskNum: 1, succeedTaskNum: succeeded ? 1 : 0, failedTaskNum: failed ? 1 : 0 },
    };
  }

  /**
   * Stops the instance. Queued: it never runs. Running: it is interrupted, and force-stopped after the grace if
   * it goes on (when `allowForceStop`). Finished, or already stopping: ignored with a warning.
   * A stopped instance sends no final report; `done` resolves with status STOPPED.
   */
  stop(): void {
    this.#escalate('stop');
  }

  /** Runtime: the request's signal has aborted (or was aborted at submit): a stop, by the signal. */
  [kCallerAbort](): void {
    this.#escalate('signal');
  }

  /**
   * Runtime: hands the first attempt to the pool in `slot`; it starts when its worker takes it. Returns false when
   * the instance no longer wants to run.
   */
  [kStart](slot: number): boolean {
    if (this.#phase !== Phase.QUEUED) return false;
    this.#phase = Phase.RUNNING;
    this.#slot = slot;
    const { timeoutMs } = this.#request;
    // The timeout counts from the attempt's start in its worker, which cannot come before now: not due before
    // timeoutMs from now, a little before which the start is looked up (#onTimeoutTimer).
    if (timeoutMs !== undefined) this.#timeoutTimer = setTimeout(() => this.#onTimeoutTimer(), lookupDelay(timeoutMs));
    this.#runAttempt();
    return true;
  }

  /** Runtime: `close()` stops this instance, and terminates it after the grace even when force-stop is off. */
  [kStopForClose](): void {
    this.#escalate('close');
  }

  // Every move of the escalation, in one place: which cause ends the instance, and how far the tracker has gone.
  #escalate(event: Escalation): void {
    switch (event) {
      case 'stop':
      case 'signal':
        if (this.#phase >= Phase.FINISHED) {
          this.#host.logger.warn({ instanceId: this.instanceId, status: this.taskStatus }, 'stop ignored: the instance has finished');
          return;
        }
        if (isStop(this.#cause)) {
          this.#host.logger.warn({ instanceId: this.instanceId }, 'stop ignored: the instance is already stopping');
          return;
        }
        // What stopped it: close()'s own stop, or the call or signal. A stop outranks a timeout that came first.
        this.#cause = this.#closing ? 'close' : event;
        if (this.#phase === Phase.QUEUED) {
          this.#host.logger.warn({ instanceId: this.instanceId, stoppedBy: this.#cause }, 'stopped before start: the instance will not run');
          this.#onAttemptEnd(Ending.NEVER_STARTED, '');
          return;
        }
        this.#interrupt('stop');
        return;
      case 'timeout':
        if (this.#phase !== Phase.RUNNING) return;
        if (this.#cause === 'none') this.#cause = 'timeout';
        this.#interrupt(event);
        return;
      case 'grace-expired':
        if (this.#phase !== Phase.RUNNING) return;
        if (this.#host.options.allowForceStop || this.#closing) {
          this.#forceStop();
          return;
        }
        this.#stage = Stage.OVERDUE;
        this.#host.logger.warn(
          { instanceId: this.instanceId },
          'the instance ignores its interrupt and force-stop is off (allowForceStop: false): it runs on',
        );
        return;
      case 'close':
        this.#closing = true;
        if (this.#phase >= Phase.FINISHED) return;
        if (!isStop(this.#cause)) this.#escalate('stop'); // a stop by close(): #closing is set
        // Interrupted earlier (a timeout) and its grace already spent without a force-stop: terminate now.
        if (this.#stage === Stage.OVERDUE) this.#forceStop();
        return;
    }
  }

  /**
   * Interrupts the current attempt, for `event` (its cause, unless a stop has come: the stop's). If its worker has
   * not started it, it is cancelled instead (then it never runs), and the instance ends under its cause: never
   * started, or — for a retry that had not started — as the attempt before it ended.
   */
  #interrupt(event: 'stop' | 'timeout'): void {
    if (this.#stage !== Stage.NONE) {
      this.#host.logger.info({ instanceId: this.instanceId, cause: event }, 'already interrupted');
      return;
    }
    if (this.#retryTimer !== undefined) {
      // Between a worker's death and the retry, backing off: the retry never runs, and the instance ends as the
      // attempt before it did.
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      this.#onAttemptEnd(this.#lastEnding, this.#lastText);
      return;
    }
    // The flag before anything else: a hot loop sees it now, and an attempt that has not started never reads it
    // (the slot is still ours, and the next attempt in it clears the flag).
    const pool = this.#host.pool;
    pool.interrupt(this.#slot);
    if (pool.cancel(this.#slot, this.#ticket, this.#attempt)) {
      this.#attempt = undefined;
      this.#attempts--;
      if (this.#attempts === 0) this.#host.logger.warn({ instanceId: this.instanceId }, 'stopped before start: the instance will not run');
      this.#onAttemptEnd(this.#attempts === 0 ? Ending.NEVER_STARTED : this.#lastEnding, this.#lastText);
      return;
    }
    this.#stage = Stage.INTERRUPTED;
    if (channels.interrupt.hasSubscribers) {
      channels.interrupt.publish({ ...this.#about(this.#attempts), cause: isStop(this.#cause) ? 'stop' : 'timeout' } satisfies InterruptMessage);
    }
    if (this.#cause === 'timeout') {
      this.#host.logger.warn(
        { instanceId: this.instanceId, startTime: this.#startTime, timeoutMs: this.#request.timeoutMs },
        'timeout: instance interrupted',
      );
    } else {
      this.#host.logger.info({ instanceId: this.instanceId, stoppedBy: this.#cause }, 'stop requested: instance interrupted');
    }
    const grace = this.#host.options.forceStopGraceMs ?? defaultGrace(this.#request.timeoutMs);
    if (grace === 0) this.#escalate('grace-expired'); // no grace: terminate now, not a timer tick later
    else this.#graceTimer = setTimeout(() => {
      this.#graceTimer = undefined;
      this.#escalate('grace-expired');
    }, Math.ceil(grace));
  }

  #forceStop(): void {
    const attempt = this.#attempt;
    if (this.#stage === Stage.FORCE_STOPPED || attempt === undefined) return;
    const held = this.#held;
    if (held !== undefined) {
      // The attempt has already ended: its end is here, held only while its last messages are taken in. There is
      // nothing to terminate (its worker is free, and may be running another instance's attempt by now): take
      // the end as it is, without waiting for those (they are dropped and counted).
      this.#takeHeld(held);
      return;
    }
    const pool = this.#host.pool;
    if (pool.hasEnded(this.#slot) && !this.#replyAwaited) {
      // The attempt has ended in its worker and its reply is on its way (the main thread was busy when it came): the
      // reply wins, as the job's own outcome. Should it still not come (a worker stuck after it answered), the
      // force-stop goes ahead after REPLY_ON_ITS_WAY_MS.
      this.#replyAwaited = true;
      this.#graceTimer = setTimeout(() => {
        this.#graceTimer = undefined;
        this.#escalate('grace-expired');
      }, REPLY_ON_ITS_WAY_MS);
      return;
    }
    this.#stage = Stage.FORCE_STOPPED;
    this.#host.metrics.forceStops++;
    if (channels.forceStop.hasSubscribers) {
      channels.forceStop.publish({ ...this.#about(this.#attempts), cause: isStop(this.#cause) ? 'stop' : 'timeout' } satisfies ForceStopMessage);
    }
    this.#host.logger.warn({ instanceId: this.instanceId }, 'the instance did not finish after its interrupt: terminating its worker');
    // Its start is read before the slot is handed on; the slot goes now, so that the next queued instance (which a
    // spare takes) never waits for the terminate. The instance ends once its thread has exited, or is known stuck.
    const startedAt = pool.startedAt(this.#slot);
    if (startedAt !== null) this.#seeStart(this.#attempts, startedAt, attempt.workerId);
    this.#attempt = undefined;
    this.#clearTimers();
    const exited = pool.forceStop(attempt, () => this.#handOnSlot());
    void exited.then((exit) => this.#onAttemptEnd(exit ? Ending.FORCE_STOPPED : Ending.FORCE_STOP_STUCK, ''));
  }

  /** Gives the dispatch slot back (once): the next queued instance may take it. */
  #handOnSlot(): void {
    if (this.#slotHandedOn) return;
    this.#slotHandedOn = true;
    this.#host.releaseSlot(this.#slot);
  }

  #runAttempt(): void {
    const request = this.#request;
    this.#ticket = this.#host.pool.arm(this.#slot);
    const attempt: MutableAttempt = {
      slot: this.#slot,
      ticket: this.#ticket,
      processorIndex: request.processorIndex,
      instanceId: request.instanceId,
    };
    // Fields at their default (0) are left out: each key is copied to the worker on every attempt.
    if (this.#attempts > 0) attempt.currentRetryTimes = this.#attempts;
    if (request.maxRetries > 0) attempt.maxRetryTimes = request.maxRetries;
    // Only the fields the instance has: each key would otherwise be copied to the worker on every attempt.
    if (request.jobId !== undefined) attempt.jobId = request.jobId;
    if (request.wfInstanceId !== undefined) attempt.wfInstanceId = request.wfInstanceId;
    if (this.#trace !== undefined) attempt.trace = this.#trace;
    if (channels.start.hasSubscribers) attempt.announce = true;
    // Moved params go with the first attempt; an instance with retries holds them in shared memory instead.
    const taken = request.params.take();
    putParams(attempt, taken.params);
    const rescue = taken.rescue;
    this.#attempts++;
    this.#attempt = this.#host.pool.run(
      attempt,
      this,
      taken.transfer.length > 0 ? taken.transfer : undefined,
      rescue === undefined ? undefined : () => {
        const again = rescue();
        return { request: putParams({ ...attempt }, again.params), transfer: again.transfer };
      },
    );
  }

  /** Pool: the current attempt's reply. */
  [kAttemptReply](attempt: PoolAttempt, reply: AttemptReply): void {
    if (attempt === this.#attempt) this.#onReply(attempt, reply);
  }

  /** Pool: the current attempt's worker died under it (or piscina refused it). */
  [kAttemptError](attempt: PoolAttempt, error: unknown): void {
    if (attempt === this.#attempt) this.#onAttemptError(attempt, error);
  }

  /**
   * Channels: the current attempt (its currentRetryTimes) when `ticket` is its ticket and it runs, else -1. An
   * attempt is named by its ticket, not by the instance id, which the next instance may reuse: what an attempt that
   * has ended (or code it left behind) posts is never taken for the current one's.
   */
  [kAttemptOf](ticket: number): number {
    return this.#phase === Phase.RUNNING && ticket === this.#ticket ? this.#attempts - 1 : -1;
  }

  /** Channels: a progress value from the attempt with `ticket`. Delivered only while it is current, in order. */
  [kProgress](ticket: number, value: unknown): void {
    if (this.#phase !== Phase.RUNNING || ticket !== this.#ticket) return;
    this.#progress = value as G;
    this.#host.onProgress(this.instanceId, this.#attempts - 1, value);
  }

  /** Channels: the worker says the attempt with `ticket` has started; its time is in the stamp. */
  [kStarted](ticket: number, threadId: number): void {
    if (this.#phase !== Phase.RUNNING || ticket !== this.#ticket) return;
    const startedAt = this.#host.pool.startedAt(this.#slot);
    if (startedAt !== null) this.#seeStart(this.#attempts, startedAt, threadId);
  }

  #onReply(attempt: PoolAttempt, reply: AttemptReply): void {
    if (this.#phase !== Phase.RUNNING) return;
    // Most attempts post nothing: their reply is taken at once.
    if (reply.messages === undefined && reply.batch === undefined) {
      this.#acceptReply(reply);
      return;
    }
    this.#hold({ reply }, attempt.workerId, reply.messages !== undefined, reply.batch);
  }

  /** Holds the attempt's end until what it posted before it is in (at once, mostly), then takes it. */
  #hold(held: Held, threadId: number, drain: boolean, batch: WorkerBatch | undefined): void {
    this.#held = held;
    if (this.#host.afterMessages(threadId, drain, batch, () => this.#takeHeld(held))) this.#takeHeld(held);
  }

  #takeHeld(held: Held): void {
    if (this.#held !== held) return;
    this.#held = undefined;
    if (this.#phase !== Phase.RUNNING) return;
    if ('reply' in held) this.#acceptReply(held.reply);
    else this.#endWithDeath(held.error);
  }

  #acceptReply(reply: AttemptReply): void {
    const appended = reply.appended;
    if (appended !== undefined) this.#appended = Object.assign(this.#appended ?? Object.create(null), appended);
    let { end } = reply;
    let text = reply.msg ?? '';
    // A stopped instance keeps no value: its moved buffers are simply let go.
    if (end === AttemptEnd.SUCCEEDED && !isStop(this.#cause)) {
      try {
        this.#value = (reply.valueBytes === undefined ? reply.value : readValue(reply.valueBytes, reply.moved, reply.sharedViews)) as V;
      } catch (error) {
        end = AttemptEnd.VALUE_NOT_CLONEABLE;
        text = textOf(error instanceof Error ? error.message : error);
      }
    }
    this.#onAttemptEnd(end, text);
  }

  #onAttemptError(attempt: PoolAttempt, error: unknown): void {
    if (this.#phase !== Phase.RUNNING) return;
    if (error instanceof WorkerBootError || attempt.workerId === 0) {
      if (error instanceof WorkerBootError) this.#onAttemptEnd(Ending.BOOT_FAILED, error.message);
      else this.#endWithDeath(error);
      return;
    }
    // The lines its worker posted before it died come first.
    this.#hold({ error }, attempt.workerId, true, undefined);
  }

  #endWithDeath(error: unknown): void {
    this.#host.logger.error({ instanceId: this.instanceId, err: error }, 'the worker died under the attempt');
    this.#host.metrics.workerDeaths++;
    // "Name: message", without the [code] Node's own errors add to their text.
    this.#onAttemptEnd(Ending.WORKER_DIED, error instanceof Error ? `${error.name}: ${error.message}` : textOf(error));
  }

  // Every end of an attempt comes here: decideOutcome says whether it is retried or how the instance ends.
  #onAttemptEnd(ending: Ending, text: string): void {
    const pooled = this.#attempt;
    this.#attempt = undefined;
    if (ending !== Ending.NEVER_STARTED && !this.#slotHandedOn) {
      // This attempt's start, before a retry takes the slot's stamp: null if it never started (cancelled, or its
      // worker died first).
      const startedAt = this.#host.pool.startedAt(this.#slot);
      if (startedAt !== null) this.#seeStart(this.#attempts, startedAt, pooled?.workerId ?? 0);
    }
    this.#lastEnding = ending;
    this.#lastText = text;
    const decision = decideOutcome({
      ending,
      text,
      cause: this.#cause,
      retriesLeft: this.#request.maxRetries + 1 - this.#attempts,
      processorName: this.#request.processorName,
    });
    if (!decision.retry) {
      this.#finish(decision);
      return;
    }
    this.#host.logger.warn(
      { instanceId: this.instanceId, reason: decision.reason, result: decision.text, currentRetryTimes: this.#attempts },
      'attempt failed: retrying',
    );
    if (channels.retry.hasSubscribers) {
      channels.retry.publish({ ...this.#about(this.#attempts + 1), reason: decision.attemptReason, result: decision.text } satisfies RetryMessage);
    }
    // After a worker's death, the retry waits while workers keep dying (see WorkerPool.deathBackoffMs).
    const backoff = ending === Ending.WORKER_DIED ? this.#host.pool.deathBackoffMs() : 0;
    if (backoff === 0) {
      this.#runAttempt();
      return;
    }
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#phase === Phase.RUNNING) this.#runAttempt();
    }, backoff);
  }

  /**
   * When the first attempt started in its worker (epoch ms), or null while it has not: read from the slot's stamp
   * until seen, then kept (a retry's attempt takes the stamp over).
   */
  #noteStart(): number | null {
    if (this.#startedAt !== null || this.#phase !== Phase.RUNNING) return this.#startedAt;
    const startedAt = this.#host.pool.startedAt(this.#slot);
    if (startedAt !== null) this.#seeStart(this.#attempts, startedAt, this.#attempt?.workerId ?? 0);
    return this.#startedAt;
  }

  /**
   * Attempt `attempt` started at `startedAt` (epoch ms): kept if it is the first start, counted once for the
   * metrics (the instance's wait) and published once on the start channel.
   */
  #seeStart(attempt: number, startedAt: number, threadId: number): void {
    if (attempt <= this.#startSeen) return;
    this.#startSeen = attempt;
    const waitMs = startedAt - this.#submittedAt;
    if (this.#startedAt === null) {
      this.#startedAt = startedAt;
      this.#host.metrics.started(this.#request.processorName, waitMs, startedAt - TIME_ORIGIN);
    }
    if (channels.start.hasSubscribers) {
      channels.start.publish({ ...this.#about(attempt), time: startedAt, threadId, waitMs } satisfies StartMessage);
    }
  }

  /** What every message on the instance channels holds, about attempt `attempt`, now. */
  #about(attempt: number): { instanceId: string; processor: string; attempt: number; time: number } {
    return { instanceId: this.instanceId, processor: this.#request.processorName, attempt, time: epochNow() };
  }

  /** The first start, as outcomes and reports give it: whole epoch ms, never after the tracker learned of it. */
  get #startTime(): number | null {
    const startedAt = this.#noteStart();
    return startedAt === null ? null : Math.max(this.#createTime, Math.min(Math.round(startedAt), this.#endTime ?? Date.now()));
  }

  // The timeout's first timer: the deadline is the first start plus timeoutMs, and the start is looked up now. Not
  // started yet (it waits for a worker): not due before timeoutMs from now either.
  #onTimeoutTimer(): void {
    this.#timeoutTimer = undefined;
    if (this.#phase !== Phase.RUNNING) return;
    const timeoutMs = this.#request.timeoutMs as number;
    const startedAt = this.#noteStart();
    if (startedAt === null) {
      // Not started yet: its deadline is at least timeoutMs from now.
      this.#timeoutTimer = setTimeout(() => this.#onTimeoutTimer(), lookupDelay(timeoutMs));
      return;
    }
    this.#deadline = startedAt - performance.timeOrigin + timeoutMs + START_ALLOWANCE_MS;
    this.#approachDeadline();
  }

  // Node's timers may fire up to 1 ms early (libuv's cached, whole-ms loop time), and late, the later the longer
  // they slept: wake a little before the deadline (a margin that grows with the sleep), then meet it on event-loop
  // turns, checking the monotonic clock: never early, late by about one turn. Whole milliseconds: Node keeps a
  // timer list per distinct delay, and a fractional one makes a new list each time.
  // After one sleep, the rest is met on turns: a thread woken from a sleep may be woken late again by the next one
  // (measured: a vCPU left idle takes milliseconds to run it again).
  #approachDeadline(slept = false): void {
    this.#timeoutTimer = this.#timeoutImmediate = undefined;
    if (this.#phase !== Phase.RUNNING) return;
    const left = this.#deadline - performance.now();
    if (!slept && left > wakeMargin(left)) {
      this.#timeoutTimer = setTimeout(() => this.#approachDeadline(true), Math.floor(left - wakeMargin(left)));
    } else if (left > 0) {
      this.#timeoutImmediate = setImmediate(() => this.#approachDeadline(true));
    } else {
      this.#escalate('timeout');
    }
  }

  #finish(decision: Decision): void {
    const dispatched = this.#phase === Phase.RUNNING;
    this.#phase = Phase.FINISHED;
    this.#decision = decision;
    this.#endTime = Date.now();
    this.#clearTimers();
    if (dispatched) this.#handOnSlot();
    const startTime = this.#startTime;
    if (startTime !== null) {
      // Guarded: this line comes once per instance that ran, and its fields are built even when the level is off.
      if (this.#host.logger.isLevelEnabled('info')) this.#host.logger.info(
        {
          instanceId: this.instanceId,
          status: this.taskStatus,
          reason: decision.attemptReason,
          attempts: this.#attempts,
          queueMs: startTime - this.#createTime,
          runMs: this.#endTime - startTime,
        },
        'instance finished',
      );
    }
    this.#settle(decision);
    // A stopped instance is not reported: the side that asked for the stop already knows.
    if (decision.status === OutcomeStatus.STOPPED) {
      this.#destroy();
      return;
    }
    let delivering: Promise<void> | undefined;
    try {
      delivering = this.#host.reportFinal(this.#report(true));
    } catch (error) {
      this.#onReportFinalBroken(error);
    }
    // The host's delivery never rejects; should it all the same, the tracker must still go (not leak).
    if (delivering === undefined) this.#destroy();
    else void delivering.then(() => this.#destroy(), (error: unknown) => {
      this.#onReportFinalBroken(error);
      this.#destroy();
    });
  }

  #onReportFinalBroken(error: unknown): void {
    this.#host.logger.error({ instanceId: this.instanceId, err: error }, 'final report delivery failed outside its retries');
  }

  #settle(decision: Decision): void {
    this.#stopListening?.();
    const outcome: Outcome<V> = {
      status: decision.status,
      reason: decision.reason,
      result: decision.text,
      value: decision.status === OutcomeStatus.SUCCEED ? this.#value : undefined,
      attempts: this.#attempts,
      startTime: this.#startTime,
      endTime: this.#endTime ?? Date.now(),
      stoppedBy: decision.stoppedBy,
      abortReason: decision.stoppedBy === 'signal' ? this.#request.signal?.reason : undefined,
    };
    const startedAt = this.#startedAt;
    const now = performance.now();
    this.#host.metrics.ended(this.#request.processorName, decision.reason, startedAt === null ? null : TIME_ORIGIN + now - startedAt, now);
    if (channels.end.hasSubscribers) channels.end.publish({ ...this.#about(this.#startSeen), outcome } satisfies EndMessage);
    this.#resolveDone(outcome);
  }

  #destroy(): void {
    if (this.#phase === Phase.DESTROYED) {
      this.#host.logger.warn({ instanceId: this.instanceId }, 'destroy ignored: the tracker is already destroyed');
      return;
    }
    this.#clearTimers();
    this.#phase = Phase.DESTROYED;
    this.#host.forget(this);
    const now = Date.now();
    if (this.#host.logger.isLevelEnabled('info')) this.#host.logger.info(
      {
        instanceId: this.instanceId,
        status: this.taskStatus,
        startTime: this.#startTime,
        endTime: this.#endTime,
        queueMs: this.#startTime === null ? null : this.#startTime - this.#createTime,
        runMs: this.#startTime === null || this.#endTime === null ? null : this.#endTime - this.#startTime,
        totalMs: now - this.#createTime,
      },
      'tracker destroyed',
    );
  }

  #clearTimers(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    clearTimeout(this.#timeoutTimer);
    clearImmediate(this.#timeoutImmediate);
    clearTimeout(this.#graceTimer);
    this.#timeoutTimer = this.#timeoutImmediate = this.#graceTimer = undefined;
  }

  /** Runtime's report ticker: sends the RUNNING report if one is due. */
  [kReportTick](now: number): void {
    if (this.#phase >= Phase.FINISHED || now < this.#nextReportAt) return;
    const report = this.#report(false);
    this.#lastReportTime = report.reportTime;
    this.#nextReportAt = Math.max(this.#nextReportAt + this.#host.options.statusReportIntervalMs, now);
    this.#host.reportRunning(report);
  }

  #report(final: boolean): StatusReport {
    const decision = final ? this.#decision : undefined;
    const succeeded = decision?.succeeded === true;
    const failed = decision !== undefined && !succeeded;
    const now = Date.now();
    return {
      instanceId: this.instanceId,
      jobId: this.#request.jobId,
      wfInstanceId: this.#request.wfInstanceId,
      status: succeeded ? InstanceStatus.SUCCEED : failed ? InstanceStatus.FAILED : InstanceStatus.RUNNING,
      result: decision !== undefined ? cutResult(decision.text, this.#host.options.maxResultLength) : '',
      triggerTime: this.#createTime,
      startTime: this.#startTime,
      endTime: final ? this.#endTime : null,
      // A final report is stamped later than every RUNNING one, so a receiver ordering by time keeps it.
      reportTime: final ? Math.max(now, this.#lastReportTime) + 1 : now,
      sourceAddress: this.#host.options.address,
      totalTaskNum: 1,
      succeedTaskNum: succeeded ? 1 : 0,
      failedTaskNum: failed ? 1 : 0,
      appendedWfContext: final && this.#request.wfInstanceId !== undefined ? { ...this.#appended } : undefined,
      progress: this.#progress,
    };
  }
}

type MutableAttempt = { -readonly [K in keyof AttemptRequest]: AttemptRequest[K] };

/** An attempt's end, held while its messages are taken in: its reply, or its worker's death. */
type Held = { readonly reply: AttemptReply } | { readonly error: unknown };

/** Puts the params an instance has into its attempt request (a key left out is not copied across). */
function putParams(attempt: MutableAttempt, params: Params): MutableAttempt {
  if (params.jobParams !== undefined) attempt.jobParams = params.jobParams;
  if (params.instanceParams !== undefined) attempt.instanceParams = params.instanceParams;
  if (params.childrenValues !== undefined) attempt.childrenValues = params.childrenValues;
  return attempt;
}

/**
 * How long before a deadline `left` ms away its timer should wake (ms): the last stretch is met on event-loop turns.
 * A timer fires up to 1 ms early, and a long sleep wakes later than a short one (measured: a second's sleep, up to
 * 4 ms late on a quiet machine), hence the part that grows with the sleep. The turns cost CPU, hence no more.
 */
function wakeMargin(left: number): number {
  return 1.25 + left / 200;
}

/**
 * How long a force-stop waits for a reply that is on its way (ms): the attempt had ended in its worker when the
 * force-stop came, its reply not yet read (the main thread was busy). The reply wins; only a worker that never sends
 * it, stuck after it answered, is terminated after this wait.
 */
export const REPLY_ON_ITS_WAY_MS = 1000;

/**
 * What the deadline allows for the call of the processor after its start is stamped (ms): the stamp is taken the
 * moment before the call, and a processor must never find its budget spent before its own first line has run.
 */
const START_ALLOWANCE_MS = 0.05;

/** When to look up an attempt's start, for a deadline at least `timeoutMs` away: early enough to meet it (ms). */
function lookupDelay(timeoutMs: number): number {
  return Math.max(1, Math.floor(timeoutMs - wakeMargin(timeoutMs)));
}

/** The reference's check period: timeout/10 for timeouts under 1 s, else 1 s. */
function defaultGrace(timeoutMs: number | undefined): number {
  return timeoutMs !== undefined && timeoutMs < 1000 ? timeoutMs / 10 : 1000;
}
