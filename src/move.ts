// move(): the marks on the buffers and ports a value moves to another thread instead of copying. The codec
// (value-codec.ts) writes each marked one by reference and the walks of a value (value-graph.ts) look for them.
// Node's own modules only: processors import it, and every worker loads it.
import { types } from 'node:util';
import { MessagePort } from 'node:worker_threads';

/**
 * What move() has marked in this thread. Kept under a global symbol so that two copies of the package in one
 * thread (a processor that brings its own) see the same marks.
 */
interface MoveMarks {
  readonly marked: WeakSet<object>;
  /** Marked ArrayBuffers not yet sent (V8 must be told of them before it writes a value). */
  readonly buffers: Set<WeakRef<ArrayBuffer>>;
}
const marks: MoveMarks = ((globalThis as Record<symbol, unknown>)[Symbol.for('light-task-tracker.moves')] ??= {
  marked: new WeakSet(),
  buffers: new Set(),
}) as MoveMarks;

/**
 * Marks an ArrayBuffer, a typed array, a Buffer, a DataView or a MessagePort to be moved, not copied, when the value
 * holding it (at any depth) crosses to another thread: the bytes change owner, and this thread's buffer is detached
 * (empty) afterwards. A view that covers only part of its buffer (a small Buffer sliced from Node's shared pool) is
 * copied instead, so that it never takes other data with it. A SharedArrayBuffer is shared as it is. Returns `value`.
 */
export function move<T>(value: T): T {
  if (types.isSharedArrayBuffer(value)) return value;
  if (types.isArrayBuffer(value)) {
    marks.marked.add(value);
    marks.buffers.add(new WeakRef(value));
  } else if (ArrayBuffer.isView(value) || value instanceof MessagePort) {
    marks.marked.add(value);
  } else {
    throw new TypeError('move() takes an ArrayBuffer, a typed array, a Buffer, a DataView or a MessagePort');
  }
  return value;
}

/**
 * Marked ArrayBuffers still alive and not yet sent (a detached one among them is refused when a value holds it);
 * forgets the dead ones.
 */
export function markedBuffers(): ArrayBuffer[] {
  const alive: ArrayBuffer[] = [];
  for (const ref of marks.buffers) {
    const buffer = ref.deref();
    if (buffer === undefined) marks.buffers.delete(ref);
    else alive.push(buffer);
  }
  return alive;
}

/** Forgets the marks of these ArrayBuffers: they have been sent (or every one, with no argument). */
export function forgetMarkedBuffers(sent?: ReadonlySet<ArrayBuffer>): void {
  for (const ref of marks.buffers) {
    const buffer = ref.deref();
    if (sent === undefined || buffer === undefined || sent.has(buffer)) marks.buffers.delete(ref);
  }
}

/** Whether move() has marked this buffer, view or port. */
export function isMarked(item: object): boolean {
  return marks.marked.has(item);
}
