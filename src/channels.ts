// The lifecycle events published on node:diagnostics_channel: the channels, by name, and what each message holds.
// A message is built only when its channel has subscribers: with none, publishing costs one property read.
import { channel } from 'node:diagnostics_channel';
import type { OutcomeReason } from './status.js';
import type { Outcome } from './outcome.js';

/** What every instance message holds. */
export interface InstanceMessage {
  readonly instanceId: string;
  readonly processor: string;
  /**
   * The attempt the event is about: 1 for the first, 2 for its first retry, …; 0 when none has started (a submit,
   * or an end before any start).
   */
  readonly attempt: number;
  /** When it happened (epoch ms, µs precision where the source has it). */
  readonly time: number;
}

/**
 * `light-task-tracker:instance:submit`, published inside `submit()`, in the caller's context. `trace` starts empty:
 * a subscriber may put string entries in it (a W3C `traceparent` and `tracestate`), and every attempt carries them
 * to its worker, where the processor reads them as `ctx.trace`.
 */
export interface SubmitMessage extends InstanceMessage {
  readonly trace: Record<string, string>;
  readonly timeoutMs: number | undefined;
  readonly maxRetries: number;
}

/** `light-task-tracker:instance:start`: an attempt started in its worker, at `time`, `waitMs` after the submit. */
export interface StartMessage extends InstanceMessage {
  readonly threadId: number;
  readonly waitMs: number;
}

/** Why an attempt is interrupted or force-stopped: a stop, the instance's timeout, or a stall (no heartbeat). */
export type EscalationCause = 'stop' | 'timeout' | 'heartbeat';

/** `light-task-tracker:instance:interrupt`: the running attempt was interrupted. */
export interface InterruptMessage extends InstanceMessage {
  readonly cause: EscalationCause;
}

/** `light-task-tracker:instance:force-stop`: the attempt's worker was terminated. */
export interface ForceStopMessage extends InstanceMessage {
  readonly cause: EscalationCause;
  /**
   * Where its thread was when it was terminated: one `    at fn (url:line:column)` line per frame (source-mapped where
   * a source map is present); undefined when `captureStack` is off or the capture did not finish in `stackCaptureMs`.
   */
  readonly stack: string | undefined;
}

/** `light-task-tracker:instance:retry`: an attempt failed and the next one (`attempt`) is handed to the pool. */
export interface RetryMessage extends InstanceMessage {
  /** Why the previous attempt failed. */
  readonly reason: OutcomeReason;
  readonly result: string;
}

/** `light-task-tracker:instance:end`: the outcome is decided (`tracker.done` resolves with it). */
export interface EndMessage extends InstanceMessage {
  readonly outcome: Outcome<unknown>;
}

/** `light-task-tracker:worker:start` / `:exit` / `:retire`. */
export interface WorkerMessage {
  readonly threadId: number;
  readonly time: number;
}

/** `light-task-tracker:worker:retire`: a worker is retired by `recycleWorkers`, and exits once idle. */
export interface RetireMessage extends WorkerMessage {
  readonly reason: 'afterAttempts' | 'heapUsedMb';
  readonly attempts: number;
  readonly heapUsedMb: number;
}

/** The channels, by the names they are published under. */
export const channels = Object.freeze({
  submit: channel('light-task-tracker:instance:submit'),
  start: channel('light-task-tracker:instance:start'),
  interrupt: channel('light-task-tracker:instance:interrupt'),
  forceStop: channel('light-task-tracker:instance:force-stop'),
  retry: channel('light-task-tracker:instance:retry'),
  end: channel('light-task-tracker:instance:end'),
  workerStart: channel('light-task-tracker:worker:start'),
  workerExit: channel('light-task-tracker:worker:exit'),
  workerRetire: channel('light-task-tracker:worker:retire'),
});
