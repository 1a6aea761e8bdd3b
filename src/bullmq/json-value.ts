// What BullMQ can keep of a value: it stores a job's return value and progress as JSON. A value that JSON would
// change on the way (binary, a Map, a Date, NaN, …) is found here and named, so that a job fails with a clear reason
// instead of completing with something other than what its processor returned.
import { types } from 'node:util';

/** Where in a value a part JSON cannot hold stands, and what it is. */
export interface NotJson {
  /** A path from the value's root: `value.image`, `value.list[2]`. */
  readonly path: string;
  /** What stands there: "a Uint8Array (binary)", "a Map", "NaN", … */
  readonly what: string;
}

/**
 * The first part of `value` that a JSON round trip would not give back as it is, or undefined when there is none.
 * JSON holds null, booleans, finite numbers, strings, arrays and plain objects; an object property set to
 * `undefined` is left out by JSON and reads the same afterwards, so it is accepted.
 */
export function findNotJson(value: unknown, root = 'value'): NotJson | undefined {
  const seen = new Set<object>();
  const visit = (item: unknown, path: string): NotJson | undefined => {
    switch (typeof item) {
      case 'string':
      case 'boolean':
        return undefined;
      case 'number':
        return Number.isFinite(item) ? undefined : { path, what: String(item) };
      case 'undefined':
        return { path, what: 'undefined' };
      case 'object':
        break;
      default:
        return { path, what: article(typeof item) };
    }
    if (item === null) return undefined;
    if (types.isAnyArrayBuffer(item) || ArrayBuffer.isView(item)) return { path, what: `${article(kindOf(item))} (binary)` };
    if (seen.has(item)) return { path, what: 'a reference to a value it is part of (a cycle)' };
    seen.add(item);
    if (Array.isArray(item)) {
      for (let index = 0; index < item.length; index++) {
        const found = visit(item[index], `${path}[${index}]`);
        if (found !== undefined) return found;
      }
      seen.delete(item);
      return undefined;
    }
    const prototype = Object.getPrototypeOf(item) as unknown;
    if (prototype !== Object.prototype && prototype !== null) return { path, what: article(kindOf(item)) };
    for (const [key, entry] of Object.entries(item)) {
      if (entry === undefined) continue;
      const found = visit(entry, /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);
      if (found !== undefined) return found;
    }
    seen.delete(item);
    return undefined;
  };
  return visit(value, root);
}

function kindOf(item: object): string {
  if (Buffer.isBuffer(item)) return 'Buffer';
  return Object.prototype.toString.call(item).slice(8, -1);
}

function article(noun: string): string {
  // "a Uint8Array", "an Int8Array", "an Error".
  return `${/^[AEIOaeio]/.test(noun) ? 'an' : 'a'} ${noun}`;
}
