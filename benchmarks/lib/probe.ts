// The shared-memory probe the latency benchmarks pass to their bench-* processors in jobParams. A
// SharedArrayBuffer stays shared through structuredClone (submit() snapshots the params, piscina posts them), so
// the main thread and the worker read and write the same memory: the worker marks 'started' with Atomics and
// writes its own now() timestamps (performance.timeOrigin + performance.now(), comparable across threads) into
// Float64 slots; the main thread waits for the mark with Atomics.waitAsync and reads the times after `done`.
// No dependencies beyond the clock: processors import it inside the worker.
import { now } from './stats.js';

const STATE = 0; // Int32 index: IDLE, then STARTED once the processor is in position
const IDLE = 0;
const STARTED = 1;
const T_START = 1; // Float64 index: worker's now() on entering the processor
const T_SEEN = 2; // Float64 index: worker's now() when it saw the interrupt
const BYTES = 3 * Float64Array.BYTES_PER_ELEMENT;

/** What a bench processor expects as jobParams. */
export interface ProbeParams {
  readonly probe: SharedArrayBuffer;
}

export class Probe {
  readonly buffer: SharedArrayBuffer;
  readonly #state: Int32Array;
  readonly #times: Float64Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(BYTES)) {
    this.buffer = buffer;
    this.#state = new Int32Array(buffer, 0, 1);
    this.#times = new Float64Array(buffer);
  }

  /** The probe in a processor's jobParams. */
  static of(jobParams: unknown): Probe {
    const buffer = (jobParams as Partial<ProbeParams> | undefined)?.probe;
    if (!(buffer instanceof SharedArrayBuffer)) throw new TypeError('jobParams.probe must be a SharedArrayBuffer');
    return new Probe(buffer);
  }

  get params(): ProbeParams {
    return { probe: this.buffer };
  }

  /** Main thread, before each run: back to IDLE, times cleared. */
  reset(): void {
    this.#times[T_START] = Number.NaN;
    this.#times[T_SEEN] = Number.NaN;
    Atomics.store(this.#state, STATE, IDLE);
  }

  /** Worker: records the processor's own start time: `at`, taken on its first line, or now. */
  recordStart(at: number = now()): void {
    this.#times[T_START] = at;
  }

  /** Worker: the processor is in position (looping or awaiting); wakes the main thread's waiter. */
  markStarted(): void {
    Atomics.store(this.#state, STATE, STARTED);
    Atomics.notify(this.#state, STATE);
  }

  /** Worker: records the moment it saw the interrupt. */
  recordSeen(): void {
    this.#times[T_SEEN] = now();
  }

  get started(): boolean {
    return Atomics.load(this.#state, STATE) === STARTED;
  }

  /** Worker's now() on entering the processor (NaN if not recorded). */
  get startTime(): number {
    return this.#times[T_START] as number;
  }

  /** Worker's now() when it saw the interrupt (NaN if not recorded). */
  get seenTime(): number {
    return this.#times[T_SEEN] as number;
  }

  /**
   * Main thread: resolves once the processor has marked 'started' (Atomics.waitAsync, no polling sleep). Rejects if
   * `gaveUp` settles first (pass the tracker's `done`: an instance that ended before starting is an error).
   */
  async waitStarted(gaveUp: Promise<unknown>): Promise<void> {
    let ended = false;
    const ending = gaveUp.then(() => {
      ended = true;
    });
    while (!this.started) {
      if (ended) throw new Error('the instance ended before its processor marked started');
      const waiting = Atomics.waitAsync(this.#state, STATE, IDLE, 1000);
      if (waiting.async) await Promise.race([waiting.value, ending]);
    }
  }
}
