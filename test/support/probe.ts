// A runtime over the probe processor (fixtures/hostile-probe.js), which reports what it saw in its worker: the
// params as they arrived, and whether Object.prototype is polluted there. With it, a test checks that a request,
// refused or accepted, left the runtime serving and nothing polluted on either side.
import { expect } from 'vitest';
import { MemoryReporter, OutcomeReason, TaskRuntime, type Outcome, type SubmitRequest, type TaskRuntimeOptions } from 'light-task-tracker';
import { fixture } from './fixtures.js';
import { LogCapture } from './logs.js';

export const probePath = fixture('hostile-probe');
export const succeedPath = fixture('succeed');

/** What the probe processor saw, in its worker. */
export interface Seen {
  readonly threadId: number;
  readonly polluted: string;
  readonly objectPrototypeKeys: string[];
  readonly jobParams: Shape;
  readonly nested: Record<string, Shape> | undefined;
  readonly preload: string[];
}
export interface Shape {
  readonly type: string;
  readonly value?: string;
  readonly proto?: string;
  readonly ownKeys?: string[];
  readonly ownProto?: Shape;
  readonly byteLength?: number;
  readonly bufferByteLength?: number;
}

export interface Served {
  readonly runtime: TaskRuntime;
  readonly reporter: MemoryReporter;
  readonly logs: LogCapture;
}

/** A runtime over `succeed` and `probe`. The caller closes it (in its afterAll, or a finally). */
export function serve(options: Partial<TaskRuntimeOptions> = {}): Served {
  const reporter = new MemoryReporter();
  const logs = new LogCapture();
  const runtime = new TaskRuntime({
    processors: { succeed: succeedPath, probe: probePath },
    // One worker, no spare: the probe runs in the very worker that got each hostile request.
    maxThreads: 1,
    spareThreads: 0,
    reporter,
    logger: logs.logger,
    ...options,
  });
  return { runtime, reporter, logs };
}

export function expectMainThreadClean(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  expect(Object.prototype.constructor).toBe(Object);
}

export async function probe(runtime: TaskRuntime, request: Partial<SubmitRequest> = {}): Promise<{ outcome: Outcome; seen: Seen }> {
  const outcome = await runtime.submit({ ...request, processor: 'probe' }).done;
  expect(outcome).toMatchObject({ status: 'SUCCEED', reason: OutcomeReason.SUCCEEDED });
  return { outcome, seen: JSON.parse(outcome.result) as Seen };
}

/** No pollution in the main thread nor in the worker, and a normal request still succeeds on the same runtime. */
export async function expectStillServing(runtime: TaskRuntime): Promise<void> {
  expectMainThreadClean();
  const next = await runtime.submit({ processor: 'succeed', jobParams: 'next' }).done;
  expect(next).toMatchObject({ status: 'SUCCEED', result: 'hello next' });
  const { seen } = await probe(runtime);
  expect(seen.polluted).toBe('undefined');
  expect(seen.objectPrototypeKeys).toEqual([]);
  expectMainThreadClean();
}

/** The error submit() throws for `request`, after checking that nothing half-built stays registered. */
export function submitError(runtime: TaskRuntime, request: unknown): unknown {
  const before = runtime.size;
  try {
    runtime.submit(request as SubmitRequest);
  } catch (error) {
    expect(runtime.size).toBe(before); // nothing half-built stays registered
    return error;
  }
  return expect.unreachable('the request was accepted');
}
