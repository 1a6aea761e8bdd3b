// What a caller submits, and the checks that refuse a bad request before anything is built.
import { types } from 'node:util';
import { MessagePort } from 'node:worker_threads';
import { nanoid } from 'nanoid';
import {
  describeValue,
  DetachedBufferError,
  InvalidRequestError,
  InvalidRetriesError,
  InvalidTimeoutError,
  ParamsNotCloneableError,
  ParamsTooLargeError,
  UnknownProcessorError,
  type ParamsField,
} from './errors.js';
import { MAX_TIMER_MS } from './checks.js';
import { didYouMean, keySet, unknownKey } from './keys.js';
import { DetachedBufferMark, movedWhole, readValue, sameKindOver, ValueWriter, writeValue } from './value-codec.js';
import { forgetMarkedBuffers, markedBuffers } from './move.js';
import { buffersIn } from './value-graph.js';
import type { ProcessorRegistry } from './registry.js';

/** One instance to run. `K` is the processor's registry name, `P` the type of its `jobParams`. */
export interface SubmitRequest<K extends string = string, P = unknown> {
  /** The processor's registry name. Never a path or URL: only registered modules are loaded. */
  readonly processor: K;
  /**
   * This instance's id, unique among the runtime's live instances.
   * @default a fresh nanoid
   */
  readonly instanceId?: string;
  /** The job this instance belongs to; passed to the processor and written into reports. */
  readonly jobId?: string | number;
  /**
   * The job's parameters. Cloned at submit (`v8.serialize`, the structured-clone algorithm: plain data, arrays,
   * Map, Set, Date, RegExp, Error, BigInt, ArrayBuffer, typed arrays and Buffers; a SharedArrayBuffer is shared, not
   * copied, as postMessage shares it; a class instance arrives as a plain
   * object of its own public fields; a Blob, File, BlockList, SocketAddress, web stream or CryptoKey, whose state
   * Node holds, is refused), so later changes by the caller are not seen. At most `maxParamsBytes`
   * (a string counts 2 bytes per UTF-16 code unit and is not copied, being immutable).
   *
   * Buffers marked with `move()`, at any depth, are not copied: they change owner (the caller's are detached once
   * `submit()` returns) and go to the worker by transfer, and their bytes do not count against `maxParamsBytes`.
   * An instance with retries keeps them for every attempt in shared memory (one copy, at submit).
   */
  readonly jobParams?: P;
  /** This instance's parameters. Cloned (or moved) and limited at submit, like `jobParams` (each on its own). */
  readonly instanceParams?: unknown;
  /**
   * The values of the instance's children, child key → value (a BullMQ flow's parent job), given to the processor
   * as `ctx.childrenValues`. Cloned at submit and limited like `jobParams`.
   */
  readonly childrenValues?: Readonly<Record<string, unknown>>;
  /**
   * The longest all attempts together may run, from the first start (ms). A positive finite number,
   * at most 2^31-1. On expiry the processor is interrupted, then force-stopped after the grace.
   * @default no timeout
   */
  readonly timeoutMs?: number;
  /**
   * Further attempts after a failed one; none after a timeout or a stop. A whole number ≥ 0.
   * @default 0
   */
  readonly maxRetries?: number;
  /** The workflow instance this instance belongs to: its final report then carries the appended workflow context. */
  readonly wfInstanceId?: string | number;
  /** Aborting it stops the instance, as `tracker.stop()` does. */
  readonly signal?: AbortSignal;
}

/** The fields of a request that `run()` takes as options: all but its own arguments. */
type RunOptionKey = Exclude<keyof SubmitRequest, 'processor' | 'jobParams'>;

const RUN_OPTION_FIELDS = {
  instanceId: true,
  jobId: true,
  instanceParams: true,
  childrenValues: true,
  timeoutMs: true,
  maxRetries: true,
  wfInstanceId: true,
  signal: true,
} as const satisfies Record<RunOptionKey, true>;

const RUN_OPTION_KEYS = keySet(RUN_OPTION_FIELDS);

