// Long jobs: heartbeats and the stall timeout (`heartbeatTimeoutMs`), checkpoints kept on the main thread, and the
// retry that resumes from the last one (`ctx.resumeFrom`), or an instance started from a saved one (`resumeFrom`).
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { DuplicateInstanceError, InvalidRequestError, OutcomeReason, OutcomeStatus, SystemResult, type CheckpointEvent, type InstanceMessage } from 'light-task-tracker';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

const listening: Array<[string, (message: unknown) => void]> = [];
afterEach(() => {
  for (const [name, listener] of listening.splice(0)) unsubscribe(name, listener);
});
function listen(name: string): Array<InstanceMessage & Record<string, unknown>> {
  const seen: Array<InstanceMessage & Record<string, unknown>> = [];
  const listener = (message: unknown): void => void seen.push(message as InstanceMessage & Record<string, unknown>);
  subscribe(name, listener);
  listening.push([name, listener]);
  return seen;
}

describe('heartbeats and stalls', () => {
  it('a stalled attempt is interrupted, force-stopped after the grace, retried, and the retry resumes from its last checkpoint', async () => {
    const checkpoints: CheckpointEvent[] = [];
    const interrupts = listen('light-task-tracker:instance:interrupt');
    const { runtime, logs } = runtimes.make({ forceStopGraceMs: 30, onCheckpoint: (event) => void checkpoints.push(event) });
    const tracker = runtime.submit({ processor: 'longJob', jobParams: { steps: 5, stallOn: [0], stallAt: 2 }, heartbeatTimeoutMs: 100, maxRetries: 1 });
    const outcome = await tracker.done;
    expect(outcome).toMatchObject({ status: OutcomeStatus.SUCCEED, attempts: 2 });
    // The first attempt made two steps, then stalled; the second resumed from step 2, not from zero.
    expect(outcome.value).toEqual({ resumedFrom: { step: 2, by: 0 }, attempt: 1, steps: 5 });
    expect(outcome.checkpoint).toEqual({ step: 5, by: 1 });
    // Regression: the stack of the force-stopped first attempt stayed on the outcome of the retry that succeeded.
    expect(outcome.stack).toBeUndefined();
    expect(tracker.checkpoint).toEqual({ step: 5, by: 1 });
    expect(checkpoints.map((event) => [event.attempt, (event.state as { step: number }).step])).toEqual([[0, 1], [0, 2], [1, 3], [1, 4], [1, 5]]);
    expect(interrupts.filter((message) => message.instanceId === tracker.instanceId).map((message) => message.cause)).toEqual(['heartbeat']);
    expect(logs.withMessage('stalled: no heartbeat within heartbeatTimeoutMs: attempt interrupted', tracker.instanceId)).toHaveLength(1);
    const retry = await logs.waitFor((line) => line.msg === 'attempt failed: retrying' && line.instanceId === tracker.instanceId);
    expect(retry.reason).toBe(OutcomeReason.HEARTBEAT_TIMEOUT_FORCE_STOPPED);
  });

  it('a stall with no retry left fails the instance HEARTBEAT_TIMEOUT_FORCE_STOPPED, with the stall\'s own text', async () => {
    const { runtime } = runtimes.make({ forceStopGraceMs: 30, heartbeatTimeoutMs: 80 });
    const outcome = await runtime.submit({ processor: 'longJob', jobParams: { steps: 5, stallOn: [0] } }).done;
    expect(outcome).toMatchObject({ status: OutcomeStatus.FAILED, reason: OutcomeReason.HEARTBEAT_TIMEOUT_FORCE_STOPPED, result: SystemResult.HEARTBEAT_TIMEOUT_FORCE_STOPPED, attempts: 1 });
    expect(outcome.checkpoint).toEqual({ step: 2, by: 0 });
  });

  it('an attempt that gives up on its stall\'s interrupt fails HEARTBEAT_TIMEOUT_INTERRUPTED, and is retried', async () => {
    const { runtime, logs } = runtimes.make({ forceStopGraceMs: 5_000 });
    const tracker = runtime.submit({ processor: 'longJob', jobParams: { steps: 4, stallOn: [0], how: 'sleep' }, heartbeatTimeoutMs: 80, maxRetries: 1 });
    const outcome = await tracker.done;
    expect(outcome).toMatchObject({ status: OutcomeStatus.SUCCEED, attempts: 2 });
    expect(outcome.value).toEqual({ resumedFrom: { step: 2, by: 0 }, attempt: 1, steps: 4 });
    const retry = await logs.waitFor((line) => line.msg === 'attempt failed: retrying' && line.instanceId === tracker.instanceId);
    expect(retry.reason).toBe(OutcomeReason.HEARTBEAT_TIMEOUT_INTERRUPTED);
    expect(retry.result).toBe(SystemResult.HEARTBEAT_TIMEOUT_INTERRUPTED);
  });

  it('heartbeats keep a long attempt alive: no stall while it beats, however long it runs', async () => {
    const { runtime } = runtimes.make({ forceStopGraceMs: 30 });
    const tracker = runtime.submit({ processor: 'longJob', jobParams: { steps: 3, stallOn: [0], how: 'spin', beat: true }, heartbeatTimeoutMs: 50, timeoutMs: 400 });
    const outcome = await tracker.done;
    // It beat all along: only its timeout ended it.
    expect(outcome).toMatchObject({ status: OutcomeStatus.FAILED, reason: OutcomeReason.TIMEOUT_FORCE_STOPPED, attempts: 1 });
  });

  it('a stall is retried within the instance\'s timeout: the timeout still ends it', async () => {
    const { runtime } = runtimes.make({ forceStopGraceMs: 20 });
    const tracker = runtime.submit({ processor: 'longJob', jobParams: { steps: 5, stallOn: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }, heartbeatTimeoutMs: 60, timeoutMs: 500, maxRetries: 100 });
    const outcome = await tracker.done;
    expect(outcome.reason).toBe(OutcomeReason.TIMEOUT_FORCE_STOPPED);
    expect(outcome.attempts).toBeGreaterThan(1);
    expect(outcome.attempts).toBeLessThan(10);
  });
});

