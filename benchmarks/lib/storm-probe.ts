// The storm benchmark's shared memory, written by its processors inside the workers (ours and piscina's alike) and
// read by the driver on the main thread. One SharedArrayBuffer per storm: a counter of instances started (the driver
// waits on it with Atomics.waitAsync), and per instance its started mark, the threadId it ran on and the worker's
// now() at its start. Times are performance.timeOrigin + performance.now(), comparable across threads. Only
// node:worker_threads is imported: the module is loaded while a worker boots, and the boot is what is measured.
import { threadId } from 'node:worker_threads';

/** What a storm processor takes as its params (ours: jobParams; piscina: the task). */
export interface StormParams {
  readonly buffer: SharedArrayBuffer;
  readonly index: number;
}

const now = (): number => performance.timeOrigin + performance.now();

const HEADER = 8; // Int32 [started count, unused]

export class StormProbe {
  readonly buffer: SharedArrayBuffer;
  readonly size: number;
  readonly #head: Int32Array;
  readonly #marks: Int32Array;
  readonly #threads: Int32Array;
  readonly #times: Float64Array;

  constructor(sizeOrBuffer: number | SharedArrayBuffer) {
    const size = typeof sizeOrBuffer === 'number' ? sizeOrBuffer : StormProbe.#sizeOf(sizeOrBuffer);
    this.size = size;
    this.buffer = typeof sizeOrBuffer === 'number' ? new SharedArrayBuffer(StormProbe.#bytes(size)) : sizeOrBuffer;
    this.#head = new Int32Array(this.buffer, 0, 2);
    this.#marks = new Int32Array(this.buffer, HEADER, size);
    this.#threads = new Int32Array(this.buffer, HEADER + 4 * size, size);
    this.#times = new Float64Array(this.buffer, StormProbe.#timesOffset(size), size);
  }

  static #timesOffset(size: number): number {
    return Math.ceil((HEADER + 8 * size) / 8) * 8;
  }

  static #bytes(size: number): number {
    return StormProbe.#timesOffset(size) + 8 * size;
  }

  static #sizeOf(buffer: SharedArrayBuffer): number {
    // bytes = ceil((8 + 8n) / 8) * 8 + 8n = 8 + 16n
    return (buffer.byteLength - HEADER) / 16;
  }

  /** The params of instance `index`. */
  params(index: number): StormParams {
    return { buffer: this.buffer, index };
  }

  /** Worker: instance `params.index` has started here; wakes the driver. */
  static markStarted(params: StormParams): void {
    const probe = new StormProbe(params.buffer);
    probe.#times[params.index] = now();
    probe.#threads[params.index] = threadId;
    Atomics.store(probe.#marks, params.index, 1);
    Atomics.add(probe.#head, 0, 1);
    Atomics.notify(probe.#head, 0);
  }

  /** Instances started so far. */
  get startedCount(): number {
    return Atomics.load(this.#head, 0);
  }

  /** Resolves once more than `seen` instances have started (or after `timeoutMs`). */
  async waitBeyond(seen: number, timeoutMs: number): Promise<void> {
    const waiting = Atomics.waitAsync(this.#head, 0, seen, timeoutMs);
    if (waiting.async) await waiting.value;
  }

  started(index: number): boolean {
    return Atomics.load(this.#marks, index) === 1;
  }

  /** The worker's now() at the start of instance `index` (NaN if it never started). */
  startTime(index: number): number {
    return this.started(index) ? (this.#times[index] as number) : Number.NaN;
  }

  threadOf(index: number): number {
    return this.#threads[index] as number;
  }
}
