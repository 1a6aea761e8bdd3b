// A Map whose entries let go of their values as they are deleted, for the maps that gain and lose an entry per
// instance. V8 keeps a Map's previous hash table, with every entry it held, each time the map grows, shrinks or is
// rehashed (an iterator may still be walking it). Once such a table has reached the old generation, everything its
// entries reach survives every young-generation collection until the next full one, which finds it promoted: for the
// runtime's live instances and the pool's running attempts, each finished instance's whole tracker. Under a flood of
// no-op instances that was half the main thread's time in the garbage collector. Here an entry is a holder whose value
// is cleared as it is deleted: an old table keeps the holder, and nothing else.

interface Holder<V> {
  value: V | undefined;
}

export class ReleasingMap<K, V> {
  readonly #entries = new Map<K, Holder<V>>();

  get size(): number {
    return this.#entries.size;
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  get(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }

  set(key: K, value: V): void {
    const holder = this.#entries.get(key);
    if (holder === undefined) this.#entries.set(key, { value });
    else holder.value = value;
  }

  /** Deletes the entry of `key`, its value let go of; false when there was none. */
  delete(key: K): boolean {
    const holder = this.#entries.get(key);
    if (holder === undefined) return false;
    holder.value = undefined;
    return this.#entries.delete(key);
  }

  keys(): IterableIterator<K> {
    return this.#entries.keys();
  }

  /** The values, in insertion order; an entry deleted during the walk is not given. */
  *values(): IterableIterator<V> {
    for (const holder of this.#entries.values()) yield holder.value as V;
  }
}
