// The one module the main thread and the worker threads share: what crosses between them (the messages, the
// shared-memory layout, the tags, how a value and its moved buffers are written and read), and the few helpers both
// sides use to produce it.
// Keep it free of package dependencies (Node's own modules only): the worker entry imports it on every worker start.
import { BlockList, SocketAddress } from 'node:net';
import { types } from 'node:util';
import { Deserializer, Serializer } from 'node:v8';
import { MessagePort } from 'node:worker_threads';

/** Marks a value made by `defineProcessor`, across copies of this package. */
export const PROCESSOR_BRAND = Symbol.for('light-task-tracker.processor');

/** What every tag of the runtime's messages starts with: a message so tagged that the runtime does not take is refused. */
export const TAG_PREFIX = 'light-task-tracker:';

/** Tags the message a worker posts once booted, its processors imported. */
export const BOOTED_MESSAGE = 'light-task-tracker:booted';

/**
 * Tags the message a worker posts first, on its parentPort, before any processor code can run there: the port of its
 * own channel to the main thread, on which its attempts' messages travel (see WorkerBatch).
 */
export const CHANNEL_MESSAGE = 'light-task-tracker:channel';

/** Tags a batch of one attempt's messages (log lines, progress values, its start), on a worker's channel. */
export const BATCH_MESSAGE = 'light-task-tracker:batch';

/** Tags the runtime's settings for a worker's channel, posted to the worker on it once the runtime has the port. */
export const SETTINGS_MESSAGE = 'light-task-tracker:settings';

/** Tags a worker's word, on its channel, of an error thrown outside its running attempt: logged, no instance fails. */
export const STRAY_ERROR_MESSAGE = 'light-task-tracker:stray-error';

/** Tags a worker's word that an attempt waits for its processor module's first import in this worker. */
export const LOADING_MESSAGE = 'light-task-tracker:loading';

/** Tags a worker's word that the import it announced (LOADING_MESSAGE) has settled, loaded or failed. */
export const LOADED_MESSAGE = 'light-task-tracker:loaded';

/** Tags a worker's word that its attempt runner itself could not be loaded: no worker can run anything. */
export const BOOT_FAILED_MESSAGE = 'light-task-tracker:boot-failed';

/** Values of `WorkerBootData.verified`, one Int32 per registry module. */
export const MODULE_UNTRIED = 0;
/** A worker has imported the module: workers that boot later import it as they boot. */
export const MODULE_VERIFIED = 1;

/**
 * A dispatch slot's flags, one Int32 per slot in `WorkerBootData.flags`: 0 while its attempt runs undisturbed, then
 * bits set with Atomics.or, so that neither side's bit hides the other's.
 */
export const FLAG_RUNNING = 0;
/** Set by the main thread: the attempt is interrupted. */
export const FLAG_INTERRUPTED = 1;
/** Set by the worker the moment before it answers: the attempt has ended, and its reply is on its way. */
export const FLAG_ENDED = 2;

/**
 * The largest attempt ticket. A slot's stamp (`WorkerBootData.stamps`) holds its waiting attempt's ticket (1 to
 * MAX_TICKET), 0 once that attempt is cancelled, or the epoch microseconds its worker started it at (far above
 * MAX_TICKET): one word, so that starting and cancelling are each one compare-and-swap.
 */
export const MAX_TICKET = 2 ** 31 - 1;

/** What each worker receives once, as piscina's `workerData`. */
export interface WorkerBootData {
  /** One Int32 interrupt flag per dispatch slot. */
  readonly flags: SharedArrayBuffer;
  /** One BigInt64 stamp per dispatch slot (see MAX_TICKET). */
  readonly stamps: SharedArrayBuffer;
  /**
   * The registry's module URLs, in its order. A module is imported on its first use in a worker, or while the worker
   * boots once another worker has imported it (`verified`), so that a spare or a replacement starts warm.
   */
  readonly preload: readonly string[];
  /** One Int32 per registry module: MODULE_VERIFIED once any worker has imported it, else MODULE_UNTRIED. */
  readonly verified: SharedArrayBuffer;
  /** How long a booting worker waits for the verified modules' imports before it serves without them (ms). */
  readonly loadTimeoutMs: number;
  /**
   * With `recycleWorkers.heapUsedMb` only: one Int32 per dispatch slot, where a worker leaves its used heap (MB,
   * rounded up) as it ends an attempt in that slot, before it replies.
   */
  readonly heaps?: SharedArrayBuffer;
}

