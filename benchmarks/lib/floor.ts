// The floors of the interrupt benchmarks: a bare node:worker_threads worker (eval'd code), armed, then woken from
// a timer in the main thread exactly as ours is — what the machine allows in the user's position.
// Shared memory layout: Int32 cell 0 = the worker's "armed" mark, Int32 cell 1 = a flag the worker may wait or spin
// on, Float64 slot 1 = the worker's now() (performance.timeOrigin + performance.now()) when it saw the wake.
import { Worker } from 'node:worker_threads';
import { afterTimer, toMicros } from './harness.js';

export interface Floor {
  readonly worker: Worker;
  readonly cells: Int32Array;
  readonly times: Float64Array;
}

/** Starts a floor worker running `code`; it gets the shared memory as its workerData. */
export function floorWorker(code: string): Floor {
  const memory = new SharedArrayBuffer(2 * Float64Array.BYTES_PER_ELEMENT);
  return { worker: new Worker(code, { eval: true, workerData: memory }), cells: new Int32Array(memory, 0, 2), times: new Float64Array(memory) };
}

/**
 * One sample: arms the worker (a message), waits for its mark, sleeps `sleepMs` on a timer and calls `wake` in its
 * callback; resolves with the µs from that moment until the worker saw it (its answer is awaited).
 */
export async function floorSample({ worker, cells, times }: Floor, sleepMs: number, wake: () => void): Promise<number> {
  Atomics.store(cells, 0, 0);
  Atomics.store(cells, 1, 0);
  const answered = new Promise((resolve) => worker.once('message', resolve));
  worker.postMessage('arm');
  while (Atomics.load(cells, 0) !== 1) {
    const waiting = Atomics.waitAsync(cells, 0, 0, 1000);
    if (waiting.async) await waiting.value;
  }
  const [t0] = await afterTimer(sleepMs, wake);
  await answered;
  return toMicros((times[1] as number) - t0);
}
