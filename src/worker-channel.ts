// The main thread's side of the workers' channels (workers/channel.ts): each worker's attempts post their log lines,
// progress values, starts and a stream's chunks there, in batches named by the attempt's slot and ticket. Batches wait in one queue and
// are taken in a slice at a time (SLICE_MS, then the event loop turns), so that however much the workers say, the
// timers of every instance fire on time; a batch is handed to the tracker of the attempt that posted it only while
// that attempt is its current one (a finished attempt's are dropped and counted). Before an attempt's end is taken,
// what it posted is taken in: its worker's channel is read at once (receiveMessageOnPort), and the end waits only
// for what is already on this thread. What arrives on a worker's parentPort with the runtime's tag (a processor can
// post anything there) is refused and logged.
import { MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import type { ProcessorLogLine } from './options.js';
import {
  BATCH_MESSAGE,
  CHANNEL_MESSAGE,
  Item,
  LOG_LEVELS,
  SETTINGS_MESSAGE,
  STRAY_ERROR_MESSAGE,
  TAG_PREFIX,
  type ChannelSettings,
  type ChunkCargo,
  type StrayErrorMessage,
  type WorkerBatch,
} from './messages.js';
import type { PooledAttempt } from './attempt.js';
import { readCargo } from './attempt-fields.js';
import { RepeatedWarning } from './repeated-warning.js';

export interface ChannelOptions {
  readonly logger: Logger;
  readonly onProcessorLog: ((line: ProcessorLogLine) => void) | undefined;
  /** `processorLogRate` and `processorLogBurst`, for the workers. */
  readonly rate: number;
  readonly burst: number;
  readonly metrics: Metrics;
  /** The attempt in `slot` with `ticket`, while it is current (until its end is heard); else undefined. */
  readonly attemptAt: (slot: number, ticket: number) => PooledAttempt | undefined;
}

/** How long one slice of the queue may take before the event loop turns (ms). */
const SLICE_MS = 0.25;
/** The most lines waiting here: at least this, and at least four workers' bursts. */
const MIN_PENDING_LINES = 10_000;

const DROPPED = 'processor log lines dropped: over the rate bound (processorLogRate)';
/** Logged for a checkpoint that cannot be read back (never one its worker's own writer made). */
const CHECKPOINT_UNREADABLE = 'a checkpoint could not be read back: dropped';

/** A batch in the queue, taken a slice at a time. */
class BatchEntry {
  /** The next item to take. */
  at = 0;
  /** Its lines not taken yet (counted among the lines waiting here). */
  lines: number;
  constructor(readonly batch: WorkerBatch, lines: number) {
    this.lines = lines;
  }
}

/** An attempt's end, waiting behind the messages queued before it. */
class EndEntry {
  constructor(readonly then: () => void) {}
}

type Entry = BatchEntry | EndEntry | StrayErrorMessage;

export class WorkerChannels {
  readonly #options: ChannelOptions;
  readonly #logger: Logger;
  /** Each worker's channel, by threadId. */
  readonly #ports = new Map<number, MessagePort>();
  /** Channels whose worker has gone (kept a while: an end may still come for an attempt of theirs). */
  readonly #closed = new Map<number, MessagePort>();
  /** The levels the workers send (one Int32: the lowest, an index in LOG_LEVELS), shared with every worker. */
  readonly #levels = new Int32Array(new SharedArrayBuffer(4));
  readonly #onLevelChange = (): void => this.#updateLevels();
  readonly #queue: Entry[] = [];
  #head = 0;
  #pendingLines = 0;
  readonly #maxPending: number;
  #slice: NodeJS.Immediate | undefined;
  readonly #late: RepeatedWarning;
  readonly #refused: RepeatedWarning;
  readonly #behind: RepeatedWarning;
  readonly #stray: RepeatedWarning;

  constructor(options: ChannelOptions) {
    this.#options = options;
    const logger = (this.#logger = options.logger);
    this.#maxPending = Math.max(MIN_PENDING_LINES, 4 * options.burst);
    this.#late = new RepeatedWarning(logger, 'warn', 'messages from attempts that had ended were dropped (code an instance left behind on its worker: a timer, a callback)');
    this.#refused = new RepeatedWarning(logger, 'warn', 'a worker posted a message the runtime refuses: ignored');
    this.#behind = new RepeatedWarning(logger, 'warn', 'processor log lines dropped: the main thread is behind');
    this.#stray = new RepeatedWarning(logger, 'error', 'an error was thrown outside any running attempt: no instance fails');
    this.#updateLevels();
    if (typeof logger.on === 'function') logger.on('level-change', this.#onLevelChange);
  }

  // The lowest level anything on this thread takes: every level for onProcessorLog, else the logger's.
  #updateLevels(): void {
    let lowest = 0;
    if (this.#options.onProcessorLog === undefined) {
      while (lowest < LOG_LEVELS.length && !this.#logger.isLevelEnabled(LOG_LEVELS[lowest] as string)) lowest++;
    }
    Atomics.store(this.#levels, 0, lowest);
  }

  /**
   * A message a worker posted on its parentPort that the pool did not take: its channel, or a message the runtime
   * refuses (logged and counted) when it carries the runtime's tag. Anything else is a processor's own affair.
   */
  onParentMessage(message: unknown): void {
    const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
    if (typeof type !== 'string' || !type.startsWith(TAG_PREFIX)) return;
    if (type === CHANNEL_MESSAGE && this.#register(message as Record<string, unknown>)) return;
    this.#refuse(type);
  }

  /** A checkpoint, read back as its worker wrote it; one that cannot be read (a hand-made batch) is logged and dropped. */
  #checkpoint(attempt: PooledAttempt, cargo: ChunkCargo): void {
    let state: unknown;
    try {
      state = readCargo(cargo);
    } catch (error) {
      this.#logger.warn({ instanceId: attempt.instanceId, err: error }, CHECKPOINT_UNREADABLE);
      return;
    }
    attempt.listener.attemptCheckpoint(attempt, state);
  }

  #refuse(type: unknown): void {
    this.#options.metrics.malformedMessages++;
    this.#refused.add(1, { type: typeof type === 'string' ? type.slice(0, 100) : typeof type });
  }

  // A worker's channel, heard of once: the first for a thread is its own (posted before any processor code ran there).
  #register(message: Record<string, unknown>): boolean {
    const { threadId, port } = message;
    if (typeof threadId !== 'number' || !Number.isSafeInteger(threadId) || !(port instanceof MessagePort)) return false;
    if (this.#ports.has(threadId) || this.#closed.has(threadId)) {
      port.close();
      return false;
    }
    this.#ports.set(threadId, port);
    port.on('message', (data: unknown) => this.#receive(data, true));
    port.once('close', () => {
      this.#ports.delete(threadId);
      this.#closed.set(threadId, port);
      if (this.#closed.size > 64) this.#closed.delete(this.#closed.keys().next().value as number);
    });
    port.unref();
    const { rate, burst } = this.#options;
    port.postMessage({ type: SETTINGS_MESSAGE, levels: this.#levels.buffer as SharedArrayBuffer, rate, burst } satisfies ChannelSettings);
    return true;
  }

  /**
   * Before an attempt's end is taken: what it posted is taken in first — whatever its worker's channel holds, read
   * now, then `batch`, its reply's own. The channel was heard of before the worker booted, and the worker posts on it
   * before it replies: what the attempt posted is on this thread by the time its end is. Returns true when it is in,
   * so that the end may be taken now; false when it waits behind others on this thread, and `then` is called once it
   * is in.
   */
  settle(threadId: number, drain: boolean, batch: WorkerBatch | undefined, then: () => void): boolean {
    const wasEmpty = this.#head === this.#queue.length;
    const port = drain ? (this.#ports.get(threadId) ?? this.#closed.get(threadId)) : undefined;
    if (port !== undefined) this.#drain(port);
    if (batch !== undefined) this.#receive(batch, false);
    if (this.#head === this.#queue.length) return true;
    // Only this attempt's own (and its worker's) are queued: taken in now, within a slice.
    if (wasEmpty) this.#take(performance.now() + SLICE_MS, false);
    if (this.#head === this.#queue.length) return true;
    this.#queue.push(new EndEntry(then));
    this.#schedule();
    return false;
  }

  #drain(port: MessagePort): void {
    for (let received = receiveMessageOnPort(port); received !== undefined; received = receiveMessageOnPort(port)) {
      this.#receive(received.message, false);
    }
  }

  // A message from a worker's channel: queued, to be taken in order (in a slice to come, when `schedule`).
  #receive(data: unknown, schedule = true): void {
    const type = typeof data === 'object' && data !== null ? (data as { type?: unknown }).type : undefined;
    if (type === BATCH_MESSAGE) {
      const batch = data as WorkerBatch;
      if (!Array.isArray(batch.items) || !Number.isInteger(batch.slot) || !Number.isInteger(batch.ticket)) {
        this.#refuse(type);
        return;
      }
      let lines = 0;
      for (let i = 0; i < batch.items.length;) {
        if ((batch.items[i] as number) <= Item.ERROR) {
          lines++;
          i += 3;
        } else {
          i += 2;
        }
      }
      if (this.#pendingLines + lines > this.#maxPending && lines > 0) {
        this.#queue.push(new BatchEntry(this.#withoutLines(batch), 0));
      } else {
        this.#pendingLines += lines;
        this.#queue.push(new BatchEntry(batch, lines));
      }
    } else if (type === STRAY_ERROR_MESSAGE) {
      this.#queue.push(data as StrayErrorMessage);
    } else {
      this.#refuse(type);
      return;
    }
    if (schedule) this.#schedule();
  }

  // Too many lines wait here already: the batch keeps its progress values and its start, its lines are counted.
  #withoutLines(batch: WorkerBatch): WorkerBatch {
    const kept: unknown[] = [];
    let dropped = 0;
    const { items } = batch;
    for (let i = 0; i < items.length;) {
      const code = items[i] as number;
      if (code <= Item.ERROR) {
        dropped++;
        i += 3;
      } else {
        kept.push(code, items[i + 1]);
        i += 2;
      }
    }
    this.#options.metrics.processorLogLinesDropped += dropped;
    this.#behind.add(dropped, { pendingLines: this.#pendingLines });
    return { ...batch, items: kept };
  }

  #schedule(): void {
    this.#slice ??= setImmediate(this.#onSlice);
  }

  readonly #onSlice = (): void => {
    this.#slice = undefined;
    this.#take(performance.now() + SLICE_MS, true);
    if (this.#head < this.#queue.length) this.#schedule();
  };

  // Takes in the queue, in order, until `deadline` (performance.now()); ends only when `ends` (not from inside one).
  #take(deadline: number, ends: boolean): void {
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const entry = queue[this.#head] as Entry;
      if (entry instanceof BatchEntry) {
        if (!this.#takeBatch(entry, deadline)) return;
      } else if (entry instanceof EndEntry) {
        if (!ends) return;
        this.#head++;
        entry.then();
      } else {
        this.#head++;
        this.#takeStray(entry);
      }
      if (performance.now() >= deadline) break;
    }
    if (this.#head === queue.length) {
      queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > queue.length) {
      queue.splice(0, this.#head);
      this.#head = 0;
    }
  }

  // Takes in a batch's items until `deadline`; true once it is all in.
  #takeBatch(entry: BatchEntry, deadline: number): boolean {
    const { batch } = entry;
    const metrics = this.#options.metrics;
    // Looked up on each slice: the attempt may have ended between two.
    const attempt = this.#options.attemptAt(batch.slot, batch.ticket);
    if (entry.at === 0) {
      if (batch.late !== undefined && batch.late > 0) {
        metrics.lateMessagesDropped += batch.late;
        this.#late.add(batch.late, {});
      }
      if (batch.dropped !== undefined && batch.dropped > 0) {
        metrics.processorLogLinesDropped += batch.dropped;
        this.#logger.warn(attempt === undefined ? { dropped: batch.dropped } : { instanceId: attempt.instanceId, dropped: batch.dropped }, DROPPED);
      }
    }
    const { items } = batch;
    let late = 0;
    while (entry.at < items.length) {
      const at = entry.at;
      const code = items[at];
      if (code === Item.PROGRESS || code === Item.STARTED) {
        entry.at += 2;
        if (attempt === undefined) late++;
        else if (code === Item.PROGRESS) attempt.listener.attemptProgress(attempt, items[at + 1]);
        else if (typeof items[at + 1] === 'number') attempt.listener.attemptStarted(attempt);
      } else if ((code === Item.CHUNK || code === Item.CHECKPOINT) && typeof items[at + 1] === 'object' && items[at + 1] !== null) {
        entry.at += 2;
        const cargo = items[at + 1] as ChunkCargo;
        if (attempt === undefined) late++;
        else if (code === Item.CHUNK) attempt.listener.attemptChunk(attempt, cargo);
        else this.#checkpoint(attempt, cargo);
      } else {
        const level = typeof code === 'number' ? LOG_LEVELS[code] : undefined;
        const msg = items[at + 1];
        const fields = items[at + 2];
        if (level === undefined || typeof msg !== 'string' || (fields !== undefined && (typeof fields !== 'object' || fields === null))) {
          this.#refuse(BATCH_MESSAGE);
          entry.at = items.length;
          this.#pendingLines -= entry.lines;
          entry.lines = 0;
          break;
        }
        entry.at += 3;
        this.#pendingLines--;
        entry.lines--;
        if (attempt === undefined) late++;
        else this.#write(attempt.instanceId, attempt.number, level, msg, fields as Record<string, unknown> | undefined);
      }
      if (performance.now() >= deadline && entry.at < items.length) break;
    }
    if (late > 0) {
      metrics.lateMessagesDropped += late;
      this.#late.add(late, {});
    }
    if (entry.at < items.length) return false;
    this.#head++;
    return true;
  }

  #write(instanceId: string, attempt: number, level: ProcessorLogLine['level'], msg: string, fields: Record<string, unknown> | undefined): void {
    this.#logger[level]({ ...fields, instanceId, source: 'processor' }, msg);
    const onProcessorLog = this.#options.onProcessorLog;
    if (onProcessorLog === undefined) return;
    try {
      onProcessorLog({ instanceId, attempt, level, msg, fields });
    } catch (error) {
      this.#logger.warn({ instanceId, err: error }, 'onProcessorLog threw');
    }
  }

  #takeStray(message: StrayErrorMessage): void {
    this.#options.metrics.strayErrors++;
    const { threadId, instanceId, error } = message;
    this.#stray.add(1, {
      instanceId: typeof instanceId === 'string' ? instanceId : undefined,
      threadId: typeof threadId === 'number' ? threadId : undefined,
      error: typeof error === 'string' ? error : undefined,
    });
  }

  /** The runtime closes: the queue is taken in whole, the warnings counted so far logged, the channels let go. */
  close(): void {
    clearImmediate(this.#slice);
    this.#slice = undefined;
    this.#take(Number.POSITIVE_INFINITY, true);
    for (const warning of [this.#late, this.#refused, this.#behind, this.#stray]) warning.close();
    if (typeof this.#logger.off === 'function') this.#logger.off('level-change', this.#onLevelChange);
    for (const port of this.#ports.values()) port.close();
    this.#ports.clear();
    this.#closed.clear();
  }
}
