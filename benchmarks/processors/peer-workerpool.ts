// Peers benchmark, workerpool worker: `runaway` (an endless loop that ignores everything) and `next` (returns the
// worker-side now() at its start).
import workerpool from 'workerpool';
import { now } from '../lib/stats.js';

workerpool.worker({
  runaway: (): never => {
    let spins = 0;
    for (;;) spins = (spins + 1) | 0;
  },
  next: (): number => now(),
});
