// One tracker per job instance, in the main thread: it runs the instance's attempts through the pool's Attempt
// handle, retries them, and ends the instance. Its parts each own one idea: the escalation state machine
// (escalation.ts) makes every move of its phase, cause and stage; its timeout clock (deadline.ts); its reports
// (tracker-reports.ts); and what an attempt's end means is decided by decideOutcome (outcome.ts), never here.
import type { Attempt, AttemptExit, AttemptListener } from './attempt.js';
import { listenToAbort } from './caller-signal.js';
import { channels } from './channels.js';
import { epochNow } from './clock.js';
import { DeadlineClock } from './deadline.js';
import { WorkerBootError } from './errors.js';
import { escalate, initialEscalation, interruptsAttempt, Phase, type EscalationEvent, type EscalationState } from './escalation.js';
import { decideOutcome, Ending, isStop, type Decision, type Outcome } from './outcome.js';
import { AttemptEnd, type AttemptReply, type ChunkCargo } from './messages.js';
import { textOf } from './text.js';
import type { RunningStatus } from './report.js';
import type { AcceptedRequest } from './request.js';
import { attemptCargo, publishSubmit, readReply } from './attempt-fields.js';
import { OutcomeStatus, type TaskStatus } from './status.js';
import { runningStatusOf, taskStatusOf } from './status-views.js';
import { kCallerAbort, kConsumed, kReportTick, kStart, kStopForClose } from './symbols.js';
import { defaultGrace, REPLY_ON_ITS_WAY_MS, type ChunkSink, type TrackerHost } from './tracker-host.js';
import { HeartbeatWatch } from './heartbeat.js';
import { Starts } from './starts.js';
import { interruptHeard, sayFinished, sayInterrupted, sayMove, sayRetry, sayTerminated } from './tracker-events.js';
import { InstanceReports, logDestroyed, type ReportView } from './tracker-reports.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyTracker = Tracker<any, any, any>;

/** One instance's tracker. `V` is the type of its processor's value, `G` of its progress, `S` of its checkpoints. */
export class Tracker<V = unknown, G = unknown, S = unknown> {
  readonly instanceId: string;
  /** Settles exactly once, when the instance's outcome is decided. Never rejects. */
  readonly done: Promise<Outcome<V, S>>;

