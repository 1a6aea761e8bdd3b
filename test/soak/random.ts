// Seeded randomness: one stream for the driver's draws, and a hash for draws that must not depend on the order in
// which things happen (each report try's fault is a function of seed, instance and try number).

/** The driver's stream of draws, in the order the driver makes them. */
export interface Draws {
  /** A number in [0, 1). */
  next(): number;
  /** A whole number in [lo, hi]. */
  between(lo: number, hi: number): number;
  /** One element of a non-empty list. */
  pick<T>(list: readonly T[]): T;
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function draws(seed: number): Draws {
  const next = mulberry32(seed);
  return {
    next,
    between: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick<T>(list: readonly T[]): T {
      if (list.length === 0) throw new RangeError('pick: the list is empty');
      return list[Math.floor(next() * list.length)] as T;
    },
  };
}

/** A number in [0, 1) that depends only on the seed and `values` (whole numbers). */
export type Hash01 = (...values: number[]) => number;

export function hash01(seed: number): Hash01 {
  return (...values) => {
    let h = seed ^ 0x9e3779b9;
    for (const v of values) {
      h = Math.imul(h ^ v, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
    }
    return (h >>> 0) / 4294967296;
  };
}
