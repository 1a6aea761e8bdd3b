// The worker's side of its channel to the main thread: every message of its attempts (log lines, progress values,
// starts, a stream's chunks) travels on a MessageChannel of its own, in batches, named by the attempt's slot and ticket. Lines are
// gathered and posted many at a time; those at levels the runtime would not write never leave the worker; and the
// worker sends at most `processorLogRate` lines a second (`processorLogBurst` at once), dropping and counting the
// rest, so that no processor can flood the main thread, whose event loop the timeouts of every instance need.
import { MessageChannel, parentPort, receiveMessageOnPort, threadId, type MessagePort } from 'node:worker_threads';
import {
  BATCH_AGE_MS,
  BATCH_LINES,
  BATCH_MESSAGE,
  CHANNEL_MESSAGE,
  Item,
  SETTINGS_MESSAGE,
  STRAY_ERROR_MESSAGE,
  type AttemptRequest,
  type ChannelMessage,
  type ChunkCargo,
  type ChannelSettings,
  type StrayErrorMessage,
  type WorkerBatch,
} from '../src/messages.js';
import { textOf } from '../src/text.js';

// The channel is posted before any processor code runs in this worker (this module is loaded before the attempt
// runner imports a processor), so the first channel the runtime hears of from this thread is this one.
const { port1: port, port2 } = new MessageChannel();
parentPort?.postMessage({ type: CHANNEL_MESSAGE, threadId, port: port2 } satisfies ChannelMessage, [port2]);

/**
 * Lines posted one by one in each BATCH_AGE_MS, before lines are gathered into batches: a processor that writes a
 * few lines and then blocks (a runaway, terminated later) has them all on the main thread.
 */
const IMMEDIATE_LINES = 16;
/** How long between two counts of an attempt's dropped lines, at most one per this period (ms). */
const DROPPED_REPORT_MS = 1000;
/** Until the runtime's settings arrive: every level, and these bounds (`defaultOptions`' own, which this thread cannot import). */
const DEFAULT_RATE = 1000;
const DEFAULT_BURST = 2000;

/** One attempt's side of the channel: its identity, and what it has posted and dropped. */
export class AttemptChannel {
  readonly slot: number;
  readonly ticket: number;
  /** The attempt has ended: whatever it (code it left behind) sends from now on is dropped and counted. */
  released = false;
  /** It has posted on the channel: its reply says so, and the main thread reads the channel before taking it. */
  posted = false;
  /** Lines dropped by the rate bound, not yet counted to the main thread. */
  dropped = 0;
  droppedSaidAt = Number.NEGATIVE_INFINITY;

  constructor(request: AttemptRequest) {
    this.slot = request.slot;
    this.ticket = request.ticket;
  }
}

class Outbox {
  // The runtime's settings; until they come, every level is sent under the default bounds.
  #levels: Int32Array | undefined;
  #rate = DEFAULT_RATE;
  #burst = DEFAULT_BURST;
  #tokens = DEFAULT_BURST;
  #filledAt = performance.now();
  // The attempt whose lines the bucket holds tokens for.
  #bucketOwner: AttemptChannel | undefined;
  // The batch being filled: one attempt's entries.
  #owner: AttemptChannel | undefined;
  #items: unknown[] = [];
  #lines = 0;
  #since = 0;
  #immediate: NodeJS.Immediate | undefined;
  /** Messages of ended attempts dropped here, not yet counted to the main thread. */
  #late = 0;
  // Lines posted in the current window of BATCH_AGE_MS: the first IMMEDIATE_LINES go one by one.
  #windowStart = Number.NEGATIVE_INFINITY;
  #windowLines = 0;

  /** Whether a line at `level` (its index in LOG_LEVELS) is sent at all: false below what the runtime writes. */
  sends(level: number): boolean {
    const levels = this.#levels ?? this.#readSettings();
    return levels === undefined || level >= Atomics.load(levels, 0);
  }

