// A request's params, from submit to each attempt: each field checked and written once (which proves it can be
// cloned, counts its copied bytes and finds its moved buffers), then snapshotted: the same plain values for every
// attempt, the caller's own moved buffers for a first attempt posted at once (taken into ours when it must wait), or
// one shared-memory copy for an instance with retries.
import { deserialize, serialize } from 'node:v8';
import { MessagePort } from 'node:worker_threads';
import { DetachedBufferError, InvalidRequestError, ParamsNotCloneableError, ParamsTooLargeError, type ParamsField } from './errors.js';
import { forgetMarkedBuffers, markedBuffers } from './move.js';
import { DetachedBufferMark, movedWhole, readValue, sameKindOver, ValueWriter, writeValue } from './value-codec.js';
import { messageOf } from './text.js';
import { buffersIn } from './value-graph.js';

/** What a job reads: the three data fields, as the instance's attempts see them. */
export interface Params {
  readonly jobParams: unknown;
  readonly instanceParams: unknown;
  readonly childrenValues: Record<string, unknown> | undefined;
}

/** An attempt's params, and what it transfers. */
export interface TakenParams {
  readonly params: Params;
  /** What the attempt transfers: the params' moved buffers and ports, for the first attempt only. */
  readonly transfer: ReadonlyArray<ArrayBuffer | MessagePort>;
  /**
   * For params that still hold the caller's own buffers: when the attempt cannot be posted at once, this takes the
   * buffers into ours and gives the params and transfer list to queue instead.
   */
  readonly rescue?: () => TakenParams;
}

/** Where an instance's attempts get their params (a `ParamsSnapshot`). */
export interface ParamsSource {
  /** The params, and (for the first attempt only) what must be transferred with them. */
  take(): TakenParams;
  /** Detaches the caller's moved buffers, if the first attempt has not taken them. */
  own(): void;
}

/**
 * Checks the params of a request and snapshots them for its attempts. Each field is at most `maxParamsBytes` on its
 * own (`ParamsTooLargeError` names the one over it); one that cannot be cloned or holds a detached moved buffer is
 * refused (`ParamsNotCloneableError`, `DetachedBufferError`), as is a moved MessagePort when the instance has
 * `retries` (`InvalidRequestError`). Every check comes before anything moves: a refused request leaves the caller's
 * buffers as they were.
 */
export function snapshotParams(fields: Params, maxParamsBytes: number, retries: number): ParamsSource {
  const { jobParams, instanceParams, childrenValues } = fields;
  // The usual request: params that are plain values (or none) travel as they are, with nothing to write or take.
  if (childrenValues === undefined && isPlainValue('jobParams', jobParams, maxParamsBytes) && isPlainValue('instanceParams', instanceParams, maxParamsBytes)) {
    return jobParams === undefined && instanceParams === undefined ? NO_PARAMS : new PlainParams({ jobParams, instanceParams, childrenValues: undefined });
  }
  const job = encode('jobParams', jobParams, maxParamsBytes);
  const instance = encode('instanceParams', instanceParams, maxParamsBytes);
  const children = encode('childrenValues', childrenValues, maxParamsBytes);
  if (retries > 0 && [job, instance, children].some((encoded) => encoded.writer?.transfer.some((item) => item instanceof MessagePort) === true)) {
    throw new InvalidRequestError('maxRetries', 'a MessagePort marked with move() reaches one attempt only: give the instance no retries');
  }
  return new ParamsSnapshot([job, instance, children], retries > 0);
}

/**
 * A request's `resumeFrom`, copied at submit (the structured-clone algorithm, as `v8.serialize` writes it), so that
 * later changes by the caller are not seen; refused with an `InvalidRequestError` naming `resumeFrom` when it cannot be
 * cloned, or takes over `limit` bytes written.
 */
export function copyCheckpoint(value: unknown, limit: number): unknown {
  let bytes: Buffer;
  try {
    bytes = serialize(value);
  } catch (cause) {
    throw new InvalidRequestError('resumeFrom', `must be a value that can be cloned: ${messageOf(cause)}`, { cause });
  }
  if (bytes.length > limit) {
    throw new InvalidRequestError('resumeFrom', `takes ${bytes.length} bytes, over the limit of ${limit} (maxParamsBytes): save a reference to the state (a path, a key) instead`);
  }
  return deserialize(bytes);
}

