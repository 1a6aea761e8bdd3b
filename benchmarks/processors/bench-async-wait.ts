// Benchmark processor: an async wait on the abort signal. Adds an 'abort' listener to `ctx.signal`, marks
// 'started' on the probe, and awaits a promise that only the listener resolves; nothing else runs in the worker.
// The listener records the worker's now() first thing. Used by async-interrupt.
import { defineProcessor } from 'light-task-tracker/processor';
import { Probe } from '../lib/probe.js';

export default defineProcessor(async (ctx) => {
  const probe = Probe.of(ctx.jobParams);
  probe.recordStart();
  await new Promise<void>((resolve) => {
    ctx.signal.addEventListener('abort', () => {
      probe.recordSeen();
      resolve();
    }, { once: true });
    probe.markStarted();
  });
  ctx.throwIfInterrupted();
  return { success: false, msg: 'not interrupted' };
});
