// An instance's timeout clock: its deadline is its first attempt's start in its worker plus timeoutMs. The start is
// looked up a little before the deadline could come (it cannot come before timeoutMs from the dispatch); then the
// clock wakes a little before the deadline and meets it on event-loop turns: never early, late by about one turn.

/**
 * What the deadline allows past the start's stamp, for the call of the processor after it: the stamp is taken the
 * moment before the call. Time the worker's thread is descheduled between the two is beyond it: the main thread
 * cannot see it, and the timeout counts from the stamp.
 */
const START_ALLOWANCE_MS = 0.1;

export class DeadlineClock {
  readonly #timeoutMs: number;
  /** When the first attempt started (epoch ms), or null while it has not. */
  readonly #startedAt: () => number | null;
  readonly #onDue: () => void;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  /** The deadline on the monotonic clock (performance.now()): 0 until the start is known. */
  #deadline = 0;

  constructor(timeoutMs: number, startedAt: () => number | null, onDue: () => void) {
    this.#timeoutMs = timeoutMs;
    this.#startedAt = startedAt;
    this.#onDue = onDue;
  }

  /** Starts the clock at the dispatch: the start cannot come before now. */
  start(): void {
    this.#timer = setTimeout(() => this.#lookUpStart(), lookupDelay(this.#timeoutMs));
  }

  stop(): void {
    clearTimeout(this.#timer);
    clearImmediate(this.#immediate);
    this.#timer = this.#immediate = undefined;
  }

  // The start is looked up now. Not started yet (it waits for a worker): not due before timeoutMs from now either.
  #lookUpStart(): void {
    this.#timer = undefined;
    const startedAt = this.#startedAt();
    if (startedAt === null) {
      this.#timer = setTimeout(() => this.#lookUpStart(), lookupDelay(this.#timeoutMs));
      return;
    }
    this.#deadline = startedAt - performance.timeOrigin + this.#timeoutMs + START_ALLOWANCE_MS;
    this.#approach(false);
  }

  // Node's timers may fire up to 1 ms early (libuv's cached, whole-ms loop time), and late, the later the longer
  // they slept: wake a little before the deadline (a margin that grows with the sleep), then meet it on event-loop
  // turns, checking the monotonic clock. Whole milliseconds: Node keeps a timer list per distinct delay, and a
  // fractional one makes a new list each time. After one sleep, the rest is met on turns: a thread woken from a sleep
  // may be woken late again by the next one (measured: a vCPU left idle takes milliseconds to run it again).
  #approach(slept: boolean): void {
    this.#timer = this.#immediate = undefined;
    const left = this.#deadline - performance.now();
    if (!slept && left > wakeMargin(left)) {
      this.#timer = setTimeout(() => this.#approach(true), Math.floor(left - wakeMargin(left)));
    } else if (left > 0) {
      this.#immediate = setImmediate(() => this.#approach(true));
    } else {
      this.#onDue();
    }
  }
}

/**
 * How long before a deadline `left` ms away its timer should wake (ms): the last stretch is met on event-loop turns.
 * A timer fires up to 1 ms early, and a long sleep wakes later than a short one (measured: a second's sleep, up to
 * 4 ms late on a quiet machine), hence the part that grows with the sleep. The turns cost CPU, hence no more.
 */
function wakeMargin(left: number): number {
  return 1.25 + left / 200;
}

/** When to look up an attempt's start, for a deadline at least `timeoutMs` away: early enough to meet it (ms). */
function lookupDelay(timeoutMs: number): number {
  return Math.max(1, Math.floor(timeoutMs - wakeMargin(timeoutMs)));
}
