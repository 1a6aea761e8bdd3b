// One tracker per job instance, in the main thread: it runs the instance's attempts through the pool's Attempt
// handle, retries them, and ends the instance. Its parts each own one idea: the escalation state machine
// (escalation.ts) makes every move of its phase, cause and stage; its timeout clock (deadline.ts); its reports
// (tracker-reports.ts); and what an attempt's end means is decided by decideOutcome (outcome.ts), never here.
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Attempt, AttemptExit, AttemptListener } from './attempt.js';
import { listenToAbort } from './caller-signal.js';
import { channels, epochNow, TIME_ORIGIN, type EndMessage, type ForceStopMessage, type InterruptMessage, type RetryMessage, type StartMessage, type SubmitMessage } from './channels.js';
import { DeadlineClock } from './deadline.js';
import { WorkerBootError } from './errors.js';
import { escalate, initialEscalation, Phase, type EscalationEvent, type EscalationState } from './escalation.js';
import type { Metrics } from './metrics.js';
import { decideOutcome, Ending, isStop, type Decision, type StoppedBy } from './outcome.js';
import type { AttemptFields, Rescue } from './pool.js';
import { AttemptEnd, readValue, textOf, type AttemptReply } from './protocol.js';
import type { RunningStatus } from './report.js';
import type { AcceptedRequest, Params } from './request.js';
import { InstanceStatus, OutcomeStatus, TaskStatus, type OutcomeReason } from './status.js';
import { kCallerAbort, kReportTick, kStart, kStopForClose } from './symbols.js';
import { InstanceReports, type ReportHost, type ReportView } from './tracker-reports.js';

/** How an instance ended: what `tracker.done` resolves with. Times are epoch milliseconds. */
export interface Outcome<V = unknown> {
  readonly status: OutcomeStatus;
  /** Why, as a stable code. */
  readonly reason: OutcomeReason;
  /** The processor's message, the error's text, or the tracker's own text (`SystemResult`); not cut. */
  readonly result: string;
  /** The processor's `value`: undefined when it gave none, and whenever the status is not SUCCEED. */
  readonly value: V | undefined;
  /** Attempts started: 0 when stopped before start, 1 + retries otherwise. */
  readonly attempts: number;
  /** When the first attempt started; null when it never did. */
  readonly startTime: number | null;
  readonly endTime: number;
  /**
   * What stopped the instance, when `status` is STOPPED: `'stop'` (`tracker.stop()`, `runtime.stop(id)`),
   * `'signal'` (the request's `signal` aborted) or `'close'` (`runtime.close()`); undefined otherwise.
   */
  readonly stoppedBy: StoppedBy | undefined;
  /**
   * When `stoppedBy` is `'signal'`: the signal's `reason`, what was given to `abort(reason)` (a `DOMException`
   * named `AbortError` when nothing was; `TimeoutError` for `AbortSignal.timeout()`). Undefined otherwise.
   */
  readonly abortReason: unknown;
}

/** What runs a tracker's attempts: the pool, behind its Attempt handle. */
export interface AttemptRunner {
  /** Hands an attempt over; `listener` hears of it. `transfer` goes with it; see WorkerPool.run for `rescue`. */
  run(fields: AttemptFields, listener: AttemptListener, transfer?: ReadonlyArray<ArrayBuffer | MessagePort>, rescue?: Rescue): Attempt;
  /** How long the retry of an attempt whose worker died waits (ms). */
  deathBackoffMs(): number;
}

/** What a tracker needs from its runtime: one object per runtime, shared by all its trackers. */
export interface TrackerHost extends ReportHost {
  readonly logger: Logger;
  readonly pool: AttemptRunner;
  /** Hands a progress value on to the application (`onProgress`); never throws. */
  onProgress(instanceId: string, attempt: number, value: unknown): void;
  /** The tracker is done with its dispatch: the next queued instance may go. */
  release(): void;
  /** The runtime's metrics: the tracker records its instance's start, attempts and end. */
  readonly metrics: Metrics;
  /** The tracker is destroyed: forget it. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  forget(tracker: Tracker<any, any>): void;
}

/**
 * How long a force-stop waits for a reply that is on its way (ms): the attempt had ended in its worker when the
 * force-stop came, its reply not yet read (the main thread was busy). The reply wins; only a worker that never sends
 * it, stuck after it answered, is terminated after this wait.
 */
export const REPLY_ON_ITS_WAY_MS = 1000;

/** One instance's tracker. `V` is the type of its processor's value, `G` of its progress values. */
export class Tracker<V = unknown, G = unknown> {
  readonly instanceId: string;
  /** Settles exactly once, when the instance's outcome is decided. Never rejects. */
  readonly done: Promise<Outcome<V>>;

