// Unknown keys: a misspelled option or request field is refused, naming the known key closest to it, instead of
// being ignored (and its default used) without a word. Every options object and the request go through here.

/**
 * The known keys of an options type, from an object literal written `{ … } satisfies Record<keyof T, true>`: the
 * compiler then refuses a list that misses one of the type's keys or names one it does not have.
 */
export function keySet(keys: Readonly<Record<string, true>>): ReadonlySet<string> {
  return new Set(Object.keys(keys));
}

/**
 * The first own enumerable string key of `value` that is not in `known`; undefined when there is none. Inherited
 * keys are not the caller's spelling (and an enumerable key someone put on `Object.prototype` must not refuse every
 * object). A for-in against a Set, with the own-key test only for a key not in it: no array is made, so it costs
 * next to nothing on a small object.
 */
export function unknownKey(value: object, known: ReadonlySet<string>): string | undefined {
  for (const key in value) if (!known.has(key) && Object.hasOwn(value, key)) return key;
  return undefined;
}

/**
 * The known key closest to `key`, or undefined when none is close: a case-insensitive match first, then the
 * smallest edit distance (insertions, deletions, substitutions and swaps of two neighbours, case ignored) of at
 * most a third of the key's length (at least 1). Ties go to the key listed first.
 */
export function closestKey(key: string, known: Iterable<string>): string | undefined {
  const lower = key.toLowerCase();
  const limit = Math.max(1, Math.floor(key.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase(), bestDistance);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
      if (distance === 0) break;
    }
  }
  return best;
}

/** ` (did you mean "<prefix><closest>"?)`, or '' when no known key is close to `key`. */
export function didYouMean(key: string, known: Iterable<string>, prefix = ''): string {
  const closest = closestKey(key, known);
  return closest === undefined ? '' : ` (did you mean "${prefix}${closest}"?)`;
}

/**
 * Throws a `TypeError` for the first key of the options object `value` that is not in `known`:
 * `<owner>: unknown option "<path><key>" (did you mean "<path><closest>"?)`. `path` is where `value` sits in the
 * options (`resourceLimits.`), empty for the top level.
 */
export function refuseUnknownOptions(owner: string, value: object, known: ReadonlySet<string>, path = ''): void {
  const key = unknownKey(value, known);
  if (key === undefined) return;
  throw new TypeError(`${owner}: unknown option ${JSON.stringify(path + key)}${didYouMean(key, known, path)}`);
}

/**
 * The optimal string alignment distance between `a` and `b` (Damerau–Levenshtein without editing a letter twice),
 * or `cap` when their lengths alone put it at `cap` or more. Only on the way to an error: keys are short.
 */
function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let beforeLast: number[] = [];
  let last = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min((last[j] as number) + 1, (row[j - 1] as number) + 1, (last[j - 1] as number) + substitution);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, (beforeLast[j - 2] as number) + 1);
      }
      row[j] = distance;
    }
    beforeLast = last;
    last = row;
  }
  return last[b.length] as number;
}
