// The one module the main thread and the worker threads share: what crosses between them (the messages, the
// shared-memory layout, the tags, how a value and its moved buffers are written and read), and the few helpers both
// sides use to produce it.
// Keep it free of package dependencies (Node's own modules only): the worker entry imports it on every worker start.
import { BlockList, SocketAddress } from 'node:net';
import { types } from 'node:util';
import { Deserializer, Serializer } from 'node:v8';
import { MessagePort } from 'node:worker_threads';

// ---------------------------------------------------------------------------------------------------------------
// Moved buffers: move() marks a buffer or a port; a value written by ValueWriter carries each marked one by
// reference (transferred, never copied) and every other byte by copy.

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

/** Whether an ArrayBuffer has been detached (transferred away): Node 20 has no `detached` property yet. */
function isDetached(buffer: ArrayBuffer): boolean {
  try {
    new Uint8Array(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/** Thrown by ValueWriter for a moved buffer that is already detached. */
export class DetachedBufferMark extends Error {
  override readonly name = 'DetachedBufferMark';
  /** The buffer, for a message: "a moved Uint8Array". */
  readonly what: string;
  constructor(what: string) {
    super(`${what} is detached`);
    this.what = what;
  }
}

// The kinds of view a value may hold, numbered as Node's own serializer numbers them (lib/v8.js), so that a copied
// view is written byte for byte as v8.serialize writes it; 10 is a Buffer.
const VIEW_KINDS: ReadonlyArray<new (buffer: ArrayBufferLike, byteOffset: number, length: number) => ArrayBufferView> = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array,
  DataView, Buffer as unknown as typeof Uint8Array, BigInt64Array, BigUint64Array,
];
const BUFFER_KIND = 10;
const KIND_OF_TAG = new Map<string, number>(VIEW_KINDS.map((kind, index) => [`[object ${kind.name}]`, index]));
/**
 * A moved view is written as MOVED_VIEW + its kind, then the index of its buffer; a moved port as PORT, then its
 * index; a moved view on shared memory as SHARED_VIEW + its kind, the index of its SharedArrayBuffer, its offset
 * and its length.
 */
const MOVED_VIEW = 100;
const PORT = 200;
const SHARED_VIEW = 300;

function viewKind(view: ArrayBufferView): number {
  if (Buffer.isBuffer(view)) return BUFFER_KIND;
  const kind = KIND_OF_TAG.get(Object.prototype.toString.call(view));
  if (kind === undefined || kind === BUFFER_KIND) throw new Error(`${Object.prototype.toString.call(view)} could not be cloned.`);
  return kind;
}

function makeView(kind: number, buffer: ArrayBufferLike, byteOffset: number, byteLength: number): ArrayBufferView {
  if (kind === BUFFER_KIND) return Buffer.from(buffer, byteOffset, byteLength);
  const View = VIEW_KINDS[kind];
  if (View === undefined) throw new Error(`unknown view kind ${kind}`);
  if (View === (DataView as unknown)) return new DataView(buffer, byteOffset, byteLength);
  return new View(buffer, byteOffset, byteLength / (View as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT);
}

/**
 * The structured-clone algorithm, written as `v8.serialize` writes it (every typed array, Buffer or DataView with
 * only its own bytes, never the rest of its buffer: the rest of Node's shared pool, say), except that a marked one that
 * covers its whole buffer is written by reference to the buffer in `transfer`, a marked MessagePort too, and a
 * SharedArrayBuffer is passed by reference in `shared` (postMessage shares it). It never runs the value's own
 * code but for its getters, which it reads once.
 */
export class ValueWriter extends Serializer {
  /** Buffers and ports the written value refers to, by index. */
  readonly transfer: Array<ArrayBuffer | MessagePort> = [];
  /** The shared memory of the moved views on it, by index: shared, not copied. */
  readonly sharedViews: SharedArrayBuffer[] = [];
  /** SharedArrayBuffers the value holds as such (V8 writes them by reference; a v8 Deserializer cannot read them). */
  readonly shared: SharedArrayBuffer[] = [];
  readonly #index = new Map<object, number>();

  constructor() {
    super();
    (this as unknown as { _setTreatArrayBufferViewsAsHostObjects(flag: boolean): void })._setTreatArrayBufferViewsAsHostObjects(true);
  }

  /** Declares a marked ArrayBuffer the value may hold: V8 then writes it by reference. Call before `writeValue`. */
  moveBuffer(buffer: ArrayBuffer): void {
    if (isDetached(buffer)) throw new DetachedBufferMark('a moved ArrayBuffer');
    this.transferArrayBuffer(this.#indexOf(buffer), buffer);
  }

  #indexOf(item: ArrayBuffer | MessagePort): number {
    let index = this.#index.get(item);
    if (index === undefined) {
      index = this.transfer.push(item) - 1;
      this.#index.set(item, index);
    }
    return index;
  }

  _writeHostObject(object: object): void {
    if (object instanceof MessagePort) {
      if (!(marks.marked.has(object))) throw new Error('A MessagePort could not be cloned: mark it with move() to send it.');
      this.writeUint32(PORT);
      this.writeUint32(this.#indexOf(object));
      return;
    }
    if (!ArrayBuffer.isView(object)) throw new Error(`${Object.prototype.toString.call(object)} could not be cloned.`);
    const kind = viewKind(object);
    const buffer = object.buffer;
    if (marks.marked.has(object) && types.isSharedArrayBuffer(buffer)) {
      let index = this.sharedViews.indexOf(buffer);
      if (index === -1) index = this.sharedViews.push(buffer) - 1;
      this.writeUint32(SHARED_VIEW + kind);
      this.writeUint32(index);
      this.writeUint32(object.byteOffset);
      this.writeUint32(object.byteLength);
      return;
    }
    if (marks.marked.has(object)) {
      if (isDetached(buffer as ArrayBuffer)) throw new DetachedBufferMark(`a moved ${Buffer.isBuffer(object) ? 'Buffer' : Object.prototype.toString.call(object).slice(8, -1)}`);
      if (object.byteOffset === 0 && object.byteLength === buffer.byteLength) {
        this.writeUint32(MOVED_VIEW + kind);
        this.writeUint32(this.#indexOf(buffer as ArrayBuffer));
        return;
      }
    }
    if (!types.isSharedArrayBuffer(buffer) && isDetached(buffer as ArrayBuffer)) {
      throw new Error(`A ${Buffer.isBuffer(object) ? 'Buffer' : Object.prototype.toString.call(object).slice(8, -1)} over a detached ArrayBuffer could not be cloned.`);
    }
    this.writeUint32(kind);
    this.writeUint32(object.byteLength);
    this.writeRawBytes(new Uint8Array(buffer, object.byteOffset, object.byteLength));
  }

  _getSharedArrayBufferId(buffer: SharedArrayBuffer): number {
    const known = this.shared.indexOf(buffer);
    return known === -1 ? this.shared.push(buffer) - 1 : known;
  }
}

/**
 * Reads what ValueWriter wrote. `transfer` holds what the writer's `transfer` held, by index (each ArrayBuffer may
 * now be a SharedArrayBuffer holding the same bytes). A copied view gets a buffer of its own, of its exact size.
 */
class ValueReader extends Deserializer {
  readonly #transfer: ReadonlyArray<ArrayBufferLike | MessagePort>;
  readonly #sharedViews: readonly SharedArrayBuffer[];

  constructor(bytes: Uint8Array, transfer: ReadonlyArray<ArrayBufferLike | MessagePort> = [], sharedViews: readonly SharedArrayBuffer[] = []) {
    super(bytes as Buffer);
    this.#transfer = transfer;
    this.#sharedViews = sharedViews;
    transfer.forEach((item, index) => {
      if (!(item instanceof MessagePort)) this.transferArrayBuffer(index, item as ArrayBuffer);
    });
  }

  _readHostObject(): unknown {
    const kind = this.readUint32();
    if (kind === PORT) return this.#transfer[this.readUint32()];
    if (kind >= SHARED_VIEW) {
      const buffer = this.#sharedViews[this.readUint32()] as SharedArrayBuffer;
      const byteOffset = this.readUint32();
      return makeView(kind - SHARED_VIEW, buffer, byteOffset, this.readUint32());
    }
    if (kind >= MOVED_VIEW) {
      const buffer = this.#transfer[this.readUint32()] as ArrayBufferLike;
      return makeView(kind - MOVED_VIEW, buffer, 0, buffer.byteLength);
    }
    const byteLength = this.readUint32();
    const own = new ArrayBuffer(byteLength);
    new Uint8Array(own).set(this.readRawBytes(byteLength));
    return makeView(kind, own, 0, byteLength);
  }
}

/**
 * When `value` is itself a marked, whole buffer (an ArrayBuffer, or a typed array or DataView covering all of its
 * ArrayBuffer, not shared memory), that ArrayBuffer: it moves as it is, with nothing to write. Else undefined.
 */
export function movedWhole(value: unknown): ArrayBuffer | undefined {
  if (typeof value !== 'object' || value === null || !marks.marked.has(value)) return undefined;
  if (types.isArrayBuffer(value)) return value.byteLength > 0 ? value : undefined;
  if (!ArrayBuffer.isView(value) || Buffer.isBuffer(value)) return undefined;
  const buffer = value.buffer;
  if (types.isSharedArrayBuffer(buffer) || buffer.byteLength === 0 || value.byteOffset !== 0 || value.byteLength !== buffer.byteLength) return undefined;
  return buffer;
}

/** A view of the same kind as `view` over the whole of `buffer` (`buffer` itself for an ArrayBuffer). */
export function sameKindOver(view: ArrayBufferView | ArrayBuffer, buffer: ArrayBuffer): ArrayBufferView | ArrayBuffer {
  return types.isArrayBuffer(view) ? buffer : makeView(viewKind(view), buffer, 0, buffer.byteLength);
}

/** Most nodes `plainTransfers` visits before it leaves a value to ValueWriter, whose native walk is faster on a big one. */
const PLAIN_VISITS = 4096;

/**
 * The transfer list of a value that postMessage can take as it is, with the same result as ValueWriter and no
 * risk of a clone error: primitives, plain objects and arrays of data properties, Maps, Sets, Dates, RegExps, and
 * whole-buffer views and ArrayBuffers (marked ones transferred, others copied). Undefined for anything else (a
 * Buffer, a partial view, a class instance, a getter, a function, a Proxy, a buffer that may be detached, …): that
 * value goes through ValueWriter, which says whether it can be cloned. A clone error at post time would kill the
 * worker: what is let through here must never fail there.
 * Skipping ValueWriter matters for moved buffers: its output is a new Node Buffer, whose allocation makes V8 weigh
 * the external memory just received, and a big moved buffer then costs a full GC on every reply.
 */
export function plainTransfers(value: unknown): Array<ArrayBuffer | MessagePort> | undefined {
  const transfer: Array<ArrayBuffer | MessagePort> = [];
  const seen = new Set<object>();
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item !== 'object' || item === null) {
      if (typeof item === 'symbol' || typeof item === 'function') return undefined;
      continue;
    }
    // A Proxy (Vue's reactive(), MobX, an immer draft) looks like plain data, but postMessage cannot clone it; and
    // anything else done to it here would run its traps. Checked before anything else touches it.
    if (types.isProxy(item)) return undefined;
    if (seen.has(item)) continue;
    if (seen.size >= PLAIN_VISITS) return undefined;
    seen.add(item);
    if (ArrayBuffer.isView(item)) {
      const buffer = item.buffer;
      if (Buffer.isBuffer(item) || types.isSharedArrayBuffer(buffer) || item.byteOffset !== 0 || item.byteLength !== buffer.byteLength) return undefined;
      // An empty buffer may be a detached one, which cannot be cloned: ValueWriter says which.
      if (buffer.byteLength === 0) return undefined;
      if (marks.marked.has(item) && !transfer.includes(buffer)) transfer.push(buffer);
      continue;
    }
    if (types.isArrayBuffer(item)) {
      if (item.byteLength === 0) return undefined; // maybe detached, as above
      if (marks.marked.has(item) && !transfer.includes(item)) transfer.push(item);
      continue;
    }
    if (types.isSharedArrayBuffer(item) || types.isDate(item) || types.isRegExp(item)) continue;
    if (types.isMap(item)) {
      if (Object.getPrototypeOf(item) !== Map.prototype) return undefined;
      Map.prototype.forEach.call(item, (entry: unknown, key: unknown) => stack.push(key, entry));
      continue;
    }
    if (types.isSet(item)) {
      if (Object.getPrototypeOf(item) !== Set.prototype) return undefined;
      Set.prototype.forEach.call(item, (entry: unknown) => stack.push(entry));
      continue;
    }
    const prototype = Object.getPrototypeOf(item) as unknown;
    if (prototype !== Object.prototype && prototype !== null && !(Array.isArray(item) && prototype === Array.prototype)) return undefined;
    for (const key of Object.keys(item)) {
      const descriptor = Object.getOwnPropertyDescriptor(item, key);
      if (descriptor === undefined || !('value' in descriptor)) return undefined;
      stack.push(descriptor.value);
    }
  }
  return transfer;
}

/**
 * Node's objects that keep their state out of their own properties and cross threads only through Node's own clone
 * and transfer hooks: Blob (and File), BlockList, SocketAddress, the web streams and CryptoKey. v8.serialize cannot
 * carry them, and what it does with them depends on the Node version: Node 20 makes them host objects, which it
 * refuses; Node 22 and 24 make them ordinary objects, which it writes as `{}` (the worker would get an empty object).
 * ValueWriter refuses them by what they are, at any depth, on every version.
 */
const NODE_OBJECTS: ReadonlySet<object> = new Set<object>(
  [Blob, BlockList, SocketAddress, ReadableStream, WritableStream, TransformStream, (globalThis as { CryptoKey?: unknown }).CryptoKey]
    .flatMap((kind) => (typeof kind === 'function' ? [kind.prototype as object] : [])),
);

/** Whether `object` is one of NODE_OBJECTS (a subclass's instance too). A Proxy in its prototype chain is not asked. */
function isNodeObject(object: object): boolean {
  for (let prototype = Object.getPrototypeOf(object) as object | null; prototype !== null && prototype !== Object.prototype; prototype = Object.getPrototypeOf(prototype) as object | null) {
    if (NODE_OBJECTS.has(prototype)) return true;
    if (types.isProxy(prototype)) return false;
  }
  return false;
}

/**
 * The first of NODE_OBJECTS that `value` holds where v8.serialize looks (own enumerable data properties, array
 * elements, Map and Set entries, an error's cause); undefined when it holds none. What a getter returns is not looked
 * at (only the writer calls it), nor what a Proxy holds (the writer refuses a Proxy). One pass over the value's
 * objects, in JavaScript: on params of many small objects it costs about what writing them does; buffers and
 * strings are not read.
 */
function nodeObjectIn(value: unknown): object | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const seen = new Set<object>();
  const stack: object[] = [value];
  while (stack.length > 0) {
    const item = stack.pop() as object;
    if (seen.has(item)) continue;
    seen.add(item);
    if (types.isProxy(item)) continue;
    const prototype = Object.getPrototypeOf(item) as unknown;
    if (prototype === Array.prototype && Array.isArray(item)) {
      // Elements are read as the writer reads them (an element getter, rare on an array, runs here too: a long array
      // of data is then walked at the speed of a loop); an array's other own properties are left to the writer.
      for (let index = 0; index < item.length; index++) {
        const element: unknown = item[index];
        if (typeof element === 'object' && element !== null) stack.push(element);
      }
      continue;
    }
    if (prototype !== Object.prototype && prototype !== null) {
      if (ArrayBuffer.isView(item) || types.isAnyArrayBuffer(item) || types.isDate(item) || types.isRegExp(item) || types.isBoxedPrimitive(item)) continue;
      if (isNodeObject(item)) return item;
      if (types.isMap(item)) {
        Map.prototype.forEach.call(item, (entry: unknown, key: unknown) => {
          if (typeof key === 'object' && key !== null) stack.push(key);
          if (typeof entry === 'object' && entry !== null) stack.push(entry);
        });
        continue;
      }
      if (types.isSet(item)) {
        Set.prototype.forEach.call(item, (entry: unknown) => {
          if (typeof entry === 'object' && entry !== null) stack.push(entry);
        });
        continue;
      }
      if (types.isNativeError(item)) {
        // The writer keeps an error's message, stack and cause, nothing else of it.
        const cause = Object.getOwnPropertyDescriptor(item, 'cause');
        if (cause !== undefined && 'value' in cause && typeof cause.value === 'object' && cause.value !== null) stack.push(cause.value as object);
        continue;
      }
    }
    // A plain object, or any other the writer writes as one (its own enumerable properties).
    for (const key of Object.keys(item)) {
      const descriptor = Object.getOwnPropertyDescriptor(item, key);
      if (descriptor !== undefined && 'value' in descriptor && typeof descriptor.value === 'object' && descriptor.value !== null) stack.push(descriptor.value as object);
    }
  }
  return undefined;
}

/** Writes `value` with a ValueWriter; throws what the writer throws (a clone error, a DetachedBufferMark). */
export function writeValue(value: unknown, writer: ValueWriter): Buffer {
  const nodeObject = nodeObjectIn(value);
  if (nodeObject !== undefined) throw new Error(`${Object.prototype.toString.call(nodeObject)} could not be cloned: Node holds its state, where v8.serialize cannot copy it.`);
  writer.writeHeader();
  writer.writeValue(value);
  return writer.releaseBuffer();
}

/** Reads a value written by `writeValue`. */
export function readValue(bytes: Uint8Array, transfer?: ReadonlyArray<ArrayBufferLike | MessagePort>, sharedViews?: readonly SharedArrayBuffer[]): unknown {
  const reader = new ValueReader(bytes, transfer, sharedViews);
  reader.readHeader();
  return reader.readValue() as unknown;
}
