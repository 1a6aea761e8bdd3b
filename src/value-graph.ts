// What a value holds, found by one walk of its objects: the transfer list of a value postMessage can take as it is
// (`plainTransfers`), the marked ArrayBuffers V8 must be told of before it writes a value (`buffersIn`), and the
// first of Node's own objects it holds, which v8.serialize cannot carry (`nodeObjectIn`). Each says, object by
// object, what the walk does next; the walk itself (`walkGraph`) is written once. Node's own modules only: every
// worker loads it.
import { createRequire } from 'node:module';
import { types } from 'node:util';
import type { MessagePort } from 'node:worker_threads';
import { isMarked } from './move.js';

/** What the walk does with an object it has reached: a visitor's answer. */
export const Step = Object.freeze({
  /** Go no further into it (its visitor may have put what it holds on the walk's list itself). */
  LEAF: 0,
  /** Go on into its own enumerable data properties (a getter is never run). */
  PROPERTIES: 1,
  /** Go on into a Map's keys and values. */
  MAP_ENTRIES: 2,
  /** Go on into a Set's values. */
  SET_VALUES: 3,
  /** End the walk. */
  STOP: 4,
} as const);
export type Step = (typeof Step)[keyof typeof Step];

/** Called once for each object the walk reaches, never a Proxy; may push onto `pending` values to walk to. */
export type Visit = (item: object, pending: unknown[]) => Step;

/**
 * Walks the objects `value` holds (itself included), depth first, each once, asking `visit` of each what to do next.
 * Strict, the walk stops at what plain data never holds (a Proxy, a function or a symbol, an accessor property);
 * else it passes them over (a Proxy is never looked into, a getter never run). True when the walk went to its end,
 * false when it stopped.
 */
export function walkGraph(value: unknown, strict: boolean, visit: Visit): boolean {
  const seen = new Set<object>();
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item !== 'object' || item === null) {
      if (strict && (typeof item === 'symbol' || typeof item === 'function')) return false;
      continue;
    }
    // A Proxy (Vue's reactive(), MobX, an immer draft) looks like plain data, but postMessage cannot clone it; and
    // anything else done to it here would run its traps. Checked before anything else touches it.
    if (types.isProxy(item)) {
      if (strict) return false;
      continue;
    }
    if (seen.has(item)) continue;
    seen.add(item);
    switch (visit(item, pending)) {
      case Step.PROPERTIES:
        for (const key of Object.keys(item)) {
          const descriptor = Object.getOwnPropertyDescriptor(item, key);
          if (descriptor === undefined || !('value' in descriptor)) {
            if (strict) return false;
          } else if (strict || (typeof descriptor.value === 'object' && descriptor.value !== null)) {
            pending.push(descriptor.value);
          }
        }
        break;
      case Step.MAP_ENTRIES:
        Map.prototype.forEach.call(item, (entry: unknown, key: unknown) => pending.push(key, entry));
        break;
      case Step.SET_VALUES:
        Set.prototype.forEach.call(item, (entry: unknown) => pending.push(entry));
        break;
      case Step.STOP:
        return false;
      default: // Step.LEAF: nothing more of it to walk
    }
  }
  return true;
}

/** Most objects `plainTransfers` visits before it leaves a value to ValueWriter, whose native walk is faster on a big one. */
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
  let visits = 0;
  const plain = walkGraph(value, true, (item) => {
    if (++visits > PLAIN_VISITS) return Step.STOP;
    if (ArrayBuffer.isView(item)) {
      const buffer = item.buffer;
      if (Buffer.isBuffer(item) || types.isSharedArrayBuffer(buffer) || item.byteOffset !== 0 || item.byteLength !== buffer.byteLength) return Step.STOP;
      // An empty buffer may be a detached one, which cannot be cloned: ValueWriter says which.
      if (buffer.byteLength === 0) return Step.STOP;
      if (isMarked(item) && !transfer.includes(buffer)) transfer.push(buffer);
      return Step.LEAF;
    }
    if (types.isArrayBuffer(item)) {
      if (item.byteLength === 0) return Step.STOP; // maybe detached, as above
      if (isMarked(item) && !transfer.includes(item)) transfer.push(item);
      return Step.LEAF;
    }
    if (types.isSharedArrayBuffer(item) || types.isDate(item) || types.isRegExp(item)) return Step.LEAF;
    if (types.isMap(item)) return Object.getPrototypeOf(item) === Map.prototype ? Step.MAP_ENTRIES : Step.STOP;
    if (types.isSet(item)) return Object.getPrototypeOf(item) === Set.prototype ? Step.SET_VALUES : Step.STOP;
    const prototype = Object.getPrototypeOf(item) as unknown;
    if (prototype !== Object.prototype && prototype !== null && !(Array.isArray(item) && prototype === Array.prototype)) return Step.STOP;
    return Step.PROPERTIES;
  });
  return plain ? transfer : undefined;
}