/** Every field a `SubmitRequest` has: any other is refused. */
const REQUEST_KEYS = keySet({ ...RUN_OPTION_FIELDS, processor: true, jobParams: true } satisfies Record<keyof SubmitRequest, true>);

/**
 * Checks `run()`'s options: an object (or undefined) with no key a request does not take, nor `processor` or
 * `jobParams` (run()'s own arguments, which would override them). Throws an `InvalidRequestError` naming the key.
 */
export function checkRunOptions(options: unknown): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidRequestError('options', `run()'s options must be an object, got ${describeValue(options)}`);
  }
  const key = listUnknown(options, RUN_OPTION_KEYS);
  if (key === undefined) return;
  if (key === 'processor' || key === 'jobParams') throw new InvalidRequestError(key, 'is an argument of run(), not one of its options');
  throw new InvalidRequestError(key, `unknown option of run()${didYouMean(key, RUN_OPTION_KEYS)}`);
}

/** The first key of `value` not in `known`; a trap or getter that throws while the keys are listed gets a typed error. */
function listUnknown(value: object, known: ReadonlySet<string>): string | undefined {
  try {
    return unknownKey(value, known);
  } catch (cause) {
    throw new InvalidRequestError('request', 'listing its fields threw', { cause });
  }
}

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

/** A request that passed every check, with its params snapshotted. */
export interface AcceptedRequest {
  /** The processor's registry name. */
  readonly processorName: string;
  /** The processor's index in the registry (what an attempt request carries). */
  readonly processorIndex: number;
  readonly instanceId: string;
  readonly jobId: string | number | undefined;
  /** The params the attempts see, and what the first one transfers. */
  readonly params: ParamsSource;
  readonly timeoutMs: number | undefined;
  readonly maxRetries: number;
  readonly wfInstanceId: string | number | undefined;
  readonly signal: AbortSignal | undefined;
}

/** Longest `instanceId`, and longest `jobId` / `wfInstanceId` string, in UTF-16 code units: ids are written into every log line and report. */
export const MAX_ID_LENGTH = 1024;

/**
 * Checks a request and snapshots its params. `maxParamsBytes` bounds each of `jobParams` and `instanceParams` on
 * its own (so an instance holds at most twice that); the error names the field over it. `admit` is called with the
 * instance id once every field has passed and before the params are cloned, so a duplicate or over-the-limit
 * request throws without paying for a (maybe huge) clone.
 */
