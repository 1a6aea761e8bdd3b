// One instance's escalation, as a state machine: its phase (queued → running → finished → destroyed), why its attempt
// is being ended from outside (its cause: none, timeout, a stall, or a stop by what stopped it), and how far that has
// gone (its stage). A stall is one attempt's: its retry starts afresh.
// Every move is made by `escalate`, a pure function: the tracker carries out the move it returns.
import { isStop, type Cause } from './outcome.js';

export const Phase = Object.freeze({ QUEUED: 0, RUNNING: 1, FINISHED: 2, DESTROYED: 3 } as const);
export type Phase = (typeof Phase)[keyof typeof Phase];

/** How far the tracker has gone to end the running attempt from outside. */
export const Stage = Object.freeze({
  NONE: 0,
  /** The attempt's flag is set; its grace runs. */
  INTERRUPTED: 1,
  /** The grace has passed and force-stop is off: it runs on, until it ends or close() terminates it. */
  OVERDUE: 2,
  /** Its worker is being terminated. */
  FORCE_STOPPED: 3,
} as const);
export type Stage = (typeof Stage)[keyof typeof Stage];

export interface EscalationState {
  readonly phase: Phase;
  readonly cause: Cause;
  readonly stage: Stage;
  /** close() has reached it: it is terminated after its grace even with force-stop off. */
  readonly closing: boolean;
  /** A force-stop found the attempt's reply on its way, and waits for it (once). */
  readonly replyAwaited: boolean;
}

export const initialEscalation: EscalationState = Object.freeze({
  phase: Phase.QUEUED,
  cause: 'none',
  stage: Stage.NONE,
  closing: false,
  replyAwaited: false,
});

/**
 * What moves an escalation: a stop from outside (a call, or the caller's signal), its timeout, the grace after an
 * interrupt running out, close().
 */
export type EscalationEvent = 'stop' | 'signal' | 'timeout' | 'stall' | 'grace-expired' | 'close' | 'retry';

/**
 * Whether `event` interrupts the running attempt now: exactly when `escalate` moves to 'interrupt'. Asked first, so
 * that the tracker sets the attempt's flag before it works out the move: a hot loop, or a listener on the attempt's
 * signal, is not kept waiting for it.
 */
export function interruptsAttempt(state: EscalationState, event: EscalationEvent): boolean {
  if (state.phase !== Phase.RUNNING || state.stage !== Stage.NONE || state.cause !== 'none') return false;
  switch (event) {
    case 'stop':
    case 'signal':
    case 'timeout':
    case 'stall':
    case 'close':
      return true;
    default:
      return false;
  }
}

/** What the tracker does next. */
export type Move =
  /** Nothing. */
  | 'none'
  /** A stop came after the finish: ignored, with a warning. */
  | 'ignore-finished'
  /** A stop came while already stopping: ignored, with a warning. */
  | 'ignore-stopping'
  /** Its interrupt was already sent (a stop after a timeout): its grace runs on. */
  | 'already-interrupted'
  /** Stopped while queued: it ends without running. */
  | 'end-unstarted'
  /** Interrupt the attempt (or cancel it, if it has not started), and start the grace. */
  | 'interrupt'
  /** The attempt has ended in its worker and its reply is on its way: wait for it a while, then look again. */
  | 'await-reply'
  /** Terminate the attempt's worker. */
  | 'force-stop'
  /** The grace is spent and force-stop is off: it runs on, with a warning. */
  | 'run-on';

/** What the machine needs to know of the world. */
export interface EscalationFacts {
  readonly allowForceStop: boolean;
  /** The running attempt has ended in its worker (its reply is on its way, or here). */
  readonly attemptEnded: boolean;
}

export interface Escalated {
  readonly state: EscalationState;
  readonly move: Move;
}

/** The one place that moves an escalation. */
export function escalate(state: EscalationState, event: EscalationEvent, facts: EscalationFacts): Escalated {
  switch (event) {
    case 'stop':
    case 'signal':
      return stop(state, event);
    case 'timeout':
      if (state.phase !== Phase.RUNNING) return { state, move: 'none' };
      // A timeout outranks a stall: the instance's budget is spent, whatever its attempt was doing.
      return interrupt(state.cause === 'none' || state.cause === 'stall' ? { ...state, cause: 'timeout' } : state);
    case 'stall':
      // No heartbeat for heartbeatTimeoutMs: the attempt is ended as a timeout's is, unless something else is ending it.
      if (state.phase !== Phase.RUNNING || state.cause !== 'none') return { state, move: 'none' };
      return interrupt({ ...state, cause: 'stall' });
    case 'retry':
      // The next attempt after a stalled one starts undisturbed.
      if (state.cause !== 'stall') return { state, move: 'none' };
      return { state: { ...state, cause: 'none', stage: Stage.NONE, replyAwaited: false }, move: 'none' };
    case 'grace-expired':
      if (state.phase !== Phase.RUNNING) return { state, move: 'none' };
      if (facts.allowForceStop || state.closing) return forceStop(state, facts);
      return { state: { ...state, stage: Stage.OVERDUE }, move: 'run-on' };
    case 'close': {
      const closing = { ...state, closing: true };
      if (closing.phase >= Phase.FINISHED) return { state: closing, move: 'none' };
      const stopped = isStop(closing.cause) ? { state: closing, move: 'none' as Move } : stop(closing, 'stop');
      // Interrupted earlier (a timeout) and its grace already spent without a force-stop: terminated now.
      if (stopped.state.stage === Stage.OVERDUE) return forceStop(stopped.state, facts);
      return stopped;
    }
  }
}

function stop(state: EscalationState, event: 'stop' | 'signal'): Escalated {
  if (state.phase >= Phase.FINISHED) return { state, move: 'ignore-finished' };
  if (isStop(state.cause)) return { state, move: 'ignore-stopping' };
  // What stopped it: close()'s own stop, or the call or signal. A stop outranks a timeout that came first.
  const stopped = { ...state, cause: state.closing ? ('close' as const) : event };
  if (stopped.phase === Phase.QUEUED) return { state: stopped, move: 'end-unstarted' };
  return interrupt(stopped);
}

function interrupt(state: EscalationState): Escalated {
  if (state.stage !== Stage.NONE) return { state, move: 'already-interrupted' };
  return { state: { ...state, stage: Stage.INTERRUPTED }, move: 'interrupt' };
}

function forceStop(state: EscalationState, facts: EscalationFacts): Escalated {
  if (state.stage === Stage.FORCE_STOPPED) return { state, move: 'none' };
  // The attempt has ended in its worker and its reply is on its way (the main thread was busy when it came): the reply
  // wins, as the job's own outcome. Should it still not come, the force-stop goes ahead the next time.
  if (facts.attemptEnded && !state.replyAwaited) return { state: { ...state, replyAwaited: true }, move: 'await-reply' };
  return { state: { ...state, stage: Stage.FORCE_STOPPED }, move: 'force-stop' };
}