/** A field's value, checked and written; its moved buffers still the caller's. */
interface Encoded {
  readonly field: ParamsField;
  readonly value: unknown;
  /** Undefined for a value that travels as it is (a primitive). */
  readonly writer?: ValueWriter;
  readonly bytes?: Buffer;
  /** Marked ArrayBuffers the value holds. */
  readonly buffers?: ReadonlySet<ArrayBuffer>;
  /** The value is a marked whole buffer, this one: it moves as it is, nothing written, no byte copied. */
  readonly whole?: ArrayBuffer;
}

// Primitives travel as they are (they are immutable); a string, which may be huge, is counted without being
// copied or scanned: 2 bytes per UTF-16 code unit, an upper bound of what it costs to copy (V8 writes a Latin-1
// string with 1 byte per unit). Anything else is written once here (ValueWriter: v8.serialize, the structured-clone
// algorithm, with marked buffers by reference), which proves it can reach a worker and gives its size in copied
// bytes.
function encode(field: ParamsField, value: unknown, limit: number): Encoded {
  if (isPlainValue(field, value, limit)) return { field, value };
  // bigint (immutable, but up to 128 MiB), function and symbol (refused by the writer) fall through to the writer.
  // A buffer moved on its own (the usual case for data): nothing to write. (Writing would make a Node Buffer,
  // whose allocation has V8 weigh the big external memory just allocated: a full GC on each such submit.)
  const whole = movedWhole(value);
  if (whole !== undefined) return { field, value, whole };
  const writer = new ValueWriter();
  let bytes: Buffer;
  let buffers: ReadonlySet<ArrayBuffer> | undefined;
  try {
    const marked = markedBuffers();
    if (marked.length > 0) {
      buffers = buffersIn(value, new Set(marked));
      for (const buffer of buffers) writer.moveBuffer(buffer);
    }
    bytes = writeValue(value, writer);
  } catch (cause) {
    if (cause instanceof DetachedBufferMark) throw new DetachedBufferError(field, cause.what);
    throw new ParamsNotCloneableError(field, cause);
  }
  if (bytes.length > limit) throw new ParamsTooLargeError(field, bytes.length, limit);
  if (typeof value === 'bigint') return { field, value };
  return { field, value, writer, bytes, buffers };
}

const NO_TRANSFER: ReadonlyArray<ArrayBuffer | MessagePort> = Object.freeze([]);

/** Params that are plain values: the same for every attempt, nothing to transfer. */
class PlainParams implements ParamsSource {
  readonly #taken: TakenParams;

  constructor(params: Params) {
    this.#taken = { params, transfer: NO_TRANSFER };
  }

  take(): TakenParams {
    return this.#taken;
  }

  own(): void {}
}

/** A request with no params at all (one for every such request). */
const NO_PARAMS = new PlainParams({ jobParams: undefined, instanceParams: undefined, childrenValues: undefined });

/**
 * Whether a field's value is one that travels as it is: undefined, null, a boolean, a number, or a string (counted
 * at 2 bytes per UTF-16 code unit against `limit`, without being copied or scanned).
 */
function isPlainValue(field: ParamsField, value: unknown, limit: number): boolean {
  switch (typeof value) {
    case 'undefined':
    case 'number':
    case 'boolean':
      return true;
    case 'string':
      if (value.length * 2 > limit) throw new ParamsTooLargeError(field, value.length * 2, limit);
      return true;
    default:
      return value === null;
  }
}

/**
 * The params of an accepted request, as its attempts see them. Copied params are a snapshot taken at submit. Moved
 * buffers change owner: an instance with retries keeps their bytes in shared memory, one copy made at submit that
 * every attempt reads, whatever becomes of a worker; one with no retries sends them by transfer with its only
 * attempt. Those stay the caller's own objects while the attempt is posted at once, and are taken into buffers of
 * ours (`own()`) when it must wait: either way the caller's are detached once `submit()` returns, and no buffer is
 * made, or accounted by V8, twice on the way.
 */
export class ParamsSnapshot implements ParamsSource {
  readonly #encoded: readonly [Encoded, Encoded, Encoded];
  #params: Params | undefined;
  /** Moved buffers and ports still to go with the first attempt: the caller's, or ours once owned. */
  #items: Array<ArrayBuffer | MessagePort>;
  #owned = false;
  #taken = false;
  // What every attempt after the first gets (made once).
  #again: TakenParams | undefined;

