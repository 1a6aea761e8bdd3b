// A stream processor's generator, driven in its worker (the caller's side is src/stream.ts). Each chunk it yields is
// posted at once on the worker's channel, after the lines written before it, its moved buffers transferred.
// Backpressure: the main thread adds each chunk its caller takes to the slot's `consumed` word and notifies it; the
// generator is not resumed while `highWaterMark` of its chunks are not consumed, the driver waiting on that word
// with Atomics.waitAsync (never Atomics.wait, which would hold the event loop the interrupt's signal needs). A yield
// is an interrupt point: once the attempt is interrupted, the generator is resumed with an InterruptedError thrown at
// its `yield`, at once when it waits for room (the wait races the context's signal, which the flags word wakes).
import type { AttemptRequest } from '../src/messages.js';
import { outbox } from './channel.js';
import type { AttemptContext } from './context.js';
import { InterruptedError, type ProcessResult, type StreamProcessorFunction } from './processor.js';
import { forgetMoved, marksIn, NotSendable, putValue, type ValueFields } from './value-out.js';

/** What the driver throws for a chunk that cannot be cloned: the attempt ends VALUE_NOT_CLONEABLE, with its text. */
export class ChunkNotSendable extends Error {}

type Generator = AsyncGenerator<unknown, unknown, undefined>;

/** The attempt's processor: drives the generator `process` makes, and succeeds with the generator's return value. */
export function streamRunner(process: StreamProcessorFunction, request: AttemptRequest, consumed: Int32Array): (ctx: AttemptContext) => Promise<ProcessResult> {
  // A stream attempt always has one: attempt.ts ends an attempt whose kind does not match its processor before this.
  const highWaterMark = request.highWaterMark as number;
  return (ctx) => drive(process(ctx), new Room(ctx, consumed, request.slot, highWaterMark), ctx);
}

async function drive(generator: Generator, room: Room, ctx: AttemptContext): Promise<ProcessResult> {
  try {
    let produced = 0;
    let step = await generator.next();
    while (step.done !== true) {
      produced++;
      ctx.heartbeat(); // each yield is a heartbeat
      const refused = send(ctx, step.value);
      if (refused !== undefined) {
        await close(generator);
        throw new ChunkNotSendable(`its chunk ${produced}: ${refused.text}`);
      }
      let go = room.now(produced);
      if (go === undefined) go = await room.wait(produced);
      step = go ? await generator.next() : await generator.throw(new InterruptedError());
    }
    return { success: true, value: step.value };
  } finally {
    room.close();
  }
}

/** Posts a chunk, its moved buffers transferred; says why it cannot be, if it cannot. */
function send(ctx: AttemptContext, chunk: unknown): NotSendable | undefined {
  const cargo: ValueFields = {};
  const transfer = putValue(cargo, chunk, marksIn);
  if (transfer instanceof NotSendable) return transfer;
  outbox.chunk(ctx.channel, cargo, transfer);
  forgetMoved(transfer);
  return undefined;
}

/** Ends a generator whose chunk could not be sent: its `finally` blocks run; what they throw is not the cause. */
async function close(generator: Generator): Promise<void> {
  try {
    await generator.return(undefined);
  } catch {
    // the chunk that could not be sent is the cause
  }
}

/** The room the caller leaves: its chunks consumed, in the slot's `consumed` word. */
class Room {
  #interrupted: Promise<unknown> | undefined;
  #waited = false;

  constructor(
    readonly ctx: AttemptContext,
    readonly consumed: Int32Array,
    readonly slot: number,
    readonly highWaterMark: number,
  ) {}

  /** After chunk `produced`: true to resume the generator, false once the attempt is interrupted, undefined to wait. */
  now(produced: number): boolean | undefined {
    if (this.ctx.interrupted) return false;
    return produced - Atomics.load(this.consumed, this.slot) < this.highWaterMark ? true : undefined;
  }

  /** Waits for room after chunk `produced`: true once there is, false once the attempt is interrupted (at once). */
  async wait(produced: number): Promise<boolean> {
    this.#waited = true;
    for (;;) {
      if (this.ctx.interrupted) return false;
      const seen = Atomics.load(this.consumed, this.slot);
      if (produced - seen < this.highWaterMark) return true;
      // The word's value is checked as the wait begins: a chunk consumed since it was read ends the wait at once.
      const waiting = Atomics.waitAsync(this.consumed, this.slot, seen);
      if (waiting.async) await Promise.race([waiting.value, (this.#interrupted ??= aborted(this.ctx.signal))]);
    }
  }

  /** A wait the interrupt cut short is still registered on the word: woken, so that it does not linger. */
  close(): void {
    if (this.#waited) Atomics.notify(this.consumed, this.slot);
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
