// The first-in, first-out queue of instances waiting for a worker: an array read from a moving head, so that taking
// the next one never shifts the array, compacted once the taken part is the larger one.

/** Entries taken before the array is compacted, at least: compaction then copies at most as many as were taken. */
const COMPACT_AFTER = 1024;

export class FifoQueue<T> {
  #items: Array<T | undefined> = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The oldest entry, removed; undefined when the queue is empty. */
  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined; // let the taken entry go
    if (this.#head === this.#items.length) this.clear();
    else if (this.#head > COMPACT_AFTER && this.#head * 2 > this.#items.length) {
      const old = this.#items;
      this.#items = old.slice(this.#head);
      this.#head = 0;
      // The old array, garbage now, may sit in the old generation: emptied, it keeps none of the entries alive through
      // the young-generation collections before the next full one (see releasing-map.ts).
      old.length = 0;
    }
    return item;
  }

  clear(): void {
    this.#items.length = 0;
    this.#head = 0;
  }
}