/** One attempt of one instance, as posted to a worker. Fields the instance does not have are left out. */
export interface AttemptRequest {
  /** Index of this attempt's interrupt flag and stamp in `WorkerBootData`. */
  readonly slot: number;
  /** This attempt's ticket: its worker starts it by taking the ticket from the slot's stamp. */
  readonly ticket: number;
  /** Index of the processor module in `WorkerBootData.preload` (the registry, in its order). */
  readonly processorIndex: number;
  readonly instanceId: string;
  readonly jobId?: string | number;
  readonly jobParams?: unknown;
  readonly instanceParams?: unknown;
  readonly wfInstanceId?: string | number;
  /** 0 on the first attempt, then 1, 2, … @default 0 */
  readonly currentRetryTimes?: number;
  /** @default 0 */
  readonly maxRetryTimes?: number;
  /** The values of the instance's children (a BullMQ flow's parent job): child key → value. */
  readonly childrenValues?: Record<string, unknown>;
  /** Trace context entries (W3C `traceparent`, `tracestate`) put in by a submit subscriber: `ctx.trace`. */
  readonly trace?: Readonly<Record<string, string>>;
  /** Set when someone listens for starts: the worker posts a StartedMessage as the attempt starts. */
  readonly announce?: true;
}

/** How an attempt ended, seen from inside the worker. */
export const AttemptEnd = Object.freeze({
  /** The processor returned `{ success: true }`. */
  SUCCEEDED: 0,
  /** The processor returned `{ success: false }`. */
  FAILED: 1,
  /** The processor returned null or undefined. */
  RETURNED_NULL: 2,
  /** The processor threw (or its promise rejected). */
  THREW: 3,
  /** The processor module could not be imported, or exports no processor. */
  LOAD_FAILED: 4,
  /** The processor returned `{ success: true, value }` with a value that cannot be cloned. */
  VALUE_NOT_CLONEABLE: 5,
  /** Not run: the attempt was cancelled before its worker started it. */
  CANCELLED: 6,
} as const);
export type AttemptEnd = (typeof AttemptEnd)[keyof typeof AttemptEnd];

/**
 * The worker's answer for one attempt. Always cloneable. A field at its default is left out: each key is copied
 * across on every attempt, and most attempts end with no message, no context and no log line.
 */
export interface AttemptReply {
  readonly end: AttemptEnd;
  /** The processor's message, or the thrown error's text, or the load failure's text. @default '' */
  readonly msg?: string;
  /** Workflow context the processor appended during this attempt. @default none */
  readonly appended?: Record<string, unknown>;
  /**
   * Batches this attempt posted on the worker's channel (log lines, progress values): when there are any, the main
   * thread takes in what the channel holds before it takes the reply, so that they come first. @default 0
   */
  readonly messages?: number;
  /** The attempt's last batch (the lines written since its last post, and its counts), carried by the reply itself. */
  readonly batch?: WorkerBatch;
  /** A successful attempt's value when it is a primitive, or holds shared memory (then cloned as it is). */
  readonly value?: unknown;
  /** A successful attempt's value, written by `ValueWriter` (see `moved`). */
  readonly valueBytes?: Uint8Array;
  /** The buffers and ports `valueBytes` refers to, transferred with the reply. */
  readonly moved?: Array<ArrayBuffer | MessagePort>;
  /** The shared memory of the moved views on it that `valueBytes` refers to (shared, not copied). */
  readonly sharedViews?: SharedArrayBuffer[];
}