/**
 * The ArrayBuffers among `candidates` that `value` holds, looked for through own data properties, arrays, Maps and
 * Sets (never a getter, never a Proxy). Only run while some buffer is marked and not yet sent.
 */
export function buffersIn(value: unknown, candidates: ReadonlySet<ArrayBuffer>): Set<ArrayBuffer> {
  const found = new Set<ArrayBuffer>();
  if (candidates.size === 0) return found;
  walkGraph(value, false, (item) => {
    if (types.isArrayBuffer(item)) {
      if (candidates.has(item)) found.add(item);
      return found.size < candidates.size ? Step.LEAF : Step.STOP;
    }
    if (ArrayBuffer.isView(item)) return Step.LEAF;
    if (types.isMap(item)) return Step.MAP_ENTRIES;
    if (types.isSet(item)) return Step.SET_VALUES;
    return Step.PROPERTIES;
  });
  return found;
}

/**
 * Node's objects that keep their state out of their own properties and cross threads only through Node's own clone
 * and transfer hooks: Blob (and File), BlockList, SocketAddress, the web streams and CryptoKey. v8.serialize cannot
 * carry them, and what it does with them depends on the Node version: Node 20 makes them host objects, which it
 * refuses; Node 22 and 24 make them ordinary objects, which it writes as `{}` (the worker would get an empty object).
 * ValueWriter refuses them by what they are, at any depth, on every version. Made on first use: reading the web
 * streams' and CryptoKey's globals, and node:net, loads those parts of Node (milliseconds of every worker's boot).
 */
let nodeObjectKinds: ReadonlySet<object> | undefined;
function nodeObjects(): ReadonlySet<object> {
  if (nodeObjectKinds !== undefined) return nodeObjectKinds;
  const { BlockList, SocketAddress } = createRequire(import.meta.url)('node:net') as typeof import('node:net');
  return (nodeObjectKinds = new Set<object>(
    [Blob, BlockList, SocketAddress, ReadableStream, WritableStream, TransformStream, (globalThis as { CryptoKey?: unknown }).CryptoKey]
      .flatMap((kind) => (typeof kind === 'function' ? [kind.prototype as object] : [])),
  ));
}

/** Whether `object` is one of nodeObjects() (a subclass's instance too). A Proxy in its prototype chain is not asked. */
function isNodeObject(object: object): boolean {
  const kinds = nodeObjects();
  for (let prototype = Object.getPrototypeOf(object) as object | null; prototype !== null && prototype !== Object.prototype; prototype = Object.getPrototypeOf(prototype) as object | null) {
    if (kinds.has(prototype)) return true;
    if (types.isProxy(prototype)) return false;
  }
  return false;
}

/**
 * The first of nodeObjects() that `value` holds where v8.serialize looks (own enumerable data properties, array
 * elements, Map and Set entries, an error's cause); undefined when it holds none. What a getter returns is not looked
 * at (only the writer calls it), nor what a Proxy holds (the writer refuses a Proxy). One pass over the value's
 * objects, in JavaScript: on params of many small objects it costs about what writing them does; buffers and
 * strings are not read.
 */
export function nodeObjectIn(value: unknown): object | undefined {
  let found: object | undefined;
  walkGraph(value, false, (item, pending) => {
    const prototype = Object.getPrototypeOf(item) as unknown;
    if (prototype === Array.prototype && Array.isArray(item)) {
      // Elements are read as the writer reads them (an element getter, rare on an array, runs here too: a long array
      // of data is then walked at the speed of a loop); an array's other own properties are left to the writer.
      for (let index = 0; index < item.length; index++) {
        const element: unknown = item[index];
        if (typeof element === 'object' && element !== null) pending.push(element);
      }
      return Step.LEAF;
    }
    if (prototype !== Object.prototype && prototype !== null) {
      if (ArrayBuffer.isView(item) || types.isAnyArrayBuffer(item) || types.isDate(item) || types.isRegExp(item) || types.isBoxedPrimitive(item)) return Step.LEAF;
      if (isNodeObject(item)) {
        found = item;
        return Step.STOP;
      }
      if (types.isMap(item)) return Step.MAP_ENTRIES;
      if (types.isSet(item)) return Step.SET_VALUES;
      if (types.isNativeError(item)) {
        // The writer keeps an error's message, stack and cause, nothing else of it.
        const cause = Object.getOwnPropertyDescriptor(item, 'cause');
        if (cause !== undefined && 'value' in cause && typeof cause.value === 'object' && cause.value !== null) pending.push(cause.value);
        return Step.LEAF;
      }
    }
    // A plain object, or any other the writer writes as one (its own enumerable properties).
    return Step.PROPERTIES;
  });
  return found;
}