export function acceptRequest(request: SubmitRequest<string, unknown>, registry: ProcessorRegistry, maxParamsBytes: number, admit: (instanceId: string) => void): AcceptedRequest {
  if (typeof request !== 'object' || request === null) {
    throw new InvalidRequestError('request', `must be an object, got ${describeValue(request)}`);
  }
  // A misspelled field would otherwise be ignored, and its default used.
  const unknownField = listUnknown(request, REQUEST_KEYS);
  if (unknownField !== undefined) throw new InvalidRequestError(unknownField, `unknown request field${didYouMean(unknownField, REQUEST_KEYS)}`);
  // Each field is read once, here: a getter that throws gets a typed error, and one that answers differently on
  // each read cannot pass a check with one value and be used with another.
  const processorName = read(request, 'processor');
  const processorIndex = typeof processorName === 'string' ? registry.indexOf.get(processorName) : undefined;
  if (processorIndex === undefined) throw new UnknownProcessorError(processorName);

  const instanceId = read(request, 'instanceId');
  const jobId = read(request, 'jobId');
  const wfInstanceId = read(request, 'wfInstanceId');
  const timeoutMs = read(request, 'timeoutMs');
  const maxRetries = read(request, 'maxRetries');
  const signal = read(request, 'signal');
  if (instanceId !== undefined && (typeof instanceId !== 'string' || instanceId === '' || instanceId.length > MAX_ID_LENGTH)) {
    throw new InvalidRequestError('instanceId', `must be a non-empty string of at most ${MAX_ID_LENGTH} characters, got ${describeValue(instanceId)}`);
  }
  if (jobId !== undefined && !isId(jobId)) {
    throw new InvalidRequestError('jobId', `must be a string of at most ${MAX_ID_LENGTH} characters or a finite number, got ${describeValue(jobId)}`);
  }
  if (wfInstanceId !== undefined && !isId(wfInstanceId)) {
    throw new InvalidRequestError('wfInstanceId', `must be a string of at most ${MAX_ID_LENGTH} characters or a finite number, got ${describeValue(wfInstanceId)}`);
  }
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || timeoutMs > MAX_TIMER_MS)) {
    throw new InvalidTimeoutError(timeoutMs);
  }
  if (maxRetries !== undefined && (typeof maxRetries !== 'number' || !Number.isSafeInteger(maxRetries) || maxRetries < 0)) {
    throw new InvalidRetriesError(maxRetries);
  }
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new InvalidRequestError('signal', `must be an AbortSignal, got ${describeValue(signal)}`);
  }
  const childrenValues = read(request, 'childrenValues');
  if (childrenValues !== undefined && (typeof childrenValues !== 'object' || childrenValues === null || Array.isArray(childrenValues))) {
    throw new InvalidRequestError('childrenValues', `must be an object of child key → value, got ${describeValue(childrenValues)}`);
  }
  const id = instanceId ?? nanoid();
  admit(id);
  const retries = maxRetries ?? 0;
  const jobParams = read(request, 'jobParams');
  const instanceParams = read(request, 'instanceParams');
  // The usual request: params that are plain values (or none) travel as they are, with nothing to write or take.
  if (childrenValues === undefined && isPlainValue('jobParams', jobParams, maxParamsBytes) && isPlainValue('instanceParams', instanceParams, maxParamsBytes)) {
    return {
      processorName: processorName as string,
      processorIndex,
      instanceId: id,
      jobId,
      params: jobParams === undefined && instanceParams === undefined ? NO_PARAMS : new PlainParams({ jobParams, instanceParams, childrenValues: undefined }),
      timeoutMs,
      maxRetries: retries,
      wfInstanceId,
      signal,
    };
  }
  // Every check first, every move after: a refused request leaves the caller's buffers as they were.
  const job = encode('jobParams', jobParams, maxParamsBytes);
  const instance = encode('instanceParams', instanceParams, maxParamsBytes);
  const children = encode('childrenValues', childrenValues, maxParamsBytes);
  if (retries > 0 && [job, instance, children].some((encoded) => encoded.writer?.transfer.some((item) => item instanceof MessagePort) === true)) {
    throw new InvalidRequestError('maxRetries', 'a MessagePort marked with move() reaches one attempt only: give the instance no retries');
  }
  return {
    processorName: processorName as string,
    processorIndex,
    instanceId: id,
    jobId,
    params: new ParamsSnapshot([job, instance, children], retries > 0),
    timeoutMs,
    maxRetries: retries,
    wfInstanceId,
    signal,
  };
}

function read<K extends keyof SubmitRequest>(request: SubmitRequest<string, unknown>, field: K): SubmitRequest<string, unknown>[K] {
  try {
    return request[field];
  } catch (cause) {
    throw new InvalidRequestError(field, 'reading it threw', { cause });
  }
}

function isId(value: unknown): value is string | number {
  return (typeof value === 'string' && value.length <= MAX_ID_LENGTH) || (typeof value === 'number' && Number.isFinite(value));
}

const abortedGetter = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')?.get;

// A real AbortSignal, not a look-alike: `instanceof` alone passes `Object.create(AbortSignal.prototype)`, which
// would then throw (untyped) when the tracker listens to it. The `aborted` getter checks the internal brand.
function isAbortSignal(value: unknown): value is AbortSignal {
  if (typeof value !== 'object' || value === null || types.isProxy(value)) return false;
  try {
    abortedGetter?.call(value);
    return value instanceof AbortSignal;
  } catch {
    return false;
  }
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
