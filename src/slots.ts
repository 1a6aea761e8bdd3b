// The dispatch slots' shared memory, the pool's alone on the main thread: per slot, a flags word (interrupted, ended)
// and a stamp that says whether the slot's attempt is waiting (its ticket), cancelled (0) or started (the epoch µs
// it did); with recycleWorkers.heapUsedMb, the heap its worker left; the chunks of its stream its caller consumed. An attempt is started only by its worker, which
// takes the ticket (a compare-and-swap) and leaves its start time in its place; the main thread cancels an attempt
// that has not started the same way, and it then never runs.
import { FLAG_ENDED, FLAG_INTERRUPTED, FLAG_RUNNING, MAX_TICKET, startStamp } from './shared-memory.js';

const MAX_TICKET_BIG = BigInt(MAX_TICKET);

export class SharedSlots {
  readonly flags: Int32Array;
  readonly stamps: BigInt64Array;
  /** Heartbeats per slot: a count the worker adds to; the main thread looks whether it has moved. */
  readonly beats: Int32Array;
  /** Where workers leave their used heap (MB) as an attempt ends, per slot: with recycle.heapUsedMb only. */
  readonly heaps: Int32Array | undefined;
  /** The chunks of each slot's stream attempt its caller has consumed. */
  readonly consumed: Int32Array;
  readonly #free: number[];
  #nextTicket = 0;

  constructor(count: number, withHeaps: boolean) {
    this.flags = new Int32Array(new SharedArrayBuffer(count * Int32Array.BYTES_PER_ELEMENT));
    this.stamps = new BigInt64Array(new SharedArrayBuffer(count * BigInt64Array.BYTES_PER_ELEMENT));
    this.beats = new Int32Array(new SharedArrayBuffer(count * Int32Array.BYTES_PER_ELEMENT));
    this.heaps = withHeaps ? new Int32Array(new SharedArrayBuffer(count * Int32Array.BYTES_PER_ELEMENT)) : undefined;
    this.consumed = new Int32Array(new SharedArrayBuffer(count * Int32Array.BYTES_PER_ELEMENT));
    this.#free = Array.from({ length: count }, (_, slot) => count - 1 - slot);
  }

  /** Slots in use. */
  get inUse(): number {
    return this.flags.length - this.#free.length;
  }

  /**
   * Takes a free slot and arms it for a new attempt: its flags cleared, a fresh ticket in its stamp. Returns the slot,
   * or -1 when none is free; the ticket is then `ticketOf(slot)`.
   */
  take(): number {
    const slot = this.#free.pop();
    if (slot === undefined) return -1;
    const ticket = (this.#nextTicket = (this.#nextTicket % MAX_TICKET) + 1);
    Atomics.store(this.flags, slot, FLAG_RUNNING);
    Atomics.store(this.stamps, slot, BigInt(ticket));
    Atomics.store(this.beats, slot, 0);
    // A heap left by an earlier attempt in this slot is not this one's worker's.
    if (this.heaps !== undefined) Atomics.store(this.heaps, slot, 0);
    Atomics.store(this.consumed, slot, 0);
    return slot;
  }

  /** The ticket the last `take()` put in: read at once, before anything else takes a slot. */
  get lastTicket(): number {
    return this.#nextTicket;
  }

  release(slot: number): void {
    this.#free.push(slot);
  }

  /** When the slot's attempt started in its worker (epoch ms, µs precision), or null while it has not (or never will). */
  startedAt(slot: number): number | null {
    const stamp = Atomics.load(this.stamps, slot);
    return stamp > MAX_TICKET_BIG ? Number(stamp) / 1000 : null;
  }

  /**
   * Resolves once the attempt with `ticket` in `slot` has started (or will not: cancelled, or its slot taken again), or
   * after `maxMs`. Read on a 1 ms timer: no message says when an attempt starts, and a worker notifies no one.
   */
  started(slot: number, ticket: number, maxMs: number): Promise<void> {
    const waiting = BigInt(ticket);
    const until = performance.now() + maxMs;
    return new Promise((resolve) => {
      const look = (): void => {
        if (Atomics.load(this.stamps, slot) !== waiting || performance.now() >= until) resolve();
        else setTimeout(look, 1);
      };
      look();
    });
  }

  /** Cancels the attempt with `ticket` if it has not started: false when it has (or was cancelled before). */
  cancel(slot: number, ticket: number): boolean {
    const expected = BigInt(ticket);
    return Atomics.compareExchange(this.stamps, slot, expected, 0n) === expected;
  }

  /**
   * Starts, here, the attempt with `ticket`, which fails before its processor can run (its module, or its worker,
   * failed): its stamp takes the time now, as a worker's would. Says what the stamp held: 'waiting' (it is started
   * now), 'cancelled', or 'other' (its worker started it, or the slot has moved on to another attempt).
   */
  startHere(slot: number, ticket: number): 'waiting' | 'cancelled' | 'other' {
    const expected = BigInt(ticket);
    const was = Atomics.compareExchange(this.stamps, slot, expected, startStamp());
    return was === expected ? 'waiting' : was === 0n ? 'cancelled' : 'other';
  }

  /** Sets the interrupt flag: a hot loop sees it now, and a waiting `Atomics.wait` on it wakes. */
  interrupt(slot: number): void {
    Atomics.or(this.flags, slot, FLAG_INTERRUPTED);
    Atomics.notify(this.flags, slot);
  }

  /** Whether the slot's attempt has ended in its worker: its reply is on its way (or here). */
  hasEnded(slot: number): boolean {
    return (Atomics.load(this.flags, slot) & FLAG_ENDED) !== 0;
  }

  /** The heartbeats of the slot's attempt so far. */
  beatsOf(slot: number): number {
    return Atomics.load(this.beats, slot);
  }

  /** The caller has consumed `count` more chunks of the slot's stream: its generator, waiting for room, may go on. */
  consume(slot: number, count: number): void {
    Atomics.add(this.consumed, slot, count);
    Atomics.notify(this.consumed, slot);
  }

  /** The heap (MB) the worker of the slot's last attempt left, 0 when unknown. */
  heapOf(slot: number): number {
    return this.heaps === undefined ? 0 : Atomics.load(this.heaps, slot);
  }
}
