// Storm benchmark, bare piscina worker file: the same runaway as storm-runaway (marks its start, spins forever), as
// piscina's default-exported task function.
import { StormProbe, type StormParams } from '../lib/storm-probe.js';

export default function runaway(params: StormParams): never {
  StormProbe.markStarted(params);
  let spins = 0;
  for (;;) spins = (spins + 1) | 0;
}

/** Returns at once: run by name before the pool is destroyed, so that no worker is destroyed while it boots. */
export function ready(): number {
  return 0;
}
