// runtime.map()'s options: the request fields every item's instance takes, and the map's own; their one check.
import { describeValue, InvalidRequestError } from './errors.js';
import { didYouMean, keySet, unknownKey } from './keys.js';
import { MAX_INT32 } from './limits.js';
import { isAbortSignal, RUN_OPTION_FIELDS, type SubmitRequest } from './request.js';

/**
 * `runtime.map()`'s options. Every request field `run()` takes as an option, but `instanceId`, applies to each
 * item's instance (`timeoutMs` and `maxRetries` per item); the rest are the map's own. `S` is the type of
 * `resumeFrom`.
 */
export interface MapOptions<S = unknown> extends Omit<SubmitRequest<string, unknown, S>, 'processor' | 'jobParams' | 'instanceId' | 'signal'> {
  /**
   * Instances of the map submitted and not yet ended, at most. A whole number from 1 to 2^31-1.
   * @default the runtime's `maxThreads`
   */
  readonly concurrency?: number;
  /**
   * Whether values are yielded in the order of the items (`true`) or as their instances end (`false`).
   * @default true
   */
  readonly ordered?: boolean;
  /**
   * Whether every item yields a `MapSettled` record (`{ index, outcome }`, or `{ index, refusal }` for a refused
   * item) and no item's failure throws.
   * @default false
   */
  readonly settle?: boolean;
  /**
   * Aborting it stops the whole map: each item's instance gets it as its request's `signal` (so those in flight end
   * STOPPED, `stoppedBy: 'signal'`), no further item is taken, and the iteration throws the signal's `reason`.
   */
  readonly signal?: AbortSignal;
}

/** The options of a map, checked; `request` is what every item's request holds besides its processor and params. */
export interface ResolvedMapOptions {
  readonly concurrency: number | undefined;
  readonly ordered: boolean;
  readonly settle: boolean;
  readonly signal: AbortSignal | undefined;
  /** Undefined when no request field was given. */
  readonly request: Readonly<Record<string, unknown>> | undefined;
}

/** Largest `concurrency`: the bound of the options that count things. */
export const MAX_CONCURRENCY = MAX_INT32;

// run()'s options but the one instance's id, and the map's own.
const { instanceId: _oneInstance, ...ITEM_REQUEST_FIELDS } = RUN_OPTION_FIELDS;
const MAP_OPTION_KEYS = keySet({ ...ITEM_REQUEST_FIELDS, concurrency: true, ordered: true, settle: true } satisfies Record<keyof MapOptions, true>);

// Keys a request has that map() takes otherwise, or not at all, and why.
const NOT_MAP_OPTIONS: Readonly<Record<string, string>> = {
  processor: 'is an argument of map(), not one of its options',
  jobParams: 'is an argument of map() (its items), not one of its options',
  instanceId: "names one instance: each item's instance gets an id of its own",
};

/**
 * Checks `map()`'s options and splits them into the map's own and the request fields. Throws an
 * `InvalidRequestError` naming the option (`options` for the whole). The request fields' values are checked by the
 * first item's submit, as a request's are.
 */
export function resolveMapOptions(options: MapOptions | undefined): ResolvedMapOptions {
  if (options === undefined) return { concurrency: undefined, ordered: true, settle: false, signal: undefined, request: undefined };
  if (typeof options !== 'object' || options === null) {
    throw new InvalidRequestError('options', `map()'s options must be an object, got ${describeValue(options)}`);
  }
  let key: string | undefined;
  try {
    key = unknownKey(options, MAP_OPTION_KEYS);
  } catch (cause) {
    throw new InvalidRequestError('options', 'listing its fields threw', { cause });
  }
  if (key !== undefined) throw new InvalidRequestError(key, NOT_MAP_OPTIONS[key] ?? `unknown option of map()${didYouMean(key, MAP_OPTION_KEYS)}`);
  // Each option read once, here.
  let own: MapOptions;
  let request: Record<string, unknown>;
  try {
    const { concurrency, ordered, settle, ...rest } = options;
    own = { concurrency, ordered, settle, signal: rest.signal };
    request = rest;
  } catch (cause) {
    throw new InvalidRequestError('options', 'reading them threw', { cause });
  }
  const { concurrency, ordered = true, settle = false, signal } = own;
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= MAX_CONCURRENCY)) {
    throw new InvalidRequestError('concurrency', `must be a whole number from 1 to ${MAX_CONCURRENCY}, got ${describeValue(concurrency)}`);
  }
  if (typeof ordered !== 'boolean') throw new InvalidRequestError('ordered', `must be a boolean, got ${describeValue(ordered)}`);
  if (typeof settle !== 'boolean') throw new InvalidRequestError('settle', `must be a boolean, got ${describeValue(settle)}`);
  if (signal !== undefined && !isAbortSignal(signal)) throw new InvalidRequestError('signal', `must be an AbortSignal, got ${describeValue(signal)}`);
  return { concurrency, ordered, settle, signal, request: Object.keys(request).length === 0 ? undefined : request };
}

/** How to iterate `items`: its async iterator's method if it has one, else its iterator's. */
export function iterationOf(items: unknown): { readonly open: () => unknown; readonly async: boolean } {
  if (items !== null && items !== undefined) {
    let asyncOpen: unknown;
    let syncOpen: unknown;
    try {
      asyncOpen = (items as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator];
      syncOpen = asyncOpen === undefined || asyncOpen === null ? (items as Partial<Iterable<unknown>>)[Symbol.iterator] : undefined;
    } catch (cause) {
      throw new InvalidRequestError('items', 'reading its iterator method threw', { cause });
    }
    if (typeof asyncOpen === 'function') return { open: asyncOpen as () => unknown, async: true };
    if (typeof syncOpen === 'function') return { open: syncOpen as () => unknown, async: false };
  }
  throw new InvalidRequestError('items', `must be an iterable or an async iterable, got ${describeValue(items)}`);
}
