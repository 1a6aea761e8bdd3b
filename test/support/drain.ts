// An async iteration run to its end, as a test reads it: what it yields, and what it throws.

/** Everything `results` yields, and what it throws (undefined when it ends). */
export async function drain<T>(results: AsyncIterable<T>): Promise<{ values: T[]; error: unknown }> {
  const values: T[] = [];
  try {
    for await (const value of results) values.push(value);
    return { values, error: undefined };
  } catch (error) {
    return { values, error };
  }
}
