// Peers benchmark, bare piscina worker file: `runaway` (an endless loop that ignores everything) and `next` (returns
// the worker-side now() at its start). Selected with piscina.run(task, { name }).
import { now } from '../lib/stats.js';

export function runaway(): never {
  let spins = 0;
  for (;;) spins = (spins + 1) | 0;
}

export function next(): number {
  return now();
}
