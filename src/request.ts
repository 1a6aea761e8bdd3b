// What a caller submits, and the checks that refuse a bad request before anything is built (its params are checked
// and snapshotted by params.ts).
import { types } from 'node:util';
import { nanoid } from 'nanoid';
import { describeValue, InvalidRequestError, InvalidRetriesError, InvalidTimeoutError, UnknownProcessorError } from './errors.js';
import { MAX_TIMER_MS } from './checks.js';
import { didYouMean, keySet, unknownKey } from './keys.js';
import { copyCheckpoint, snapshotParams, type ParamsSource } from './params.js';
import type { ProcessorRegistry } from './registry.js';

/**
 * One instance to run. `K` is the processor's registry name, `P` the type of its `jobParams`, `S` the type of its
 * checkpoints (`resumeFrom`).
 */
export interface SubmitRequest<K extends string = string, P = unknown, S = unknown> {
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
  /**
   * How long an attempt may go without a heartbeat (`ctx.heartbeat()`, `ctx.progress()`, `ctx.checkpoint()`), from its
   * start or its last heartbeat (ms), before it is stalled: interrupted, force-stopped after the grace, and retried
   * while retries remain (`HEARTBEAT_TIMEOUT_INTERRUPTED`, `HEARTBEAT_TIMEOUT_FORCE_STOPPED`). A positive finite
   * number, at most 2^31-1.
   * @default the runtime's `heartbeatTimeoutMs` (off unless set)
   */
  readonly heartbeatTimeoutMs?: number;
  /**
   * A checkpoint the instance starts from (`ctx.resumeFrom` of its first attempt): one an earlier run saved
   * (`outcome.checkpoint`, `onCheckpoint`). Any value that can be cloned; it is copied at submit.
   * @default none
   */
  readonly resumeFrom?: S;
}

/** The fields of a request that `run()` takes as options: all but its own arguments. */
type RunOptionKey = Exclude<keyof SubmitRequest, 'processor' | 'jobParams'>;

/** The request fields `run()` takes as options (`map()` takes them too, but `instanceId`). */
export const RUN_OPTION_FIELDS = {
  instanceId: true,
  jobId: true,
  instanceParams: true,
  childrenValues: true,
  timeoutMs: true,
  maxRetries: true,
  wfInstanceId: true,
  signal: true,
  heartbeatTimeoutMs: true,
  resumeFrom: true,
} as const satisfies Record<RunOptionKey, true>;

const RUN_OPTION_KEYS = keySet(RUN_OPTION_FIELDS);

/** Every field a `SubmitRequest` has: any other is refused. */
const REQUEST_KEYS = keySet({ ...RUN_OPTION_FIELDS, processor: true, jobParams: true } satisfies Record<keyof SubmitRequest, true>);

/**
 * Checks `run()`'s options: an object (or undefined) with no key a request does not take, nor `processor` or
 * `jobParams` (run()'s own arguments, which would override them). Throws an `InvalidRequestError` naming the key.
 */
export function checkRunOptions(options: unknown): void {
  checkCallOptions('run()', options, RUN_OPTION_KEYS);
}

/**
 * Checks the options of `call` (`run()`, `stream()`), which takes a processor and its params as arguments: an object
 * (or undefined) with no key but `known`. Throws an `InvalidRequestError` naming the key.
 */
export function checkCallOptions(call: string, options: unknown, known: ReadonlySet<string>): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidRequestError('options', `${call}'s options must be an object, got ${describeValue(options)}`);
  }
  const key = listUnknown(options, known);
  if (key === undefined) return;
  if (key === 'processor' || key === 'jobParams') throw new InvalidRequestError(key, `is an argument of ${call}, not one of its options`);
  throw new InvalidRequestError(key, `unknown option of ${call}${didYouMean(key, known)}`);
}

/** The first key of `value` not in `known`; a trap or getter that throws while the keys are listed gets a typed error. */
function listUnknown(value: object, known: ReadonlySet<string>): string | undefined {
  try {
    return unknownKey(value, known);
  } catch (cause) {
    throw new InvalidRequestError('request', 'listing its fields threw', { cause });
  }
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
  readonly heartbeatTimeoutMs: number | undefined;
  readonly resumeFrom: unknown;
}

/** Longest `instanceId`, and longest `jobId` / `wfInstanceId` string, in UTF-16 code units: ids are written into every log line and report. */
export const MAX_ID_LENGTH = 1024;

/** What `acceptRequest` checks a request against: made once per runtime, passed on every submit. */
export interface Admission {
  readonly registry: ProcessorRegistry;
  /** Bounds each of `jobParams`, `instanceParams`, `childrenValues` and `resumeFrom`, in copied bytes. */
  readonly maxParamsBytes: number;
  /** Throws when the instance may not be admitted (a duplicate id, the instance limit). */
  readonly admit: (instanceId: string) => void;
  /** The runtime's `heartbeatTimeoutMs`, for a request that gives none. */
  readonly heartbeatTimeoutMs: number | undefined;
}

/**
 * Checks a request and snapshots its params and its `resumeFrom`. `maxParamsBytes` bounds each field on its own; the
 * error names the field over it. `admit` is called with the instance id once every field has passed and before
 * anything is cloned, so a duplicate or over-the-limit request throws without paying for a (maybe huge) clone.
 */
export function acceptRequest(request: SubmitRequest<string, unknown>, { registry, maxParamsBytes, admit, heartbeatTimeoutMs: defaultHeartbeatTimeoutMs }: Admission): AcceptedRequest {
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
  const heartbeatTimeoutMs = read(request, 'heartbeatTimeoutMs') ?? defaultHeartbeatTimeoutMs;
  if (heartbeatTimeoutMs !== undefined && (typeof heartbeatTimeoutMs !== 'number' || !(heartbeatTimeoutMs > 0) || heartbeatTimeoutMs > MAX_TIMER_MS)) {
    throw new InvalidRequestError('heartbeatTimeoutMs', `must be a positive finite number of milliseconds, at most ${MAX_TIMER_MS}, got ${describeValue(heartbeatTimeoutMs)}`);
  }
  const resumeFrom = read(request, 'resumeFrom');
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
  const id = instanceId ?? flat(nanoid());
  admit(id);
  const retries = maxRetries ?? 0;
  const jobParams = read(request, 'jobParams');
  const instanceParams = read(request, 'instanceParams');
  return {
    processorName: processorName as string,
    processorIndex,
    instanceId: id,
    jobId,
    params: snapshotParams({ jobParams, instanceParams, childrenValues }, maxParamsBytes, retries),
    timeoutMs,
    maxRetries: retries,
    wfInstanceId,
    signal,
    heartbeatTimeoutMs,
    resumeFrom: resumeFrom === undefined ? undefined : copyCheckpoint(resumeFrom, maxParamsBytes),
  };
}

/**
 * `id`, flat: nanoid builds its ids a character at a time, and V8 keeps such a string as a chain of a dozen pieces,
 * 300-odd bytes held for the instance's life. Reading it as a number joins them into one (it is not a number); the
 * number is kept, or the optimizing compiler would drop the read.
 */
function flat(id: string): string {
  flatRead.value = Number(id);
  return id;
}
const flatRead = { value: 0 };

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
export function isAbortSignal(value: unknown): value is AbortSignal {
  if (typeof value !== 'object' || value === null || types.isProxy(value)) return false;
  try {
    abortedGetter?.call(value);
    return value instanceof AbortSignal;
  } catch {
    return false;
  }
}

