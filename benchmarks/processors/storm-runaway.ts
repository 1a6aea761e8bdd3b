// Storm benchmark, ours: a runaway that ignores its interrupt. It marks its start in the storm probe, then spins
// forever: only terminating its worker ends it.
import { defineProcessor } from 'light-task-tracker/processor';
import { StormProbe, type StormParams } from '../lib/storm-probe.js';

export default defineProcessor((ctx) => {
  StormProbe.markStarted(ctx.jobParams as StormParams);
  let spins = 0;
  for (;;) spins = (spins + 1) | 0;
});