/** The levels a processor may log at, lowest first. */
export const LOG_LEVELS = Object.freeze(['debug', 'info', 'warn', 'error'] as const);
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The first item of each entry of a batch: a log line's level (its index in LOG_LEVELS), or another kind. */
export const Item = Object.freeze({
  /** A log line at LOG_LEVELS[level]: the level, then its message (a string), then its fields (an object, or undefined). */
  DEBUG: 0,
  INFO: 1,
  WARN: 2,
  ERROR: 3,
  /** A progress value: PROGRESS, then the value. */
  PROGRESS: 4,
  /** The attempt has started: STARTED, then the worker's threadId (posted only when the request asks, `announce`). */
  STARTED: 5,
} as const);

/**
 * The first message a worker posts on its parentPort: its channel's port, transferred. Every message of its attempts
 * travels on that channel, none on parentPort, which any processor can post on (or close).
 */
export interface ChannelMessage {
  readonly type: typeof CHANNEL_MESSAGE;
  readonly threadId: number;
  readonly port: MessagePort;
}

/**
 * One attempt's messages, in the order the processor made them, posted on the worker's channel. The first lines of
 * each BATCH_AGE_MS go one by one (a processor that logs a little has each line posted as it writes it); past them,
 * one post takes many lines (a batch is posted when it holds BATCH_LINES lines, when its first line is BATCH_AGE_MS
 * old, when the worker's event loop turns, or at once with a progress value or a start); the attempt's last batch
 * travels inside its reply. The attempt is named by its slot and ticket, which the next instance cannot have (an instance id can be
 * reused): the tracker takes only its current attempt's.
 */
export interface WorkerBatch {
  readonly type: typeof BATCH_MESSAGE;
  readonly slot: number;
  readonly ticket: number;
  /** The entries, flat: each an Item code, then its fields. */
  readonly items: unknown[];
  /** Lines of this attempt the worker dropped (over `processorLogRate`) since the attempt's last count. */
  readonly dropped?: number;
  /** Messages of attempts that had ended (code they left behind), dropped in the worker since its last count. */
  readonly late?: number;
}

/** Lines a batch holds at most: it is posted once it holds this many. */
export const BATCH_LINES = 128;
/** How long a batch's first line waits at most before the batch is posted, when the processor keeps logging (ms). */
export const BATCH_AGE_MS = 10;

/** The runtime's settings for a worker's channel. */
export interface ChannelSettings {
  readonly type: typeof SETTINGS_MESSAGE;
  /**
   * One Int32: the lowest level (its index in LOG_LEVELS) whose lines are sent, LOG_LEVELS.length for none. Shared by
   * the runtime's workers, and changed when the runtime's logger changes its level.
   */
  readonly levels: SharedArrayBuffer;
  /** The most lines the worker sends per second (`processorLogRate`). */
  readonly rate: number;
  /** The most lines it sends at once (`processorLogBurst`). */
  readonly burst: number;
}

/** A worker's word of an error thrown outside its running attempt. */
export interface StrayErrorMessage {
  readonly type: typeof STRAY_ERROR_MESSAGE;
  readonly threadId: number;
  /** The instance whose finished attempt left the code that threw; undefined when it was no attempt's. */
  readonly instanceId: string | undefined;
  /** The error's text, with its stack. */
  readonly error: string;
}

/** A worker's word that it has booted: `threadId` is ready for attempts. */
export interface WorkerBootedMessage {
  readonly type: typeof BOOTED_MESSAGE;
  readonly threadId: number;
}

/**
 * A worker's word that the attempt in `slot` (with `ticket`) waits for the first import of registry module
 * `processorIndex` in this worker: the main thread bounds the wait (`loadTimeoutMs`), a worker stuck there included.
 */
export interface LoadingMessage {
  readonly type: typeof LOADING_MESSAGE;
  readonly threadId: number;
  readonly slot: number;
  readonly ticket: number;
  readonly processorIndex: number;
}

/** A worker's word that the import it announced has settled. */
export interface LoadedMessage {
  readonly type: typeof LOADED_MESSAGE;
  readonly threadId: number;
}

/** A worker's word that its attempt runner could not be loaded, with the error's text and stack. */
export interface BootFailedMessage {
  readonly type: typeof BOOT_FAILED_MESSAGE;
  readonly error: string;
}

/** The `type` of a message a worker posted on its own, or undefined for anything else. */
export function messageType(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
}

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
