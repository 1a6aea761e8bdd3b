// runtime.stream(): a stream processor's chunks reach the loop in order with its log lines, its generator runs at most
// highWaterMark chunks ahead of a slow loop, leaving the loop or aborting stops the instance, a failure comes after
// the chunks delivered and a stream that delivered one is not retried, moved chunks leave the worker detached, and
// each kind of processor is refused by the other kind's call.
import { describe, expect, it } from 'vitest';
import {
  InstanceError,
  InstanceStatus,
  InvalidRequestError,
  OutcomeReason,
  OutcomeStatus,
  RuntimeClosedError,
  UnknownProcessorError,
  type StreamResults,
} from 'light-task-tracker';
import { drain } from './support/drain.js';
import { useRuntimes } from './support/runtime.js';

const { make } = useRuntimes();

/** Resolves once the Int32 at `index` of `shared` is at least `target` (it only grows). */
async function reaches(shared: Int32Array, index: number, target: number): Promise<void> {
  for (let seen = Atomics.load(shared, index); seen < target; seen = Atomics.load(shared, index)) {
    const wait = Atomics.waitAsync(shared, index, seen);
    if (wait.async) await wait.value;
  }
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('runtime.stream(): order', () => {
  it('yields the chunks in order, each after the log lines written before it, and ends with the generator\'s return value', async () => {
    const written: unknown[] = [];
    const { runtime } = make({ onProcessorLog: (line) => written.push(line.fields?.i) });
    const stream = runtime.stream('stream', { mode: 'count', n: 300 });
    const chunks: unknown[] = [];
    for await (const chunk of stream) {
      // The line written just before this chunk's yield is in already, and in order.
      expect(written.slice(0, chunks.length + 1)).toEqual(range(chunks.length + 1));
      chunks.push(chunk);
    }
    expect(written).toEqual(range(300));
    expect(chunks).toEqual(range(300));
    expect(await stream.done).toMatchObject({ status: OutcomeStatus.SUCCEED, value: 300, attempts: 1 });
    // The iteration has ended: it stays ended.
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });
});

describe('runtime.stream(): backpressure', () => {
  for (const highWaterMark of [1, 4]) {
    it(`runs at most highWaterMark (${highWaterMark}) chunks ahead of a slow loop`, async () => {
      const { runtime } = make();
      const n = 40;
      // [chunks yielded, chunks the loop has taken]
      const shared = new Int32Array(new SharedArrayBuffer(8));
      const stream = runtime.stream('stream', { mode: 'ahead', n, shared: shared.buffer }, { highWaterMark });
      const chunks: unknown[] = [];
      let mostSeen = 0;
      for await (const chunk of stream) {
        chunks.push(chunk);
        Atomics.store(shared, 1, chunks.length);
        // A slow loop: before it asks for the next chunk, the generator has filled all the room it is given.
        await reaches(shared, 0, Math.min(n, chunks.length + highWaterMark));
        mostSeen = Math.max(mostSeen, Atomics.load(shared, 0) - chunks.length);
      }
      expect(chunks).toEqual(range(n));
      // It ran ahead as far as it was let, and no further: the loop's count reaches the worker a little after the
      // chunk was taken, so the generator's own view may be one more.
      expect(mostSeen).toBe(highWaterMark);
      const { value } = await stream.done;
      expect(value).toBeGreaterThanOrEqual(highWaterMark);
      expect(value).toBeLessThanOrEqual(highWaterMark + 1);
    });
  }
});

describe('runtime.stream(): heartbeats', () => {
  // Regression: a generator held at its yield by a slow loop made no heartbeat, so heartbeatTimeoutMs took the wait for
  // a stall: interrupted, and failed (not retried, a chunk having been delivered).
  it('a generator waiting for a slow loop to take its chunks is not stalled', async () => {
    const { runtime } = make();
    const heartbeatTimeoutMs = 50;
    const shared = new Int32Array(new SharedArrayBuffer(8));
    const stream = runtime.stream('stream', { mode: 'ahead', n: 3, shared: shared.buffer }, { highWaterMark: 1, heartbeatTimeoutMs });
    const chunks: unknown[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      Atomics.store(shared, 1, chunks.length);
      if (chunks.length === 1) {
        // The generator has filled its room and waits; the loop then takes several heartbeat timeouts over its chunk
        // (the slow caller is what is tested, not something awaited).
        await reaches(shared, 0, 2);
        await new Promise((resolve) => setTimeout(resolve, 4 * heartbeatTimeoutMs));
      }
    }
    expect(chunks).toEqual(range(3));
    expect(await stream.done).toMatchObject({ status: 'SUCCEED', attempts: 1 });
  });
});

describe('runtime.stream(): stopping', () => {
  it('a break stops the instance: STOPPED, its generator interrupted at its yield', async () => {
    const { runtime } = make({ forceStopGraceMs: 10_000 });
    const stream = runtime.stream('stream', { mode: 'endless' }, { highWaterMark: 2 });
    const chunks: number[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk as number);
      if (chunks.length === 5) break;
    }
    expect(chunks).toEqual(range(5));
    // The loop is left once the instance has ended.
    expect(stream.tracker.runningStatus().status).toBe(InstanceStatus.STOPPED);
    expect(await stream.done).toMatchObject({ status: OutcomeStatus.STOPPED, reason: OutcomeReason.STOP_INTERRUPTED, stoppedBy: 'stop', value: undefined });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('return() on the iterator stops it too, and a generator that ignores its interrupt is force-stopped', async () => {
    const { runtime } = make({ forceStopGraceMs: 50 });
    const stream = runtime.stream('stream', { mode: 'stubborn' }, { highWaterMark: 3 });
    expect(await stream.next()).toEqual({ done: false, value: 0 });
    expect(await stream.return()).toEqual({ done: true, value: undefined });
    expect(await stream.done).toMatchObject({ status: OutcomeStatus.STOPPED, reason: OutcomeReason.STOP_FORCE_STOPPED, stoppedBy: 'stop' });
  });

  it('an abort stops it: the chunks delivered, then the InstanceError with the abort reason', async () => {
    const { runtime } = make({ forceStopGraceMs: 10_000 });
    const controller = new AbortController();
    const stream = runtime.stream('stream', { mode: 'endless' }, { highWaterMark: 2, signal: controller.signal });
    const seen: unknown[] = [];
    let error: unknown;
    try {
      for await (const chunk of stream) {
        seen.push(chunk);
        if (seen.length === 3) controller.abort('enough');
      }
    } catch (thrown) {
      error = thrown;
    }
    // Those that had reached this thread by the stop (at most the high-water mark more) came first, in order.
    expect(seen.slice(0, 3)).toEqual([0, 1, 2]);
    expect(seen.length).toBeLessThanOrEqual(3 + 2);
    expect(seen).toEqual(range(seen.length));
    expect(error).toBeInstanceOf(InstanceError);
    expect(error).toMatchObject({ code: 'ERR_INSTANCE_STOPPED', reason: OutcomeReason.STOP_INTERRUPTED, cause: 'enough' });
    expect(await stream.done).toMatchObject({ status: OutcomeStatus.STOPPED, stoppedBy: 'signal', abortReason: 'enough' });
  });

  it('a timeout makes the loop throw after the chunks delivered', async () => {
    const { runtime } = make({ forceStopGraceMs: 10_000 });
    const stream = runtime.stream('stream', { mode: 'endless' }, { highWaterMark: 1, timeoutMs: 100 });
    // The loop never takes a chunk: the generator waits for room until its timeout interrupts it.
    const outcome = await stream.done;
    expect(outcome).toMatchObject({ status: OutcomeStatus.FAILED, reason: OutcomeReason.TIMEOUT_INTERRUPTED });
    expect(await drain(stream)).toEqual({ values: [0], error: expect.objectContaining({ code: 'ERR_INSTANCE_FAILED', reason: OutcomeReason.TIMEOUT_INTERRUPTED }) });
  });
});

describe('runtime.stream(): failure', () => {
  it('a generator that throws mid-stream: its chunks first, then its InstanceError; not retried once a chunk was delivered', async () => {
    const { runtime } = make();
    const stream = runtime.stream('stream', { mode: 'fail', n: 3 }, { maxRetries: 2 });
    const { values: chunks, error } = await drain(stream);
    expect(chunks).toEqual([0, 1, 2]);
    expect(error).toBeInstanceOf(InstanceError);
    expect(error).toMatchObject({ code: 'ERR_INSTANCE_FAILED', reason: OutcomeReason.PROCESSOR_THREW, outcome: { result: 'Error: broke after 3', attempts: 1 } });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('a failure before any chunk is retried', async () => {
    const { runtime } = make();
    const stream = runtime.stream('stream', { mode: 'fail-first' }, { maxRetries: 1 });
    expect(await drain(stream)).toEqual({ values: ['again'], error: undefined });
    expect(await stream.done).toMatchObject({ status: OutcomeStatus.SUCCEED, value: 1, attempts: 2 });
  });

  it('a chunk that cannot be cloned fails the instance with VALUE_NOT_CLONEABLE, after the chunks before it', async () => {
    const { runtime } = make();
    const { values: chunks, error } = await drain(runtime.stream('stream', { mode: 'uncloneable' }));
    expect(chunks).toEqual(['ok']);
    expect(error).toMatchObject({ reason: OutcomeReason.VALUE_NOT_CLONEABLE, outcome: { result: expect.stringMatching(/^processor "stream" returned a value that cannot be cloned: its chunk 2: /) } });
  });
});

describe('runtime.stream(): moved chunks', () => {
  it('moves a chunk\'s marked buffers: the worker\'s are detached after the yield, and a buffer marked for a later chunk waits for it', async () => {
    const { runtime } = make();
    const stream = runtime.stream('stream', { mode: 'move' });
    const { values: chunks, error } = await drain(stream);
    expect(error).toBeUndefined();
    const [first, second, third] = chunks as [{ bytes: Uint8Array }, Buffer, ArrayBuffer];
    expect(first.bytes).toBeInstanceOf(Uint8Array);
    expect(first.bytes.byteLength).toBe(64 * 1024);
    expect(first.bytes.every((byte) => byte === 7)).toBe(true);
    expect(Buffer.isBuffer(second)).toBe(true);
    expect(second.equals(Buffer.alloc(8 * 1024, 9))).toBe(true);
    expect(new Uint8Array(third)).toEqual(new Uint8Array(16).fill(5));
    // After each yield the worker's own buffer was empty: moved, not copied.
    expect((await stream.done).value).toEqual([0, 0, 0]);
  });
});

describe('runtime.stream(): which processor for which call', () => {
  it('refuses to run a stream processor with run(), submit() or map(): PROCESSOR_KIND_MISMATCH, pointing to stream(), never retried', async () => {
    const { runtime } = make();
    const refused = await runtime.run('stream', { mode: 'count', n: 1 }, { maxRetries: 2 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(InstanceError);
    expect(refused).toMatchObject({
      code: 'ERR_INSTANCE_FAILED',
      reason: OutcomeReason.PROCESSOR_KIND_MISMATCH,
      outcome: { attempts: 1, result: 'processor "stream" is a stream processor (an async generator function): run it with runtime.stream()' },
    });
    expect(await runtime.submit({ processor: 'stream' }).done).toMatchObject({ status: OutcomeStatus.FAILED, reason: OutcomeReason.PROCESSOR_KIND_MISMATCH });
    await expect(drain(runtime.map('stream', [{ mode: 'count', n: 1 }]))).resolves.toMatchObject({ error: { reason: OutcomeReason.PROCESSOR_KIND_MISMATCH } });
  });

  it('refuses to stream a processor that is none', async () => {
    const { runtime } = make();
    const stream = runtime.stream('succeed', 'x');
    expect(await drain(stream)).toEqual({
      values: [],
      error: expect.objectContaining({
        reason: OutcomeReason.PROCESSOR_KIND_MISMATCH,
        message: expect.stringContaining('processor "succeed" is not a stream processor (an async generator function): run it with runtime.run(), submit() or map()'),
      }),
    });
  });
});

describe('runtime.stream(): arguments', () => {
  it('refuses bad options and requests at once, as submit() does, and builds nothing', async () => {
    const { runtime } = make();
    const refusal = (call: () => unknown): unknown => {
      try {
        call();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    for (const highWaterMark of [0, 1.5, -1, 2 ** 31, '4', Number.NaN]) {
      expect(refusal(() => runtime.stream('stream', {}, { highWaterMark: highWaterMark as number }))).toMatchObject({ code: 'ERR_INVALID_REQUEST', field: 'highWaterMark' });
    }
    const misspelled = refusal(() => runtime.stream('stream', {}, { highWatermark: 4 } as never));
    expect(misspelled).toBeInstanceOf(InvalidRequestError);
    expect(misspelled).toMatchObject({ field: 'highWatermark', message: 'highWatermark: unknown option of stream() (did you mean "highWaterMark"?)' });
    expect(refusal(() => runtime.stream('stream', {}, { jobParams: 1 } as never))).toMatchObject({ field: 'jobParams', message: 'jobParams: is an argument of stream(), not one of its options' });
    expect(refusal(() => runtime.stream('stream', {}, 5 as never))).toMatchObject({ field: 'options' });
    expect(refusal(() => runtime.stream('nope', {}))).toBeInstanceOf(UnknownProcessorError);
    expect(refusal(() => runtime.stream('stream', {}, { timeoutMs: -1 }))).toMatchObject({ code: 'ERR_INVALID_TIMEOUT' });
    expect(runtime.size).toBe(0);
    // A stream with the largest mark, and the request fields among its options, runs.
    const stream: StreamResults<unknown> = runtime.stream('stream', { mode: 'count', n: 2 }, { highWaterMark: 2 ** 31 - 1, instanceId: 'mine', jobId: 7 });
    expect(stream.tracker.instanceId).toBe('mine');
    expect(await drain(stream)).toEqual({ values: [0, 1], error: undefined });
    await runtime.close();
    expect(refusal(() => runtime.stream('stream', {}))).toBeInstanceOf(RuntimeClosedError);
  });
});
