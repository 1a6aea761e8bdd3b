// The value codec: the structured-clone algorithm as `v8.serialize` writes it, with the buffers and ports marked by
// move() written by reference (transferred, never copied), a partial view copied with only its own bytes, shared
// memory shared, and each view's kind kept. Params cross to a worker this way, and a job's value back. Node's own
// modules only: every worker loads it.
import { types } from 'node:util';
import { Deserializer, Serializer } from 'node:v8';
import { MessagePort } from 'node:worker_threads';
import { isMarked } from './move.js';
import { nodeObjectIn } from './value-graph.js';

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
      if (!isMarked(object)) throw new Error('A MessagePort could not be cloned: mark it with move() to send it.');
      this.writeUint32(PORT);
      this.writeUint32(this.#indexOf(object));
      return;
    }
    if (!ArrayBuffer.isView(object)) throw new Error(`${Object.prototype.toString.call(object)} could not be cloned.`);
    const kind = viewKind(object);
    const buffer = object.buffer;
    if (isMarked(object) && types.isSharedArrayBuffer(buffer)) {
      let index = this.sharedViews.indexOf(buffer);
      if (index === -1) index = this.sharedViews.push(buffer) - 1;
      this.writeUint32(SHARED_VIEW + kind);
      this.writeUint32(index);
      this.writeUint32(object.byteOffset);
      this.writeUint32(object.byteLength);
      return;
    }
    if (isMarked(object)) {
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
  if (typeof value !== 'object' || value === null || !isMarked(value)) return undefined;
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
