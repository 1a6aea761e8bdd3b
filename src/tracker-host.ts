// What a tracker needs of its runtime (the pool behind its Attempt handle, the reports, the metrics), and the timings
// of its escalation.
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Attempt, AttemptListener } from './attempt.js';
import type { ChunkCargo } from './messages.js';
import type { Metrics } from './metrics.js';
import type { AttemptFields, Rescue } from './pool-options.js';
import type { ReportHost } from './tracker-reports.js';

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
  /** Hands a checkpoint on to the application (`onCheckpoint`); never throws. */
  onCheckpoint(instanceId: string, attempt: number, state: unknown): void;
  /** The tracker is done with its dispatch: the next queued instance may go. */
  release(): void;
  /** The runtime's metrics: the tracker records its instance's start, attempts and end. */
  readonly metrics: Metrics;
  /** The tracker is destroyed: forget it. */
  forget(tracker: { readonly instanceId: string }): void;
}

/** Where the chunks of an instance of `runtime.stream()` go (its results), and how far its generator may run ahead. */
export interface ChunkSink {
  /** The most chunks its generator yields that its caller has not consumed. */
  readonly highWaterMark: number;
  /** A chunk of its current attempt, in order. */
  chunk(cargo: ChunkCargo): void;
  /** Whether `highWaterMark` chunks wait for its caller: its generator is held, not stalled (heartbeatTimeoutMs). */
  held(): boolean;
}

/**
 * How long a force-stop waits for a reply that is on its way (ms): the attempt had ended in its worker when the
 * force-stop came, its reply not yet read (the main thread was busy). The reply wins; only a worker that never sends
 * it, stuck after it answered, is terminated after this wait.
 */
export const REPLY_ON_ITS_WAY_MS = 1000;

/** The reference's check period: timeout/10 for timeouts under 1 s, else 1 s. */
export function defaultGrace(timeoutMs: number | undefined): number {
  return timeoutMs !== undefined && timeoutMs < 1000 ? timeoutMs / 10 : 1000;
}
