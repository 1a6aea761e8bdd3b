// How a value leaves its worker: a successful attempt's value in its reply, a stream's chunk or a checkpoint on the
// worker's channel. Plain data and whole buffers go as they are (postMessage clones them, and moves the marked ones); anything
// else is written by ValueWriter, its marked buffers by reference. A value that cannot be cloned is found out here,
// never at post time, where the clone error would kill the worker.
import type { MessagePort } from 'node:worker_threads';
import type { ChunkCargo } from '../src/messages.js';
import { forgetMarkedBuffers, markedBuffers } from '../src/move.js';
import { messageOf } from '../src/text.js';
import { DetachedBufferMark, ValueWriter, writeValue } from '../src/value-codec.js';
import { buffersIn, plainTransfers } from '../src/value-graph.js';

/** What a post transfers. */
export type Transfer = Array<ArrayBuffer | MessagePort>;

/** A value that cannot be sent, and why (the culprit named). */
export class NotSendable {
  constructor(readonly text: string) {}
}

/** A cargo being filled: a chunk's or a checkpoint's, or the value fields of a reply. */
export type ValueFields = { -readonly [K in keyof ChunkCargo]: ChunkCargo[K] };

/**
 * Puts `value` into `fields`: `value` as it is, or `valueBytes` (with `moved` and `sharedViews`) as ValueWriter wrote
 * it. Returns what must be transferred with the post (undefined for nothing), or why the value cannot be sent (then
 * `fields` is left as it was). `marked` gives the marked ArrayBuffers the writer moves.
 */
export function putValue(fields: ValueFields, value: unknown, marked: (value: unknown) => Iterable<ArrayBuffer>): Transfer | NotSendable | undefined {
  if (value === undefined) return undefined;
  if (value === null || (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol')) {
    fields.value = value;
    return undefined;
  }
  // The walk never runs a Proxy's traps; should it throw all the same, the value is not one that can be sent.
  let plain: Transfer | undefined;
  try {
    plain = plainTransfers(value);
  } catch (error) {
    return new NotSendable(messageOf(error));
  }
  if (plain !== undefined) {
    fields.value = value;
    return plain.length > 0 ? plain : undefined;
  }
  const writer = new ValueWriter();
  let bytes: Buffer;
  try {
    for (const buffer of marked(value)) writer.moveBuffer(buffer);
    bytes = writeValue(value, writer);
  } catch (error) {
    return new NotSendable(error instanceof DetachedBufferMark ? `${error.what} was moved already` : messageOf(error));
  }
  if (writer.shared.length > 0) {
    // Shared memory cannot be read back by a v8 Deserializer: the value goes as it is (postMessage shares it), with
    // its marked whole buffers and ports transferred. It was just written, so it can be cloned.
    fields.value = value;
    return writer.transfer.length > 0 ? writer.transfer : undefined;
  }
  // The written bytes move too: a Buffer of their own (releaseBuffer's), unless it came from the shared pool.
  const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : Buffer.from(bytes);
  fields.valueBytes = own;
  if (writer.transfer.length > 0) fields.moved = writer.transfer;
  if (writer.sharedViews.length > 0) fields.sharedViews = writer.sharedViews;
  return [own.buffer as ArrayBuffer, ...writer.transfer];
}

/**
 * The marked buffers `value` holds: those a post of it alone moves (a chunk, a checkpoint), while another marked
 * buffer waits for the post that holds it.
 */
export function marksIn(value: unknown): Iterable<ArrayBuffer> {
  const marked = markedBuffers();
  return marked.length === 0 ? marked : buffersIn(value, new Set(marked));
}

/** After a post of `putValue`'s cargo: the buffers it moved lose their marks, so that no later post moves them again. */
export function forgetMoved(transfer: Transfer | undefined): void {
  if (transfer !== undefined) forgetMarkedBuffers(new Set(transfer) as Set<ArrayBuffer>);
}
