// Shared set-up of the latency benchmarks: the 2-thread runtime with a silent logger and a reporter that does
// nothing, a bare worker for the floors, and a check that each run ended the way the benchmark expects.
import { loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { TaskRuntime, type Outcome, type TaskRuntimeOptions } from 'light-task-tracker';
import { now } from './stats.js';

/**
 * A runtime for benchmarks: maxThreads 2, silent pino logger, a reporter that does nothing; `options` override.
 * BENCH_CAPTURE_STACK=0 turns the force-stop's stack capture off (to weigh what it costs).
 */
export function benchRuntime(processors: TaskRuntimeOptions['processors'], options: Partial<TaskRuntimeOptions> = {}): TaskRuntime {
  return new TaskRuntime({
    processors,
    maxThreads: 2,
    logger: pino({ level: 'silent' }),
    reporter: { report() {} },
    ...(process.env.BENCH_CAPTURE_STACK === '0' ? { captureStack: false } : {}),
    ...options,
  });
}

/** A bare node:worker_threads Worker running the eval'd CommonJS `code`, once it has posted its first message. */
export async function bareWorker(code: string): Promise<Worker> {
  const worker = new Worker(code, { eval: true });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  return worker;
}

/** One terminate floor: a bare worker of `code` (which posts, then spins); ms from terminate() until it resolves. */
export async function terminateFloor(code: string): Promise<number> {
  const worker = await bareWorker(code);
  const t0 = now();
  await worker.terminate();
  return now() - t0;
}

/** Throws unless the outcome has the expected reason: a benchmark must not time the wrong path. */
export function expectReason(outcome: Outcome, reason: Outcome['reason'], what: string): void {
  if (outcome.reason !== reason) {
    throw new Error(`${what}: expected ${reason}, got ${outcome.status} ${outcome.reason} (${outcome.result})`);
  }
}

/** Milliseconds → microseconds, for the sub-millisecond tables. */
export const toMicros = (ms: number): number => ms * 1000;

/** Resolves after `ms` ms (between runs only, never to wait for an event). */
export const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The host's 1/5/15-minute load averages, saved with the results: other work on the machine skews latencies. */
export const hostLoad = (): number[] => loadavg();

/**
 * The user's position: sleeps `ms` on a timer, then in its callback takes now(), runs `act` and takes now() again.
 * Resolves with [before, after]: the moment the main thread, woken, acted, and when `act` returned.
 */
export function afterTimer(ms: number, act: () => void): Promise<[before: number, after: number]> {
  return new Promise((resolve) => {
    setTimeout(() => {
      const before = now();
      act();
      resolve([before, now()]);
    }, ms);
  });
}