  readonly #host: TrackerHost;
  readonly #request: AcceptedRequest;
  readonly #createTime = Date.now();
  readonly #submittedAt = epochNow(); // for wait times (epoch ms, µs precision)
  readonly #reports: InstanceReports;
  #resolveDone!: (outcome: Outcome<V, S>) => void;
  #state: EscalationState = initialEscalation;
  #decision: Decision | undefined;
  /** Its attempts' starts; the first is the instance's start. */
  readonly #starts: Starts;
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
  #checkpoint: S | undefined;
  #stack: string | undefined; // where the last force-stopped attempt's thread was
  /** The current attempt's stall watch (with heartbeatTimeoutMs). */
  #heartbeats: HeartbeatWatch | undefined;
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
  readonly #sink: ChunkSink | undefined; // an instance of runtime.stream(): where its chunks go
  #chunks = 0; // chunks its attempts have handed on: once there is one, no attempt is retried
  /**
   * What the pool says of an attempt, which counts only while it is the current one. A class, not closures: a queued
   * instance holds one small object for it, where five closures would cost the garbage collector on every instance.
   */
  static readonly #Listener = class TrackerListener implements AttemptListener {
    constructor(readonly tracker: AnyTracker) {}
    attemptStarted(attempt: Attempt): void {
      if (attempt === this.tracker.#attempt) this.tracker.#starts.note(attempt);
    }
    attemptCheckpoint(attempt: Attempt, state: unknown): void {
      const t = this.tracker;
      if (attempt === t.#attempt) t.#host.onCheckpoint(t.instanceId, attempt.number, (t.#checkpoint = state));
    }
    attemptProgress(attempt: Attempt, value: unknown): void {
      const t = this.tracker;
      if (attempt === t.#attempt) t.#host.onProgress(t.instanceId, attempt.number, (t.#progress = value));
    }
    attemptEnded(attempt: Attempt, exit: AttemptExit): void {
      if (attempt === this.tracker.#attempt) this.tracker.#onExit(exit);
    }
    attemptChunk(attempt: Attempt, chunk: ChunkCargo): void {
      const t = this.tracker;
      if (attempt !== t.#attempt || t.#sink === undefined) return;
      t.#chunks++;
      t.#sink.chunk(chunk);
    }
  };
  readonly #listener: AttemptListener = new Tracker.#Listener(this);

  /** `sink`: an instance of `runtime.stream()`, whose chunks go there. */
  constructor(host: TrackerHost, request: AcceptedRequest, sink?: ChunkSink) {
    this.#host = host;
    this.#request = request;
    this.#sink = sink;
    this.instanceId = request.instanceId;
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    this.#reports = new InstanceReports(host, this.#createTime);
    this.#checkpoint = request.resumeFrom as S | undefined;
    this.#starts = new Starts(this.instanceId, request.processorName, this.#submittedAt, host.metrics);
    if (request.signal !== undefined) this.#stopListening = listenToAbort(request.signal, () => this[kCallerAbort]());
    if (channels.submit.hasSubscribers) this.#trace = publishSubmit(request, this.#submittedAt);
  }

  /** The reference's TaskStatus: WORKER_RECEIVED → WORKER_PROCESSING → WORKER_PROCESS_SUCCESS | WORKER_PROCESS_FAILED. */
  get taskStatus(): TaskStatus {
    return taskStatusOf(this.#firstStart() !== null, this.#decision);
  }

  /** The latest checkpoint: the last any attempt made (`ctx.checkpoint`), else the request's `resumeFrom`, else undefined. */
  get checkpoint(): S | undefined {
    return this.#checkpoint;
  }

  /** The latest progress value its processor reported (`ctx.progress`), or undefined before the first. */
  get progress(): G | undefined {
    return this.#progress;
  }

  /** The scheduler's running-status query (PowerJob `InstanceDetail`). */
  runningStatus(): RunningStatus {
    return runningStatusOf(this.taskStatus, this.#decision, this.#createTime, this.#host.options.address);
  }

  /**
   * Stops the instance. Queued: it never runs. Running: it is interrupted, and force-stopped after the grace if it goes
   * on (when `allowForceStop`). Finished, or stopping: ignored, with a warning. No final report; `done` says STOPPED.
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
    if (timeoutMs !== undefined) (this.#clock = new DeadlineClock(timeoutMs, () => this.#firstStart(), () => this.#escalate('timeout'))).start();
    this.#runAttempt();
    return true;
  }

  /** Runtime: `close()` stops this instance, and terminates it after the grace even when force-stop is off. */
  [kStopForClose](): void {
    this.#escalate('close');
  }

  /** Stream: its caller has consumed `count` more chunks; the current attempt's generator may go on. */
  [kConsumed](count: number): void {
    this.#attempt?.chunksConsumed(count);
  }

  /** Runtime's report ticker: sends the RUNNING report if one is due. */
  [kReportTick](now: number): void {
    if (this.#state.phase < Phase.FINISHED) this.#reports.tick(now, () => this.#view());
  }

  // Carries out the move the escalation machine makes for `event`; the attempt's flag first, when it is to be set: a
  // hot loop and the signal's listeners see it now, the move comes after.
  #escalate(event: EscalationEvent): void {
    const attempt = this.#attempt;
    const flagged = attempt !== undefined && interruptsAttempt(this.#state, event);
    if (flagged) attempt.interrupt();
    const { state, move } = escalate(this.#state, event, { allowForceStop: this.#host.options.allowForceStop, attemptEnded: attempt?.ended === true });
    this.#state = state;
    switch (move) {
      case 'none':
        return;
      case 'end-unstarted':
        sayMove(this.#host.logger, move, this.instanceId, state.cause);
        return this.#onAttemptEnd(Ending.NEVER_STARTED, '');
      case 'interrupt':
        return this.#interrupt(flagged);
      case 'await-reply':
        // Should the reply still not come (a worker stuck after it answered), the force-stop goes ahead after the wait.
        return this.#graceAfter(REPLY_ON_ITS_WAY_MS);
      case 'force-stop':
        return this.#forceStop();
      default:
        return sayMove(this.#host.logger, move, this.instanceId, move === 'ignore-finished' ? this.taskStatus : state.cause);
    }
  }

  /**
   * Interrupts the current attempt (unless `flagged` already). If its worker has not started it, it is cancelled
   * instead (it never runs), and the instance ends as never started, or a retry's as the attempt before it ended.
   */
  #interrupt(flagged: boolean): void {
    const attempt = this.#attempt;
    if (this.#retryTimer !== undefined || attempt === undefined) {
      // Between a worker's death and the retry, backing off: the retry never runs, and the instance ends as the
      // attempt before it did.
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      this.#onAttemptEnd(this.#lastEnding, this.#lastText);
      return;
    }
    if (!flagged) attempt.interrupt();
    if (attempt.cancel()) {
      this.#attempt = undefined;
      this.#attempts--;
      if (this.#attempts === 0) this.#host.logger.warn({ instanceId: this.instanceId }, 'stopped before start: the instance will not run');
      this.#onAttemptEnd(this.#attempts === 0 ? Ending.NEVER_STARTED : this.#lastEnding, this.#lastText);
      return;
    }
    const cause = this.#state.cause;
    const { timeoutMs, heartbeatTimeoutMs } = this.#request;
    if (interruptHeard(this.#host.logger, cause)) sayInterrupted(this.#host.logger, this.#starts.about(this.#attempts), { cause, startTime: this.#startTime, timeoutMs, heartbeatTimeoutMs });
    const grace = this.#host.options.forceStopGraceMs ?? defaultGrace(cause === 'stall' ? heartbeatTimeoutMs : timeoutMs);
    if (grace === 0) this.#escalate('grace-expired'); // no grace: terminate now, not a timer tick later
    else this.#graceAfter(Math.ceil(grace));
  }

  #graceAfter(ms: number): void {
    this.#graceTimer = setTimeout(() => this.#escalate('grace-expired'), ms);
  }

  #forceStop(): void {
    const attempt = this.#attempt;
    if (attempt === undefined) return;
    // A stalled attempt's instance keeps its timeout: its retry runs within the same budget.
    if (this.#state.cause === 'stall') this.#clearAttemptTimers();
    else this.#clearTimers();
    // Its worker is marked at once and terminated once this turn is over; the dispatch goes back now, so that the next
    // queued instance (which a spare takes) never waits for the terminate. The instance ends once its thread has
    // exited, or is known stuck. Should the attempt's end be here already (held behind its last lines), it is taken
    // as it is, now, and there is nothing to terminate.
    if (!attempt.terminate()) return;
    this.#host.metrics.forceStops++;
    this.#starts.note(attempt);
    // A stalled attempt's instance may retry: it keeps its place.
    if (this.#state.cause !== 'stall') this.#release();
  }

  /** The force-stopped attempt's thread is gone (or known stuck): said, with where it was. */
  #onTerminated(exited: boolean, stack: string | undefined): void {
    this.#stack = stack;
    sayTerminated(this.#host.logger, this.#starts.about(this.#attempts), { cause: this.#state.cause, stack });
    this.#onAttemptEnd(exited ? Ending.FORCE_STOPPED : Ending.FORCE_STOP_STUCK, '');
  }

  /** Gives the dispatch back (once): the next queued instance may take it. */
  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#host.release();
  }

  #runAttempt(): void {
    const { fields, transfer, rescue } = attemptCargo(this.#request, this.#attempts, this.#trace, this.#checkpoint, this.#sink?.highWaterMark);
    this.#attempts++;
    const attempt = (this.#attempt = this.#host.pool.run(fields, this.#listener, transfer, rescue));
    this.#stack = undefined; // the outcome's stack is its last attempt's
    const heartbeatTimeoutMs = this.#request.heartbeatTimeoutMs;
    if (heartbeatTimeoutMs !== undefined) this.#heartbeats = new HeartbeatWatch(heartbeatTimeoutMs, attempt, () => this.#escalate('stall'), this.#sink?.held);
  }

  #onExit(exit: AttemptExit): void {
    if (this.#state.phase !== Phase.RUNNING) return;
    if (exit.kind === 'reply') return this.#acceptReply(exit.reply);
    if (exit.kind === 'terminated') return this.#onTerminated(exit.exited, exit.stack);
    const { error } = exit;
    if (error instanceof WorkerBootError) return this.#onAttemptEnd(Ending.BOOT_FAILED, error.message);
    this.#host.logger.error({ instanceId: this.instanceId, err: error }, 'the worker died under the attempt');
    this.#host.metrics.workerDeaths++;
    // "Name: message", without the [code] Node's own errors add to their text.
    this.#onAttemptEnd(Ending.WORKER_DIED, error instanceof Error ? `${error.name}: ${error.message}` : textOf(error));
  }

  #acceptReply(reply: AttemptReply): void {
    const appended = reply.appended;
    if (appended !== undefined) this.#appended = Object.assign(this.#appended ?? Object.create(null), appended);
    // A stopped instance keeps no value: its moved buffers are simply let go.
    const { end, text, value } = readReply(reply, !isStop(this.#state.cause));
    if (end === AttemptEnd.SUCCEEDED) this.#value = value as V;
    this.#onAttemptEnd(end, text);
  }

  // Every end of an attempt comes here: decideOutcome says whether it is retried or how the instance ends.
  #onAttemptEnd(ending: Ending, text: string): void {
    const attempt = this.#attempt;
    this.#attempt = undefined;
    // This attempt's start, before a retry's: null if it never started (cancelled, or its worker died first).
    if (attempt !== undefined) this.#starts.note(attempt);
    this.#lastEnding = ending;
    this.#lastText = text;
    const decision = decideOutcome({
      ending,
      text,
      cause: this.#state.cause,
      retriesLeft: this.#request.maxRetries + 1 - this.#attempts,
      processorName: this.#request.processorName,
      chunksDelivered: this.#chunks > 0,
    });
    if (!decision.retry) {
      this.#finish(decision);
      return;
    }
    sayRetry(this.#host.logger, this.#starts.about(this.#attempts + 1), decision);
    // A stalled attempt's retry starts undisturbed.
    this.#clearAttemptTimers();
    this.#state = escalate(this.#state, 'retry', { allowForceStop: this.#host.options.allowForceStop, attemptEnded: false }).state;
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
    if (this.#starts.first === null && this.#attempt !== undefined) this.#starts.note(this.#attempt);
    return this.#starts.first;
  }

  /** The first start, as outcomes and reports give it: whole epoch ms, never after the tracker learned of it. */
  get #startTime(): number | null {
    const startedAt = this.#state.phase === Phase.RUNNING ? this.#firstStart() : this.#starts.first;
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
    if (startTime !== null && this.#host.logger.isLevelEnabled('info')) sayFinished(this.#host.logger, this.instanceId, this.taskStatus, decision, this.#attempts, startTime - this.#createTime, this.#endTime - startTime);
    this.#stopListening?.();
    const outcome: Outcome<V, S> = {
      status: decision.status,
      reason: decision.reason,
      result: decision.text,
      value: decision.status === OutcomeStatus.SUCCEED ? this.#value : undefined,
      attempts: this.#attempts,
      startTime,
      endTime: this.#endTime,
      stoppedBy: decision.stoppedBy,
      abortReason: decision.stoppedBy === 'signal' ? this.#request.signal?.reason : undefined,
      checkpoint: this.#checkpoint,
      stack: this.#stack,
    };
    this.#starts.ended(outcome);
    this.#resolveDone(outcome);
    // A stopped instance is not reported: the side that asked for the stop already knows.
    if (decision.status === OutcomeStatus.STOPPED) this.#destroy();
    else this.#reports.deliverFinal(this.#view(), () => this.#destroy());
  }

  #view(): ReportView {
    const { jobId, wfInstanceId } = this.#request;
    const { instanceId } = this;
    return { instanceId, jobId, wfInstanceId, decision: this.#decision, startTime: this.#startTime, endTime: this.#endTime, appended: this.#appended, progress: this.#progress };
  }

  #destroy(): void {
    if (this.#state.phase === Phase.DESTROYED) return this.#host.logger.warn({ instanceId: this.instanceId }, 'destroy ignored: the tracker is already destroyed');
    this.#clearTimers();
    this.#state = { ...this.#state, phase: Phase.DESTROYED };
    this.#host.forget(this);
    logDestroyed(this.#host.logger, this.#view(), this.taskStatus, this.#createTime);
  }

  /** The current attempt's own timers: its grace, its stall watch. */
  #clearAttemptTimers(): void {
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#heartbeats?.stop();
  }

  #clearTimers(): void {
    this.#clearAttemptTimers();
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#clock?.stop();
  }
}
