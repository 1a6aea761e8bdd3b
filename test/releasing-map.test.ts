// ReleasingMap: a Map's semantics, and the reason it exists: a value deleted from it is not kept alive by the old hash
// tables V8 leaves behind as a map grows (the maps of live instances and running attempts churn an entry per instance).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ReleasingMap } from '../dist/src/releasing-map.js';

const script = fileURLToPath(new URL('./fixtures/map-retention.js', import.meta.url));

/** KB of a deleted ~800 KB value that four young-generation collections promoted, with a map of `kind`. */
function promotedKb(kind: 'Map' | 'ReleasingMap'): number {
  const output = execFileSync(process.execPath, ['--expose-gc', script, kind], { encoding: 'utf8' });
  return (JSON.parse(output) as { promotedKb: number }).promotedKb;
}

describe('ReleasingMap', () => {
  it('sets, gets, deletes, counts and walks its entries as a Map does', () => {
    const map = new ReleasingMap<string, { n: number }>();
    const a = { n: 1 };
    map.set('a', a);
    map.set('b', { n: 2 });
    map.set('a', { n: 3 });
    expect([map.size, map.has('a'), map.get('a'), map.get('c')]).toEqual([2, true, { n: 3 }, undefined]);
    expect([...map.keys()]).toEqual(['a', 'b']);
    expect(map.delete('a')).toBe(true);
    expect(map.delete('a')).toBe(false);
    expect([map.size, map.has('a'), map.get('a')]).toEqual([1, false, undefined]);
    map.set('c', { n: 4 });
    const seen: number[] = [];
    for (const value of map.values()) {
      seen.push(value.n);
      map.delete('c'); // deleted during the walk: not given
    }
    expect(seen).toEqual([2]);
  });

  // The bug it fixes: under a flood of no-op instances, every finished instance's tracker was promoted this way, and
  // the main thread spent about twice piscina's time in the garbage collector.
  it("lets a deleted value go, where a Map's old table keeps it alive into the old generation", () => {
    expect(promotedKb('Map')).toBeGreaterThan(400);
    expect(promotedKb('ReleasingMap')).toBeLessThan(100);
  }, 30_000);
});
