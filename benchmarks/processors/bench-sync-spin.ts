// Benchmark processor: a cooperative hot CPU loop. Marks 'started' on the probe in jobParams, spins on
// `ctx.interrupted` (a synchronous shared-memory read), records the worker's now() the moment it sees the
// interrupt, then gives up the way the tracker expects (InterruptedError). Used by sync-interrupt,
// interrupt-settled and timeout-lateness.
import { defineProcessor } from 'light-task-tracker/processor';
import { Probe } from '../lib/probe.js';

export default defineProcessor((ctx) => {
  const probe = Probe.of(ctx.jobParams);
  probe.recordStart();
  probe.markStarted();
  while (!ctx.interrupted);
  probe.recordSeen();
  ctx.throwIfInterrupted();
  return { success: false, msg: 'not interrupted' };
});