  // Reads the runtime's settings if they have come (the runtime posts them as soon as it has the channel).
  #readSettings(): Int32Array | undefined {
    const received = receiveMessageOnPort(port);
    const settings = received?.message as ChannelSettings | undefined;
    if (settings?.type !== SETTINGS_MESSAGE) return undefined;
    this.#levels = new Int32Array(settings.levels);
    this.#rate = settings.rate;
    this.#burst = this.#tokens = settings.burst;
    this.#filledAt = performance.now();
    return this.#levels;
  }

  /** Whether counts wait to be sent (messages of ended attempts dropped here). */
  get holdsCounts(): boolean {
    return this.#late > 0;
  }

  /** A message of an attempt that has ended, dropped: counted to the main thread with the next batch. */
  late(): void {
    this.#late++;
  }

  /** A line the processor wrote, at a level that is sent. */
  log(channel: AttemptChannel, level: number, msg: string, fields: Record<string, unknown> | undefined): void {
    if (channel.released) {
      this.#late++;
      return;
    }
    const now = performance.now();
    if (!this.#take(now, channel)) {
      channel.dropped++;
      return;
    }
    this.#add(channel, now);
    this.#items.push(level, msg, fields === undefined ? undefined : snapshot(fields));
    this.#lines++;
    // A line of a processor that logs little goes at once: the last lines before a processor hangs arrive.
    if (now - this.#windowStart >= BATCH_AGE_MS) {
      this.#windowStart = now;
      this.#windowLines = 0;
    }
    if (++this.#windowLines <= IMMEDIATE_LINES || this.#lines >= BATCH_LINES || now - this.#since >= BATCH_AGE_MS) this.flush();
    else this.#immediate ??= setImmediate(this.#onTurn);
  }

  /**
   * A progress value, posted at once (the coalescing is ProgressSender's), after the lines before it. Throws what
   * postMessage throws for a value that cannot be cloned; the lines are posted all the same.
   */
  progress(channel: AttemptChannel, value: unknown): void {
    if (channel.released) {
      this.#late++;
      return;
    }
    this.#add(channel, performance.now());
    this.#items.push(Item.PROGRESS, value);
    try {
      this.flush();
    } catch (error) {
      this.#items.length -= 2;
      this.flush();
      throw error;
    }
  }

  /**
   * A checkpoint (`putValue`'s cargo of the state): posted at once, after the lines before it, with `transfer` (its
   * moved buffers).
   */
  checkpoint(channel: AttemptChannel, cargo: ChunkCargo, transfer: ReadonlyArray<ArrayBuffer | MessagePort> | undefined): void {
    this.#cargo(channel, Item.CHECKPOINT, cargo, transfer);
  }

  /** The attempt has started (announced only when someone listens for starts): posted at once. */
  started(channel: AttemptChannel): void {
    this.#add(channel, performance.now());
    this.#items.push(Item.STARTED, threadId);
    this.flush();
  }

  /** A stream's chunk: posted at once, after the lines before it, with `transfer` (its moved buffers). */
  chunk(channel: AttemptChannel, cargo: ChunkCargo, transfer: ReadonlyArray<ArrayBuffer | MessagePort> | undefined): void {
    this.#cargo(channel, Item.CHUNK, cargo, transfer);
  }

  #cargo(channel: AttemptChannel, code: typeof Item.CHUNK | typeof Item.CHECKPOINT, cargo: ChunkCargo, transfer: ReadonlyArray<ArrayBuffer | MessagePort> | undefined): void {
    if (channel.released) {
      this.#late++;
      return;
    }
    this.#add(channel, performance.now());
    this.#items.push(code, cargo);
    this.#post(channel, false, transfer);
  }

  /** Posts the batch being filled, if it holds anything or has counts to give. */
  flush(): void {
    const owner = this.#owner;
    if (owner !== undefined) this.#post(owner, false);
  }

  /**
   * The attempt ends: its last batch (with every count not yet given), for its reply, or undefined when it has
   * nothing more to say. Anything it sends from now on is dropped and counted.
   */
  end(channel: AttemptChannel): WorkerBatch | undefined {
    channel.released = true;
    if (this.#owner !== channel) {
      this.flush();
      this.#owner = channel;
    }
    const batch = this.#batchOf(channel, true);
    if (batch !== undefined) this.#sent(channel, batch);
    this.#owner = undefined;
    return batch;
  }

  /** Posts an error thrown outside the running attempt, after the lines before it. */
  stray(instanceId: string | undefined, error: string): void {
    this.flush();
    port.postMessage({ type: STRAY_ERROR_MESSAGE, threadId, instanceId, error } satisfies StrayErrorMessage);
  }

  // Posts the batch of `owner`, if it has anything to say; what postMessage throws is thrown, the batch kept.
  #post(owner: AttemptChannel, final: boolean, transfer?: ReadonlyArray<ArrayBuffer | MessagePort>): void {
    const batch = this.#batchOf(owner, final);
    if (batch === undefined) return;
    port.postMessage(batch, transfer);
    owner.posted = true;
    this.#sent(owner, batch);
  }

  // The batch of `owner` as it stands, undefined when it has nothing to say. Its dropped lines are counted at most
  // once a DROPPED_REPORT_MS, and at the end.
  #batchOf(owner: AttemptChannel, final: boolean): WorkerBatch | undefined {
    const items = this.#items;
    const sayDropped = owner.dropped > 0 && (final || performance.now() - owner.droppedSaidAt >= DROPPED_REPORT_MS);
    if (items.length === 0 && !sayDropped && this.#late === 0) return undefined;
    const batch: { -readonly [K in keyof WorkerBatch]: WorkerBatch[K] } = { type: BATCH_MESSAGE, slot: owner.slot, ticket: owner.ticket, items };
    if (sayDropped) batch.dropped = owner.dropped;
    if (this.#late > 0) batch.late = this.#late;
    return batch;
  }

  // `batch` has gone (or goes with the reply): what it held and counted starts afresh.
  #sent(owner: AttemptChannel, batch: WorkerBatch): void {
    if (batch.dropped !== undefined) {
      owner.dropped -= batch.dropped;
      owner.droppedSaidAt = performance.now();
    }
    if (batch.late !== undefined) this.#late -= batch.late;
    this.#items = [];
    this.#lines = 0;
  }

  // The batch is for `channel` from now on; a batch of another attempt still being filled is posted first.
  #add(channel: AttemptChannel, now: number): void {
    if (this.#owner !== channel) {
      if (this.#owner !== undefined) this.flush();
      this.#owner = channel;
    }
    if (this.#items.length === 0) this.#since = now;
  }

  // A token of the bucket: `rate` a second, at most `burst` saved up. Each attempt starts with a full bucket: the
  // lines an attempt's flood spent are never taken from the next instance on this worker.
  #take(now: number, channel: AttemptChannel): boolean {
    if (this.#bucketOwner !== channel) {
      this.#bucketOwner = channel;
      this.#tokens = this.#burst;
      this.#filledAt = now;
    }
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#filledAt) * this.#rate) / 1000);
    this.#filledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  // The event loop has turned since the batch's first line: it is posted (lines of an awaiting processor arrive as
  // it goes, not only when a batch is full).
  readonly #onTurn = (): void => {
    this.#immediate = undefined;
    this.flush();
  };
}

export const outbox = new Outbox();

/**
 * The fields of a line as they are now: a copy, so that a change the processor makes afterwards (the batch is posted
 * later) is not seen. Fields that cannot be cloned are kept as their text.
 */
function snapshot(fields: Record<string, unknown>): Record<string, unknown> {
  try {
    return structuredClone(fields);
  } catch {
    return { fields: textOf(fields) };
  }
}
