// recycleWorkers: which worker is due for retirement (it has run `afterAttempts` attempts, or its last attempt left a
// heap above `heapUsedMb`), counted per worker; a due worker is given nothing more and retired once idle.
import { channels, type RetireMessage } from './channels.js';
import { epochNow } from './clock.js';
import type { RecycleWorkers } from './options.js';

export class Recycler {
  readonly #recycle: RecycleWorkers;
  // Per worker (threadId): attempts given to it, and the heap its last one left (MB).
  readonly #attemptsOf = new Map<number, number>();
  readonly #heapOf = new Map<number, number>();
  /** Workers retired since the pool was made. */
  retired = 0;

  constructor(recycle: RecycleWorkers) {
    this.#recycle = recycle;
  }

  /** An attempt was given to worker `id`. */
  assigned(id: number): void {
    this.#attemptsOf.set(id, (this.#attemptsOf.get(id) ?? 0) + 1);
  }

  /** Worker `id`'s attempt has ended, leaving a heap of `heapUsedMb` (0 when not measured). */
  left(id: number, heapUsedMb: number): void {
    this.#heapOf.set(id, heapUsedMb);
  }

  isDue(id: number): boolean {
    const recycle = this.#recycle;
    return (recycle.afterAttempts !== undefined && (this.#attemptsOf.get(id) ?? 0) >= recycle.afterAttempts)
      || (recycle.heapUsedMb !== undefined && (this.#heapOf.get(id) ?? 0) > recycle.heapUsedMb);
  }

  /** Counts and publishes the retirement of worker `id`, due now. */
  retire(id: number): void {
    const attempts = this.#attemptsOf.get(id) ?? 0;
    const heapUsedMb = this.#heapOf.get(id) ?? 0;
    const reason: RetireMessage['reason'] = this.#recycle.afterAttempts !== undefined && attempts >= this.#recycle.afterAttempts ? 'afterAttempts' : 'heapUsedMb';
    this.retired++;
    if (channels.workerRetire.hasSubscribers) channels.workerRetire.publish({ threadId: id, time: epochNow(), reason, attempts, heapUsedMb } satisfies RetireMessage);
  }

  /** Forgets the workers that are gone. */
  keepOnly(alive: ReadonlySet<number>): void {
    for (const known of [this.#attemptsOf, this.#heapOf]) for (const id of known.keys()) if (!alive.has(id)) known.delete(id);
  }
}
