// The results of runtime.map() waiting for the loop: in input order (a ring by item index, `window` long: at most that
// many items are held) or as they came.
import { FifoQueue } from './queue.js';

export class MapBuffer<T> {
  readonly #ordered: boolean;
  readonly #window: number;
  /** Ordered: the results by item, at `index % window`. */
  #ring: Array<IteratorYieldResult<T> | undefined> = [];
  /** Unordered: the results as they came. */
  readonly #ready = new FifoQueue<IteratorYieldResult<T>>();
  /** Results taken (handed to the loop). */
  taken = 0;

  constructor(ordered: boolean, window: number) {
    this.#ordered = ordered;
    this.#window = window;
  }

  /** The result of item `index`. */
  store(index: number, value: T): void {
    const result = { done: false, value } as const;
    if (this.#ordered) this.#ring[index % this.#window] = result;
    else this.#ready.push(result);
  }

  /** The next result to yield, taken; undefined when it has not come. */
  take(): IteratorYieldResult<T> | undefined {
    let result: IteratorYieldResult<T> | undefined;
    if (this.#ordered) {
      const slot = this.taken % this.#window;
      result = this.#ring[slot];
      if (result === undefined) return undefined;
      this.#ring[slot] = undefined;
    } else {
      result = this.#ready.shift();
      if (result === undefined) return undefined;
    }
    this.taken++;
    return result;
  }

  /** Drops every result not yet taken. */
  clear(): void {
    this.#ring = [];
    this.#ready.clear();
  }
}
