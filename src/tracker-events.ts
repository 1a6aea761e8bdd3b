// What a tracker says as its instance's attempt is ended from outside or retried: the lifecycle channel messages
// (behind hasSubscribers) and the log lines of an interrupt, of a force-stopped thread's end, of a retry, of a stop or
// timeout the instance's phase leaves nothing (or little) to do for, and of its finish.
import type { Logger } from 'pino';
import { channels, type EscalationCause, type ForceStopMessage, type InterruptMessage, type RetryMessage } from './channels.js';
import type { Move } from './escalation.js';
import { isStop, type Cause, type Decision } from './outcome.js';

/** What every message on the instance channels holds. */
type About = { instanceId: string; processor: string; attempt: number; time: number };

/** What the interrupt and force-stop channels say of a cause. */
export function escalationCause(cause: Cause): EscalationCause {
  return cause === 'stall' ? 'heartbeat' : cause === 'timeout' ? 'timeout' : 'stop';
}

/** Why an attempt was interrupted, and what its log line says of it. */
export interface Interrupt {
  readonly cause: Cause;
  readonly startTime: number | null;
  readonly timeoutMs: number | undefined;
  readonly heartbeatTimeoutMs: number | undefined;
}

/**
 * Whether an interrupt for `cause` is heard: by the interrupt channel, or by the logger at the level its line takes.
 * Checked before what the line says is worked out: a stop is on the way of its attempt's wake-up.
 */
export function interruptHeard(logger: Logger, cause: Cause): boolean {
  return channels.interrupt.hasSubscribers || logger.isLevelEnabled(interruptLevel(cause));
}

/** The level of an interrupt's log line: a timeout's and a stall's warn, a stop's is only information. */
function interruptLevel(cause: Cause): 'warn' | 'info' {
  return cause === 'timeout' || cause === 'stall' ? 'warn' : 'info';
}

/** The attempt was interrupted. */
export function sayInterrupted(logger: Logger, about: About, { cause, startTime, timeoutMs, heartbeatTimeoutMs }: Interrupt): void {
  if (channels.interrupt.hasSubscribers) channels.interrupt.publish({ ...about, cause: escalationCause(cause) } satisfies InterruptMessage);
  const { instanceId, attempt } = about;
  const level = interruptLevel(cause);
  if (cause === 'timeout') {
    logger[level]({ instanceId, startTime, timeoutMs }, 'timeout: instance interrupted');
  } else if (cause === 'stall') {
    logger[level]({ instanceId, attempt, heartbeatTimeoutMs }, 'stalled: no heartbeat within heartbeatTimeoutMs: attempt interrupted');
  } else {
    logger[level]({ instanceId, stoppedBy: cause }, 'stop requested: instance interrupted');
  }
}

/** The force-stopped attempt's thread is gone (or known stuck): said, with where it was. */
export function sayTerminated(logger: Logger, about: About, { cause, stack }: { readonly cause: Cause; readonly stack: string | undefined }): void {
  const said = escalationCause(cause);
  if (channels.forceStop.hasSubscribers) channels.forceStop.publish({ ...about, cause: said, stack } satisfies ForceStopMessage);
  logger.warn({ instanceId: about.instanceId, cause: said, stack }, 'the instance did not finish after its interrupt: terminating its worker');
}

/**
 * The instance, which ran, has finished: said at info. Its caller checks the level first: this comes once per instance,
 * and its arguments (the status among them) would be worked out even with the level off.
 */
export function sayFinished(logger: Logger, instanceId: string, status: string, decision: Decision, attempts: number, queueMs: number, runMs: number): void {
  logger.info({ instanceId, status, reason: decision.attemptReason, attempts, queueMs, runMs }, 'instance finished');
}

/** Attempt `about.attempt - 1` failed as `decision` says, and the next one runs. */
export function sayRetry(logger: Logger, about: About, decision: Decision): void {
  logger.warn({ instanceId: about.instanceId, reason: decision.reason, result: decision.text, currentRetryTimes: about.attempt - 1 }, 'attempt failed: retrying');
  if (channels.retry.hasSubscribers) channels.retry.publish({ ...about, reason: decision.attemptReason, result: decision.text } satisfies RetryMessage);
}

/**
 * The log line of an escalation move that changes nothing, or only ends an instance that never started: `detail` is
 * the instance's status for 'ignore-finished', else its cause.
 */
export function sayMove(logger: Logger, move: Move, instanceId: string, detail: string | undefined): void {
  switch (move) {
    case 'ignore-finished':
      return logger.warn({ instanceId, status: detail }, 'stop ignored: the instance has finished');
    case 'ignore-stopping':
      return logger.warn({ instanceId }, 'stop ignored: the instance is already stopping');
    case 'already-interrupted':
      return logger.info({ instanceId, cause: isStop(detail as Cause) ? 'stop' : 'timeout' }, 'already interrupted');
    case 'end-unstarted':
      return logger.warn({ instanceId, stoppedBy: detail }, 'stopped before start: the instance will not run');
    case 'run-on':
      return logger.warn({ instanceId }, 'the instance ignores its interrupt and force-stop is off (allowForceStop: false): it runs on');
    default:
  }
}