  readonly #host: TrackerHost;
  readonly #request: AcceptedRequest;
  readonly #createTime = Date.now();
  /** The submit, for wait times (epoch ms, µs precision). */
  readonly #submittedAt = epochNow();
  readonly #reports: InstanceReports;
  #resolveDone!: (outcome: Outcome<V>) => void;
  #state: EscalationState = initialEscalation;
  #decision: Decision | undefined;
  /** When the first attempt started in its worker (epoch ms, µs precision); null until the tracker has seen it. */
  #startedAt: number | null = null;
  /** The last attempt (1, 2, …) whose start has been counted and published. */
  #startsSeen = 0;
  #endTime: number | null = null;
  /** Attempts handed to the pool (one of them may not have started yet). */
  #attempts = 0;
  /** The current attempt, while it runs. */
  #attempt: Attempt | undefined;
  /** How the last attempt ended, for a stop that cancels its retry before it starts. */
  #lastEnding: Ending = Ending.NEVER_STARTED;
  #lastText = '';
  #appended: Record<string, unknown> | undefined;
  #progress: G | undefined;
  #value: V | undefined;
  /** Trace context a submit subscriber put in, sent with every attempt; undefined when none. */
  #trace: Record<string, string> | undefined;
  #clock: DeadlineClock | undefined;
  #graceTimer: NodeJS.Timeout | undefined;
  /** A retry waiting out the death backoff. */
  #retryTimer: NodeJS.Timeout | undefined;
  /** The dispatch has been given back (a force-stop gives it before its thread has exited). */
  #released = false;
  /** Stops listening to the caller's signal (shared with the other instances given the same signal). */
  #stopListening: (() => void) | undefined;
  readonly #listener: AttemptListener = {
    attemptStarted: (attempt) => {
      if (attempt === this.#attempt) this.#noteStart(attempt);
    },
    attemptProgress: (attempt, value) => {
      if (attempt !== this.#attempt) return;
      this.#progress = value as G;
      this.#host.onProgress(this.instanceId, attempt.number, value);
    },
    attemptEnded: (attempt, exit) => {
      if (attempt === this.#attempt) this.#onExit(exit);
    },
  };

  constructor(host: TrackerHost, request: AcceptedRequest) {
    this.#host = host;
    this.#request = request;
    this.instanceId = request.instanceId;
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
    this.#reports = new InstanceReports(host, this.#createTime);
    if (request.signal !== undefined) this.#stopListening = listenToAbort(request.signal, () => this[kCallerAbort]());
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
    if (this.#firstStart() === null) return TaskStatus.WORKER_RECEIVED;
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

  /** Runtime: hands the first attempt to the pool. Returns false when the instance no longer wants to run. */
  [kStart](): boolean {
    if (this.#state.phase !== Phase.QUEUED) return false;
    this.#state = { ...this.#state, phase: Phase.RUNNING };
    const { timeoutMs } = this.#request;
    if (timeoutMs !== undefined) {
      this.#clock = new DeadlineClock(timeoutMs, () => this.#firstStart(), () => this.#escalate('timeout'));
      this.#clock.start();
    }
    this.#runAttempt();
    return true;
  }

  /** Runtime: `close()` stops this instance, and terminates it after the grace even when force-stop is off. */
  [kStopForClose](): void {
    this.#escalate('close');
  }

  /** Runtime's report ticker: sends the RUNNING report if one is due. */
  [kReportTick](now: number): void {
    if (this.#state.phase < Phase.FINISHED) this.#reports.tick(now, () => this.#view());
  }

  // Carries out the move the escalation machine makes for `event`.
  #escalate(event: EscalationEvent): void {
    const attempt = this.#attempt;
    const { state, move } = escalate(this.#state, event, { allowForceStop: this.#host.options.allowForceStop, attemptEnded: attempt?.ended === true });
    this.#state = state;
    const logger = this.#host.logger;
    switch (move) {
      case 'none':
        return;
      case 'ignore-finished':
        logger.warn({ instanceId: this.instanceId, status: this.taskStatus }, 'stop ignored: the instance has finished');
        return;
      case 'ignore-stopping':
        logger.warn({ instanceId: this.instanceId }, 'stop ignored: the instance is already stopping');
        return;
      case 'already-interrupted':
        logger.info({ instanceId: this.instanceId, cause: isStop(state.cause) ? 'stop' : 'timeout' }, 'already interrupted');
        return;
      case 'end-unstarted':
        logger.warn({ instanceId: this.instanceId, stoppedBy: state.cause }, 'stopped before start: the instance will not run');
        this.#onAttemptEnd(Ending.NEVER_STARTED, '');
        return;
      case 'interrupt':
        this.#interrupt();
        return;
      case 'await-reply':
        // Should the reply still not come (a worker stuck after it answered), the force-stop goes ahead after the wait.
        this.#graceAfter(REPLY_ON_ITS_WAY_MS);
        return;
      case 'force-stop':
        this.#forceStop();
        return;
      case 'run-on':
        logger.warn({ instanceId: this.instanceId }, 'the instance ignores its interrupt and force-stop is off (allowForceStop: false): it runs on');
        return;
    }
  }

  /**
   * Interrupts the current attempt. If its worker has not started it, it is cancelled instead (then it never runs),
   * and the instance ends under its cause: never started, or — for a retry that had not started — as the attempt
   * before it ended.
   */
  #interrupt(): void {
    const attempt = this.#attempt;
    if (this.#retryTimer !== undefined || attempt === undefined) {
      // Between a worker's death and the retry, backing off: the retry never runs, and the instance ends as the
      // attempt before it did.
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      this.#onAttemptEnd(this.#lastEnding, this.#lastText);
      return;
    }
    // The flag before anything else: a hot loop sees it now.
    attempt.interrupt();
    if (attempt.cancel()) {
      this.#attempt = undefined;
      this.#attempts--;
      if (this.#attempts === 0) this.#host.logger.warn({ instanceId: this.instanceId }, 'stopped before start: the instance will not run');
      this.#onAttemptEnd(this.#attempts === 0 ? Ending.NEVER_STARTED : this.#lastEnding, this.#lastText);
      return;
    }
    const cause = this.#state.cause;
    if (channels.interrupt.hasSubscribers) {
      channels.interrupt.publish({ ...this.#about(this.#attempts), cause: isStop(cause) ? 'stop' : 'timeout' } satisfies InterruptMessage);
    }
    if (cause === 'timeout') {
      this.#host.logger.warn({ instanceId: this.instanceId, startTime: this.#startTime, timeoutMs: this.#request.timeoutMs }, 'timeout: instance interrupted');
    } else {
      this.#host.logger.info({ instanceId: this.instanceId, stoppedBy: cause }, 'stop requested: instance interrupted');
    }
    const grace = this.#host.options.forceStopGraceMs ?? defaultGrace(this.#request.timeoutMs);
    if (grace === 0) this.#escalate('grace-expired'); // no grace: terminate now, not a timer tick later
    else this.#graceAfter(Math.ceil(grace));
  }

  #graceAfter(ms: number): void {
    this.#graceTimer = setTimeout(() => {
      this.#graceTimer = undefined;
      this.#escalate('grace-expired');
    }, ms);
  }

  #forceStop(): void {
    const attempt = this.#attempt;
    if (attempt === undefined) return;
    this.#clearTimers();
    // Its worker is marked at once and terminated once this turn is over; the dispatch goes back now, so that the next
    // queued instance (which a spare takes) never waits for the terminate. The instance ends once its thread has
    // exited, or is known stuck. Should the attempt's end be here already (held behind its last lines), it is taken
    // as it is, now, and there is nothing to terminate.
    if (!attempt.terminate()) return;
    this.#host.metrics.forceStops++;
    if (channels.forceStop.hasSubscribers) {
      channels.forceStop.publish({ ...this.#about(this.#attempts), cause: isStop(this.#state.cause) ? 'stop' : 'timeout' } satisfies ForceStopMessage);
    }
    this.#host.logger.warn({ instanceId: this.instanceId }, 'the instance did not finish after its interrupt: terminating its worker');
    this.#noteStart(attempt);
    this.#release();
  }

  /** Gives the dispatch back (once): the next queued instance may take it. */
  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#host.release();
  }

  #runAttempt(): void {
    const request = this.#request;
    const fields: MutableFields = { processorIndex: request.processorIndex, instanceId: request.instanceId };
    // Fields at their default (0), and those the instance does not have, are left out: each key is copied to the
    // worker on every attempt.
    if (this.#attempts > 0) fields.currentRetryTimes = this.#attempts;
    if (request.maxRetries > 0) fields.maxRetryTimes = request.maxRetries;
    if (request.jobId !== undefined) fields.jobId = request.jobId;
    if (request.wfInstanceId !== undefined) fields.wfInstanceId = request.wfInstanceId;
    if (this.#trace !== undefined) fields.trace = this.#trace;
    if (channels.start.hasSubscribers) fields.announce = true;
    // Moved params go with the first attempt; an instance with retries holds them in shared memory instead.
    const taken = request.params.take();
    putParams(fields, taken.params);
    const rescue = taken.rescue;
    this.#attempts++;
    this.#attempt = this.#host.pool.run(
      fields,
      this.#listener,
      taken.transfer.length > 0 ? taken.transfer : undefined,
      rescue === undefined ? undefined : () => {
        const again = rescue();
        return { request: putParams({ ...fields }, again.params), transfer: again.transfer };
      },
    );
  }

  #onExit(exit: AttemptExit): void {
    if (this.#state.phase !== Phase.RUNNING) return;
    switch (exit.kind) {
      case 'reply':
        this.#acceptReply(exit.reply);
        return;
      case 'terminated':
        this.#onAttemptEnd(exit.exited ? Ending.FORCE_STOPPED : Ending.FORCE_STOP_STUCK, '');
        return;
      case 'died':
        if (exit.error instanceof WorkerBootError) {
          this.#onAttemptEnd(Ending.BOOT_FAILED, exit.error.message);
          return;
        }
        this.#host.logger.error({ instanceId: this.instanceId, err: exit.error }, 'the worker died under the attempt');
        this.#host.metrics.workerDeaths++;
        // "Name: message", without the [code] Node's own errors add to their text.
        this.#onAttemptEnd(Ending.WORKER_DIED, exit.error instanceof Error ? `${exit.error.name}: ${exit.error.message}` : textOf(exit.error));
        return;
    }
  }

  #acceptReply(reply: AttemptReply): void {
    const appended = reply.appended;
    if (appended !== undefined) this.#appended = Object.assign(this.#appended ?? Object.create(null), appended);
    let { end } = reply;
    let text = reply.msg ?? '';
    // A stopped instance keeps no value: its moved buffers are simply let go.
    if (end === AttemptEnd.SUCCEEDED && !isStop(this.#state.cause)) {
      try {
        this.#value = (reply.valueBytes === undefined ? reply.value : readValue(reply.valueBytes, reply.moved, reply.sharedViews)) as V;
      } catch (error) {
        end = AttemptEnd.VALUE_NOT_CLONEABLE;
        text = textOf(error instanceof Error ? error.message : error);
      }
    }
    this.#onAttemptEnd(end, text);
  }

  // Every end of an attempt comes here: decideOutcome says whether it is retried or how the instance ends.
  #onAttemptEnd(ending: Ending, text: string): void {
    const attempt = this.#attempt;
    this.#attempt = undefined;
    // This attempt's start, before a retry's: null if it never started (cancelled, or its worker died first).
    if (attempt !== undefined) this.#noteStart(attempt);
    this.#lastEnding = ending;
    this.#lastText = text;
    const decision = decideOutcome({
      ending,
      text,
      cause: this.#state.cause,
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
      if (this.#state.phase === Phase.RUNNING) this.#runAttempt();
    }, backoff);
  }

  /** When the first attempt started in its worker (epoch ms), or null while it has not: asked of the current attempt. */
  #firstStart(): number | null {
    const attempt = this.#attempt;
    if (this.#startedAt === null && attempt !== undefined) this.#noteStart(attempt);
    return this.#startedAt;
  }

  /**
   * If `attempt` has started: its start is kept if it is the instance's first, counted once for the metrics (the
   * instance's wait) and published once on the start channel.
   */
  #noteStart(attempt: Attempt): void {
    const number = attempt.number + 1;
    if (number <= this.#startsSeen) return;
    const startedAt = attempt.startedAt;
    if (startedAt === null) return;
    this.#startsSeen = number;
    const waitMs = startedAt - this.#submittedAt;
    if (this.#startedAt === null) {
      this.#startedAt = startedAt;
      this.#host.metrics.started(this.#request.processorName, waitMs, startedAt - TIME_ORIGIN);
    }
    if (channels.start.hasSubscribers) {
      channels.start.publish({ ...this.#about(number), time: startedAt, threadId: attempt.threadId, waitMs } satisfies StartMessage);
    }
  }

  /** What every message on the instance channels holds, about attempt `attempt`, now. */
  #about(attempt: number): { instanceId: string; processor: string; attempt: number; time: number } {
    return { instanceId: this.instanceId, processor: this.#request.processorName, attempt, time: epochNow() };
  }

  /** The first start, as outcomes and reports give it: whole epoch ms, never after the tracker learned of it. */
  get #startTime(): number | null {
    const startedAt = this.#state.phase === Phase.RUNNING ? this.#firstStart() : this.#startedAt;
    return startedAt === null ? null : Math.max(this.#createTime, Math.min(Math.round(startedAt), this.#endTime ?? Date.now()));
  }

  #finish(decision: Decision): void {
    const dispatched = this.#state.phase === Phase.RUNNING;
    this.#state = { ...this.#state, phase: Phase.FINISHED };
    this.#decision = decision;
    this.#endTime = Date.now();
    this.#clearTimers();
    if (dispatched) this.#release();
    const startTime = this.#startTime;
    // Guarded: this line comes once per instance that ran, and its fields are built even when the level is off.
    if (startTime !== null && this.#host.logger.isLevelEnabled('info')) {
      this.#host.logger.info(
        { instanceId: this.instanceId, status: this.taskStatus, reason: decision.attemptReason, attempts: this.#attempts, queueMs: startTime - this.#createTime, runMs: this.#endTime - startTime },
        'instance finished',
      );
    }
    this.#settle(decision);
    // A stopped instance is not reported: the side that asked for the stop already knows.
    if (decision.status === OutcomeStatus.STOPPED) this.#destroy();
    else this.#reports.deliverFinal(this.#view(), () => this.#destroy());
  }

  #view(): ReportView {
    const request = this.#request;
    return {
      instanceId: this.instanceId,
      jobId: request.jobId,
      wfInstanceId: request.wfInstanceId,
      decision: this.#decision,
      startTime: this.#startTime,
      endTime: this.#endTime,
      appended: this.#appended,
      progress: this.#progress,
    };
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
    if (channels.end.hasSubscribers) channels.end.publish({ ...this.#about(this.#startsSeen), outcome } satisfies EndMessage);
    this.#resolveDone(outcome);
  }

  #destroy(): void {
    if (this.#state.phase === Phase.DESTROYED) {
      this.#host.logger.warn({ instanceId: this.instanceId }, 'destroy ignored: the tracker is already destroyed');
      return;
    }
    this.#clearTimers();
    this.#state = { ...this.#state, phase: Phase.DESTROYED };
    this.#host.forget(this);
    if (this.#host.logger.isLevelEnabled('info')) {
      const startTime = this.#startTime;
      const endTime = this.#endTime;
      this.#host.logger.info(
        {
          instanceId: this.instanceId,
          status: this.taskStatus,
          startTime,
          endTime,
          queueMs: startTime === null ? null : startTime - this.#createTime,
          runMs: startTime === null || endTime === null ? null : endTime - startTime,
          totalMs: Date.now() - this.#createTime,
        },
        'tracker destroyed',
      );
    }
  }

  #clearTimers(): void {
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#graceTimer);
    this.#clock?.stop();
    this.#retryTimer = this.#graceTimer = undefined;
  }
}

type MutableFields = { -readonly [K in keyof AttemptFields]: AttemptFields[K] };

/** Puts the params an instance has into its attempt's fields (a key left out is not copied across). */
function putParams(fields: MutableFields, params: Params): MutableFields {
  if (params.jobParams !== undefined) fields.jobParams = params.jobParams;
  if (params.instanceParams !== undefined) fields.instanceParams = params.instanceParams;
  if (params.childrenValues !== undefined) fields.childrenValues = params.childrenValues;
  return fields;
}

/** The reference's check period: timeout/10 for timeouts under 1 s, else 1 s. */
function defaultGrace(timeoutMs: number | undefined): number {
  return timeoutMs !== undefined && timeoutMs < 1000 ? timeoutMs / 10 : 1000;
}
