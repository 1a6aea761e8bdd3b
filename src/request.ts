// What a caller submits, and the checks that refuse a bad request before anything is built.
import { types } from 'node:util';
import { DefaultDeserializer, DefaultSerializer } from 'node:v8';
import { nanoid } from 'nanoid';
import {
  describeValue,
  InvalidRequestError,
  InvalidRetriesError,
  InvalidTimeoutError,
  ParamsNotCloneableError,
  ParamsTooLargeError,
  UnknownProcessorError,
} from './errors.js';
import { MAX_TIMER_MS } from './checks.js';
import type { ProcessorRegistry } from './registry.js';

export interface SubmitRequest {
  /** The processor's registry name. Never a path or URL: only registered modules are loaded. */
  readonly processor: string;
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
   * object of its own public fields), so later changes by the caller are not seen. At most `maxParamsBytes`
   * (a string counts 2 bytes per UTF-16 code unit and is not copied, being immutable).
   */
  readonly jobParams?: unknown;
  /** This instance's parameters. Cloned and limited at submit, like `jobParams` (each on its own). */
  readonly instanceParams?: unknown;
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

/** A request that passed every check, with its params snapshotted. */
export interface AcceptedRequest {
  /** The processor's registry name. */
  readonly processorName: string;
  /** The processor's index in the registry (what an attempt request carries). */
  readonly processorIndex: number;
  readonly instanceId: string;
  readonly jobId: string | number | undefined;
  readonly jobParams: unknown;
  readonly instanceParams: unknown;
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
export function acceptRequest(request: SubmitRequest, registry: ProcessorRegistry, maxParamsBytes: number, admit: (instanceId: string) => void): AcceptedRequest {
  if (typeof request !== 'object' || request === null) {
    throw new InvalidRequestError('request', `must be an object, got ${describeValue(request)}`);
  }
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
  const id = instanceId ?? nanoid();
  admit(id);
  return {
    processorName: processorName as string,
    processorIndex,
    instanceId: id,
    jobId,
    jobParams: snapshot('jobParams', read(request, 'jobParams'), maxParamsBytes),
    instanceParams: snapshot('instanceParams', read(request, 'instanceParams'), maxParamsBytes),
    timeoutMs,
    maxRetries: maxRetries ?? 0,
    wfInstanceId,
    signal,
  };
}

function read<K extends keyof SubmitRequest>(request: SubmitRequest, field: K): SubmitRequest[K] {
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

// Primitives travel as they are (they are immutable); a string, which may be huge, is counted without being
// copied or scanned: 2 bytes per UTF-16 code unit, an upper bound of what it costs to copy (V8 writes a Latin-1
// string with 1 byte per unit). Anything else is serialized once here (v8.serialize, the structured-clone
// algorithm), which proves it can reach a worker, gives its size, and, deserialized, freezes what the job will see.
function snapshot(field: 'jobParams' | 'instanceParams', value: unknown, limit: number): unknown {
  switch (typeof value) {
    case 'undefined':
    case 'number':
    case 'boolean':
      return value;
    case 'string': {
      const bytes = value.length * 2;
      if (bytes > limit) throw new ParamsTooLargeError(field, bytes, limit);
      return value;
    }
    case 'object':
      if (value === null) return value;
      break;
    default:
      // bigint (immutable, but up to 128 MiB), function and symbol (refused by the serializer)
      break;
  }
  let serialized: Buffer;
  const serializer = new SnapshotSerializer();
  try {
    serializer.writeHeader();
    serializer.writeValue(value);
    serialized = serializer.releaseBuffer();
  } catch (cause) {
    throw new ParamsNotCloneableError(field, cause);
  }
  if (serialized.length > limit) throw new ParamsTooLargeError(field, serialized.length, limit);
  if (typeof value === 'bigint') return value;
  try {
    // Node's deserializer cannot rebuild a SharedArrayBuffer; structuredClone shares it, as postMessage does.
    if (serializer.shared.length > 0) return structuredClone(value);
    const deserializer = new SnapshotDeserializer(serialized);
    deserializer.readHeader();
    return deserializer.readValue() as unknown;
  } catch (cause) {
    // Too deep to read back here (a stack overflow).
    throw new ParamsNotCloneableError(field, cause);
  }
}

const readHostObject = (DefaultDeserializer.prototype as unknown as { _readHostObject(this: DefaultDeserializer): ArrayBufferView })._readHostObject;

/**
 * `v8.serialize`, except that a SharedArrayBuffer is passed by reference, as postMessage passes it: shared memory
 * between the caller and the job is what it is for (progress counters, flags). Its contents are not counted
 * against `maxParamsBytes`. Only the SharedArrayBuffer itself is shared; a typed-array view on one is copied.
 */
class SnapshotSerializer extends DefaultSerializer {
  readonly shared: SharedArrayBuffer[] = [];

  _getSharedArrayBufferId(buffer: SharedArrayBuffer): number {
    const known = this.shared.indexOf(buffer);
    return known === -1 ? this.shared.push(buffer) - 1 : known;
  }
}

/**
 * `v8.deserialize`, except that each typed array, Buffer or DataView gets a buffer of its own, of its exact size.
 * Node's deserializer makes them views into the serialized bytes (or into the shared pool of small Buffers):
 * posted to a worker, such a view would carry its whole underlying buffer along, the rest of the serialized
 * params or other data of the main thread included.
 */
class SnapshotDeserializer extends DefaultDeserializer {
  _readHostObject(): ArrayBufferView {
    const view = readHostObject.call(this);
    const buffer = new ArrayBuffer(view.byteLength);
    new Uint8Array(buffer).set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    if (Buffer.isBuffer(view)) return Buffer.from(buffer);
    if (view instanceof DataView) return new DataView(buffer);
    return new (view.constructor as new (buffer: ArrayBuffer) => ArrayBufferView)(buffer);
  }
}
