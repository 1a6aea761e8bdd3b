// The text of a value that crossed (or will cross) between the threads: a processor's message, a thrown error, a
// worker's death. Both threads use it; it never throws, whatever the value is.

/**
 * The text of a value that crossed (or will cross) the boundary: a processor's message, a thrown error, a worker's
 * death. For an error this is its own text, "Name: message", as Java's Throwable.toString(). Runs the value's own
 * `toString` (it is the processor's or the runtime's, never a caller's request); never throws.
 */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return '[a value whose text cannot be read]'; // a revoked Proxy, or one whose every trap throws
    }
  }
}

/** The message of a thrown error (its text for anything that is not an Error); never throws. */
export function messageOf(error: unknown): string {
  try {
    if (error instanceof Error) return textOf(error.message);
  } catch {
    // a Proxy whose traps throw, a message getter that throws: its text, as for anything else
  }
  return textOf(error);
}
