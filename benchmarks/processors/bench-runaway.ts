// Benchmark processor: a runaway loop that ignores every interrupt. Marks 'started' on the probe in jobParams,
// then spins forever: only terminating its worker ends it. Used by terminate.
import { defineProcessor } from 'light-task-tracker/processor';
import { Probe } from '../lib/probe.js';

export default defineProcessor((ctx) => {
  const probe = Probe.of(ctx.jobParams);
  probe.recordStart();
  probe.markStarted();
  let spins = 0;
  for (;;) spins++;
});
