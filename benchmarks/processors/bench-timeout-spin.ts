// Benchmark processor for timeout-lateness: records its own start on the probe in jobParams, optionally sleeps
// `jobParams.sleepMs` with Atomics.wait (the thread blocks without using the CPU, so that long runs can share the
// machine), then spins on `ctx.interrupted` (a synchronous shared-memory read) and records the worker's now() the
// moment it sees the interrupt; gives up with InterruptedError as the tracker expects.
import { defineProcessor } from 'light-task-tracker/processor';
import { Probe } from '../lib/probe.js';
import { now } from '../lib/stats.js';

const nap = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)); // never notified: a plain sleep

export default defineProcessor((ctx) => {
  const enteredAt = now(); // the processor's first line: its budget counts from here, in its own view
  const probe = Probe.of(ctx.jobParams);
  probe.recordStart(enteredAt);
  probe.markStarted();
  const sleepMs = (ctx.jobParams as { sleepMs?: number }).sleepMs ?? 0;
  if (sleepMs > 0) Atomics.wait(nap, 0, 0, sleepMs);
  while (!ctx.interrupted);
  probe.recordSeen();
  ctx.throwIfInterrupted();
  return { success: false, msg: 'not interrupted' };
});
