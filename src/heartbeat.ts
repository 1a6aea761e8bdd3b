// An attempt's stall watch (`heartbeatTimeoutMs`): from its start, it looks at the attempt's heartbeat count every
// quarter of the timeout; once the count has not moved for the whole timeout since the look that last saw it move
// (or since the start), the attempt is stalled. Never early: a heartbeat is only known to have come by the look that
// sees it, so the silence counted is never longer than the real one; late by a quarter of the timeout at most. A look
// that finds the attempt held (a stream's generator waiting for its caller to take chunks) counts as a heartbeat.
import type { Attempt } from './attempt.js';

export class HeartbeatWatch {
  readonly #timeoutMs: number;
  readonly #attempt: Attempt;
  readonly #onStall: () => void;
  readonly #held: (() => boolean) | undefined;
  readonly #period: number;
  #timer: NodeJS.Timeout | undefined;
  /** The count last seen, and since when (performance.now()); -1 until the start is seen. */
  #seen = -1;
  #since = 0;

  constructor(timeoutMs: number, attempt: Attempt, onStall: () => void, held?: () => boolean) {
    this.#timeoutMs = timeoutMs;
    this.#attempt = attempt;
    this.#onStall = onStall;
    this.#held = held;
    this.#period = Math.max(1, Math.floor(timeoutMs / 4));
    this.#timer = setTimeout(this.#look, this.#period);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #look = (): void => {
    this.#timer = undefined;
    const attempt = this.#attempt;
    const beats = attempt.heartbeats;
    if (beats < 0) return; // the attempt is over
    const now = performance.now();
    if (this.#seen === -1) {
      const startedAt = attempt.startedAt;
      if (startedAt === null) {
        this.#timer = setTimeout(this.#look, this.#period);
        return;
      }
      // Counted from its start; a heartbeat already made came after it.
      this.#seen = 0;
      this.#since = startedAt - performance.timeOrigin;
    }
    if (beats !== this.#seen || this.#held?.() === true) {
      this.#seen = beats;
      this.#since = now;
    }
    const silent = now - this.#since;
    if (silent >= this.#timeoutMs) {
      this.#onStall();
      return;
    }
    this.#timer = setTimeout(this.#look, Math.max(1, Math.min(this.#period, Math.ceil(this.#timeoutMs - silent))));
  };
}