  constructor(encoded: readonly [Encoded, Encoded, Encoded], keepForRetries: boolean) {
    this.#encoded = encoded;
    for (const field of encoded) if (field.buffers !== undefined) forgetMarkedBuffers(field.buffers);
    this.#items = keepForRetries ? [] : encoded.flatMap(movedItems);
    if (keepForRetries || this.#items.length === 0) {
      this.#params = read3(encoded, (field) => decode(field, keepForRetries));
      this.#owned = true;
    }
  }

  /** Takes the caller's moved buffers into buffers of ours, unless the first attempt has taken them already. */
  own(): void {
    if (this.#owned || this.#taken) return;
    this.#owned = true;
    // structuredClone with a transfer list moves the bytes (or the port) to an object of ours: no copy.
    this.#items = this.#items.map((item) => structuredClone(item, { transfer: [item] }) as ArrayBuffer | MessagePort);
    this.#params = undefined; // read over the caller's objects: read again over ours
  }

  take(): TakenParams {
    if (this.#taken) return (this.#again ??= { params: this.#params as Params, transfer: [] });
    this.#taken = true;
    const params = this.#read();
    const transfer = this.#items;
    this.#items = [];
    if (this.#owned) return transfer.length === 0 ? (this.#again = { params, transfer }) : { params, transfer };
    return {
      params,
      transfer,
      rescue: () => {
        // The attempt could not be posted at once: the pool withdrew it. The buffers are the caller's still.
        this.#taken = false;
        this.#again = undefined;
        this.#items = transfer;
        this.own();
        return this.take();
      },
    };
  }

  #read(): Params {
    if (this.#params !== undefined) return this.#params;
    let next = 0;
    this.#params = read3(this.#encoded, (field) => {
      const count = movedItems(field).length;
      const mine = this.#items.slice(next, next + count);
      next += count;
      return decode(field, false, mine);
    });
    return this.#params;
  }
}

/** What a field moves with the first attempt of an instance with no retries. */
function movedItems(field: Encoded): Array<ArrayBuffer | MessagePort> {
  if (field.whole !== undefined) return [field.whole];
  return field.writer !== undefined && field.writer.shared.length === 0 ? field.writer.transfer : [];
}

function read3(encoded: readonly Encoded[], decodeField: (field: Encoded) => unknown): Params {
  return {
    jobParams: decodeField(encoded[0] as Encoded),
    instanceParams: decodeField(encoded[1] as Encoded),
    childrenValues: decodeField(encoded[2] as Encoded) as Record<string, unknown> | undefined,
  };
}

/**
 * Reads what `encode` checked back into the value the job will see. `items` are the buffers and ports the value
 * moved (the caller's own, or ours); with `keepForRetries`, moved buffers are detached from the caller and their
 * bytes copied once into shared memory.
 */
function decode(encoded: Encoded, keepForRetries: boolean, items?: ReadonlyArray<ArrayBuffer | MessagePort>): unknown {
  const { writer, bytes, value, whole } = encoded;
  if (whole !== undefined) {
    if (!keepForRetries) return items?.[0] === whole ? value : sameKindOver(value as ArrayBufferView, items?.[0] as ArrayBuffer);
    return sameKindOver(value as ArrayBufferView, sharedCopy(whole) as unknown as ArrayBuffer);
  }
  if (writer === undefined || bytes === undefined) return value;
  try {
    if (writer.shared.length > 0) {
      // Node's deserializer cannot rebuild a SharedArrayBuffer; structuredClone shares it, as postMessage does
      // (moved buffers beside it are copied, and detached all the same).
      const clone = structuredClone(value) as unknown;
      for (const item of writer.transfer) structuredClone(item, { transfer: [item] });
      return clone;
    }
    const entries = items ?? writer.transfer.map((item) => (!keepForRetries || item instanceof MessagePort ? item : sharedCopy(item)));
    return readValue(bytes, entries, writer.sharedViews);
  } catch (cause) {
    // Too deep to read back here (a stack overflow).
    throw new ParamsNotCloneableError(encoded.field, cause);
  }
}

/** Detaches a moved buffer from the caller and copies its bytes, once, into shared memory every attempt reads. */
function sharedCopy(buffer: ArrayBuffer): SharedArrayBuffer {
  const own = structuredClone(buffer, { transfer: [buffer] });
  const shared = new SharedArrayBuffer(own.byteLength);
  new Uint8Array(shared).set(new Uint8Array(own));
  return shared;
}