describe('checkpoints', () => {
  it('an instance starts from a saved checkpoint (resumeFrom), copied at submit', async () => {
    const { runtime } = runtimes.make();
    const saved = { step: 3, by: 7 };
    const done = runtime.run('longJob', { steps: 5 }, { resumeFrom: saved });
    saved.step = 0; // the copy taken at submit is what the instance gets
    expect(await done).toEqual({ resumedFrom: { step: 3, by: 7 }, attempt: 0, steps: 5 });
  });

  it('refuses a resumeFrom that cannot be cloned, and a bad heartbeatTimeoutMs, with InvalidRequestError', () => {
    const { runtime } = runtimes.make();
    expect(() => runtime.submit({ processor: 'longJob', resumeFrom: { f: () => 1 } })).toThrow(InvalidRequestError);
    expect(() => runtime.submit({ processor: 'longJob', heartbeatTimeoutMs: -1 })).toThrow(/heartbeatTimeoutMs/);
    expect(() => runtime.submit({ processor: 'longJob', heartbeatTimeoutMs: Number.NaN })).toThrow(InvalidRequestError);
    expect(runtime.size).toBe(0);
  });

  // Regression: a checkpoint went by postMessage alone, so a marked Buffer from Node's pool crossed as a copy of the
  // whole pool (its neighbours' bytes with it), and a class instance kept no promise of what it became.
  it('checkpoint-copied-what-it-moved: a checkpoint is written as a value is (marked buffers moved, only their own bytes); one that cannot be sent throws a TypeError naming it', async () => {
    const { runtime } = runtimes.make();
    const tracker = runtime.submit({ processor: 'checkpointValues' });
    const outcome = await tracker.done;
    expect(outcome.status).toBe('SUCCEED');
    expect(outcome.value).toEqual({
      wholeLeft: 0, // moved out of the worker
      refused: expect.stringMatching(/^TypeError: a checkpoint that cannot be sent: \(\) => 1 could not be cloned/),
    });
    // The first checkpoint is the last one kept: the refused one sent nothing.
    const { at, small, whole } = outcome.checkpoint as { at: unknown; small: Buffer; whole: Uint8Array };
    expect(at).toEqual({ row: 3 });
    expect(Object.getPrototypeOf(at)).toBe(Object.prototype);
    expect(Buffer.isBuffer(small)).toBe(true);
    expect([small.toString(), small.buffer.byteLength]).toEqual(['small-buffer', 12]);
    expect([whole.byteLength, whole[0], whole[whole.length - 1]]).toEqual([64 * 1024, 7, 7]);
  });

  it('refuses a resumeFrom over maxParamsBytes, naming it; a duplicate id is refused before resumeFrom is copied', async () => {
    const { runtime } = runtimes.make({ maxParamsBytes: 1024 });
    const big = { rows: 'x'.repeat(2048) };
    let refused: unknown;
    try {
      runtime.submit({ processor: 'longJob', resumeFrom: big });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(InvalidRequestError);
    expect(refused).toMatchObject({ field: 'resumeFrom', message: expect.stringMatching(/^resumeFrom: takes \d+ bytes, over the limit of 1024 \(maxParamsBytes\)/) });
    expect(runtime.size).toBe(0);
    const running = runtime.submit({ processor: 'longJob', instanceId: 'one', jobParams: { steps: 1 } });
    // The same id again, with a resumeFrom that could not be copied: the duplicate is what is refused.
    expect(() => runtime.submit({ processor: 'longJob', instanceId: 'one', resumeFrom: { f: () => 1 } })).toThrow(DuplicateInstanceError);
    expect(await running.done).toMatchObject({ status: 'SUCCEED' });
  });

  it('an instance with no checkpoint and no resumeFrom has ctx.resumeFrom and outcome.checkpoint undefined', async () => {
    const { runtime } = runtimes.make();
    const outcome = await runtime.submit({ processor: 'succeed' }).done;
    expect(outcome.checkpoint).toBeUndefined();
    expect(outcome.stack).toBeUndefined();
  });
});
