// An instance's starts: when each of its attempts started in its worker, as read from the attempt's handle, counted
// once each (the instance's wait goes to the metrics with the first) and published on the start channel; and its end,
// whose run time goes to the metrics from the first start, published on the end channel.
import type { Attempt } from './attempt.js';
import { channels, type EndMessage, type StartMessage } from './channels.js';
import { epochNow, TIME_ORIGIN } from './clock.js';
import type { Metrics } from './metrics.js';
import type { Outcome } from './outcome.js';

export class Starts {
  readonly #instanceId: string;
  readonly #processor: string;
  /** The submit (epoch ms, µs precision), for wait times. */
  readonly #submittedAt: number;
  readonly #metrics: Metrics;
  /** When the first attempt started in its worker (epoch ms, µs precision); null until it is known. */
  first: number | null = null;
  /** The last attempt (1, 2, …) whose start has been counted and published. */
  counted = 0;

  constructor(instanceId: string, processor: string, submittedAt: number, metrics: Metrics) {
    this.#instanceId = instanceId;
    this.#processor = processor;
    this.#submittedAt = submittedAt;
    this.#metrics = metrics;
  }

  /** If `attempt` has started and was not counted yet: counted, and published. */
  note(attempt: Attempt): void {
    const number = attempt.number + 1;
    if (number <= this.counted) return;
    const startedAt = attempt.startedAt;
    if (startedAt === null) return;
    this.counted = number;
    const waitMs = startedAt - this.#submittedAt;
    if (this.first === null) {
      this.first = startedAt;
      this.#metrics.started(this.#processor, waitMs, startedAt - TIME_ORIGIN);
    }
    if (channels.start.hasSubscribers) {
      channels.start.publish({ ...this.about(number), time: startedAt, threadId: attempt.threadId, waitMs } satisfies StartMessage);
    }
  }

  /** The instance has ended with `outcome`. */
  ended(outcome: Outcome): void {
    const now = performance.now();
    this.#metrics.ended(this.#processor, outcome.reason, this.first === null ? null : TIME_ORIGIN + now - this.first, now);
    if (channels.end.hasSubscribers) channels.end.publish({ ...this.about(this.counted), outcome } satisfies EndMessage);
  }

  /** What every message on the instance channels holds, about attempt `attempt` (1, 2, …), now. */
  about(attempt: number): { instanceId: string; processor: string; attempt: number; time: number } {
    return { instanceId: this.#instanceId, processor: this.#processor, attempt, time: epochNow() };
  }
}
