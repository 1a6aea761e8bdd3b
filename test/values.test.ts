// The data path: a processor's value reaches outcome.value and run(); buffers marked with move() change owner
// instead of being copied, at any depth, both ways; retries see the params as they were at submit; bad values fail
// cleanly; progress is coalesced and delivered in order, never after done.
import { describe, expect, it } from 'vitest';
import {
  DetachedBufferError,
  InstanceError,
  move,
  OutcomeReason,
  ParamsNotCloneableError,
  type ProgressEvent,
  type StatusReport,
} from 'light-task-tracker';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();
const MiB = 1024 * 1024;

interface Seen {
  readonly first: number;
  readonly last: number;
  readonly length: number;
  readonly kind: string;
  readonly shared: boolean;
  readonly ownBuffer: boolean;
}

function bytes(size: number, first: number, last: number): Uint8Array {
  const buf = new Uint8Array(size);
  buf[0] = first;
  buf[size - 1] = last;
  return buf;
}

describe('values', () => {
  it('carries the processor value to outcome.value and run(), with what structured clone keeps', async () => {
    const { runtime } = runtimes.make();
    const value = { n: 1, when: new Date(0), map: new Map([[1, 'one']]), list: [1n, null, 'x'] };
    expect(await runtime.run('data', { mode: 'value', value })).toEqual(value);
    const outcome = await runtime.submit({ processor: 'data', jobParams: { mode: 'value', value: 42 } }).done;
    expect(outcome).toMatchObject({ status: 'SUCCEED', reason: 'SUCCEEDED', result: 'value', value: 42 });
    // No value given: undefined, and the result text stays the message.
    expect((await runtime.submit({ processor: 'succeed', jobParams: 'x' }).done).value).toBeUndefined();
  });

  it('has no value unless the status is SUCCEED; run() rejects with an InstanceError holding the whole outcome', async () => {
    const { runtime } = runtimes.make();
    const failed = await runtime.run('fail').catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(InstanceError);
    expect(failed).toMatchObject({ code: 'ERR_INSTANCE_FAILED', reason: 'PROCESSOR_FAILED', outcome: { status: 'FAILED', value: undefined, result: 'the job said no' } });
    const controller = new AbortController();
    const stopping = runtime.run('sleep', undefined, { signal: controller.signal, instanceId: 'run-stopped' });
    controller.abort();
    const stopped = await stopping.catch((error: unknown) => error);
    expect(stopped).toMatchObject({ code: 'ERR_INSTANCE_STOPPED', instanceId: 'run-stopped', outcome: { status: 'STOPPED', value: undefined } });
    // A refused request rejects with the refusal itself; run() never throws synchronously.
    await expect(runtime.run('nope' as 'data', { mode: 'value' })).rejects.toMatchObject({ code: 'ERR_UNKNOWN_PROCESSOR' });
  });

  it('fails an uncloneable value with VALUE_NOT_CLONEABLE naming it, and the worker lives on', async () => {
    const { runtime } = runtimes.make({ maxThreads: 1, spareThreads: 0 });
    await runtime.ready();
    const fn = await runtime.submit({ processor: 'data', jobParams: { mode: 'function' }, maxRetries: 2 }).done;
    expect(fn).toMatchObject({ status: 'FAILED', reason: OutcomeReason.VALUE_NOT_CLONEABLE, attempts: 1, value: undefined });
    expect(fn.result).toMatch(/^processor "data" returned a value that cannot be cloned: handler\(\) \{\} could not be cloned\.$/);
    const symbol = await runtime.submit({ processor: 'data', jobParams: { mode: 'symbol' } }).done;
    expect(symbol).toMatchObject({ reason: 'VALUE_NOT_CLONEABLE' });
    expect(symbol.result).toMatch(/Symbol\(s\) could not be cloned/);
    // A Node object that holds its state itself, on every Node version (22 and 24 would otherwise send {}).
    const blob = await runtime.submit({ processor: 'data', jobParams: { mode: 'blob' } }).done;
    expect(blob).toMatchObject({ reason: 'VALUE_NOT_CLONEABLE', value: undefined });
    expect(blob.result).toMatch(/\[object Blob\] could not be cloned/);
    // Same worker, still there: the next instance runs, and no worker died.
    expect(await runtime.run('data', { mode: 'value', value: 'after' })).toBe('after');
    expect(runtime.threads).toBe(1);
  });
});

describe('moved buffers', () => {
  it('moves params to the worker and back: the caller\'s buffer is detached, the bytes arrive whole, none counted against maxParamsBytes', async () => {
    const { runtime } = runtimes.make({ maxParamsBytes: 1024 });
    const buf = bytes(64 * MiB, 1, 2);
    const tracker = runtime.submit({ processor: 'data', jobParams: { mode: 'bytes', buf: move(buf) } });
    // Detached once submit() has returned: the caller can no longer reach (or change) what the job reads.
    expect(buf.byteLength).toBe(0);
    const outcome = await tracker.done;
    const value = outcome.value as { seen: Seen; buf: Uint8Array };
    expect(value.seen).toEqual({ first: 1, last: 2, length: 64 * MiB, kind: 'Uint8Array', shared: false, ownBuffer: true });
    expect(value.buf).toBeInstanceOf(Uint8Array);
    expect([value.buf.length, value.buf[0], value.buf[value.buf.length - 1], value.buf.buffer.byteLength]).toEqual([64 * MiB, 1, 2, 64 * MiB]);
  });

  it('moves at any depth and keeps the kind of view (a Buffer arrives in the worker as a Uint8Array, as postMessage gives it)', async () => {
    const { runtime } = runtimes.make();
    const buffer = Buffer.alloc(4096, 5);
    const floats = new Float64Array([1.5, 2.5]);
    const raw = new ArrayBuffer(16);
    const view = new DataView(new ArrayBuffer(8));
    view.setInt32(0, 77);
    const value = await runtime.run('data', { mode: 'value', value: { a: [{ b: move(buffer) }], floats: move(floats), raw: move(raw), view: move(view) } }) as Record<string, unknown>;
    expect([buffer.byteLength, floats.byteLength, raw.byteLength, view.buffer.byteLength]).toEqual([0, 0, 0, 0]);
    const back = value as { a: Array<{ b: Uint8Array }>; floats: Float64Array; raw: ArrayBuffer; view: DataView };
    expect(back.a[0]?.b).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(back.a[0]?.b ?? []).equals(Buffer.alloc(4096, 5))).toBe(true);
    expect([...back.floats]).toEqual([1.5, 2.5]);
    expect(back.raw).toBeInstanceOf(ArrayBuffer);
    expect(back.raw.byteLength).toBe(16);
    expect(back.view.getInt32(0)).toBe(77);
  });

  it('moves a value built in the worker back, nested, and the worker\'s copy is detached: moved, not copied', async () => {
    const { runtime } = runtimes.make({ maxThreads: 1, spareThreads: 0 });
    const deep = await runtime.run('data', { mode: 'deep', size: 1 * MiB, width: 640 }) as { image: Uint8Array; width: number };
    expect(deep.width).toBe(640);
    expect([deep.image.length, deep.image[0], deep.image[deep.image.length - 1]]).toEqual([MiB, 7, 7]);
    // The worker kept a reference to what it moved: on the same worker, it finds it detached.
    const stashed = await runtime.run('data', { mode: 'stash' }) as Uint8Array;
    expect(stashed.length).toBe(1024);
    expect(await runtime.run('data', { mode: 'check-stash' })).toEqual({ detached: true });
  });

  it('copies a small Buffer sliced from Node\'s shared pool instead of detaching the pool, with only its own bytes', async () => {
    const { runtime } = runtimes.make();
    const small = Buffer.from('hello');
    const neighbour = Buffer.from('world');
    expect(small.buffer).toBe(neighbour.buffer); // both in the pool
    const value = await runtime.run('data', { mode: 'bytes', buf: move(small), back: false }) as { seen: Seen };
    expect(value.seen).toMatchObject({ kind: 'Uint8Array', length: 5, first: 'h'.charCodeAt(0), ownBuffer: true });
    // The pool is intact: the caller's Buffer and its neighbour still read the same.
    expect([small.toString(), neighbour.toString()]).toEqual(['hello', 'world']);
    // The worker's pool slice comes back as its own bytes; the worker's pool is not taken either.
    const pool = await runtime.run('data', { mode: 'pool' }) as { small: Buffer; neighbour: string; sameBuffer: boolean };
    expect(pool.sameBuffer).toBe(true);
    // A Buffer made in the worker comes back a Buffer.
    expect(Buffer.isBuffer(pool.small)).toBe(true);
    expect([pool.small.toString(), pool.small.buffer.byteLength, pool.neighbour]).toEqual(['small-buffer', 12, 'neighbour']);
  });

  it('refuses a detached buffer at submit with DetachedBufferError, and registers nothing', async () => {
    const { runtime } = runtimes.make();
    const buf = new Uint8Array(16);
    structuredClone(buf.buffer, { transfer: [buf.buffer] });
    let caught: unknown;
    try {
      runtime.submit({ processor: 'data', instanceId: 'detached', jobParams: { buf: move(buf) } });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DetachedBufferError);
    expect(caught).toMatchObject({ code: 'ERR_DETACHED_BUFFER', field: 'jobParams' });
    expect(runtime.get('detached')).toBeUndefined();
    expect(runtime.size).toBe(0);
  });

  it('leaves the caller\'s buffers as they were when a request is refused after its params were read', async () => {
    const { runtime } = runtimes.make();
    const kept = bytes(1024, 3, 4);
    // jobParams is fine, instanceParams cannot be cloned: nothing of jobParams may have moved.
    expect(() => runtime.submit({ processor: 'data', jobParams: { buf: move(kept) }, instanceParams: { f: () => 1 } })).toThrow(ParamsNotCloneableError);
    expect([kept.byteLength, kept[0], kept[1023]]).toEqual([1024, 3, 4]);
    // And the mark stays: the next submit moves it.
    await runtime.run('data', { mode: 'bytes', buf: kept, back: false });
    expect(kept.byteLength).toBe(0);
  });

  it('gives every attempt of an instance with retries the params as they were at submit, a worker death included, in one shared copy', async () => {
    const { runtime } = runtimes.make({ maxThreads: 1 });
    const buf = new Uint8Array(8 * MiB).map((_, i) => i % 251);
    const expectedSum = buf.reduce((a, b) => (a + b) % 65521, 0);
    const tracker = runtime.submit({ processor: 'data', jobParams: { mode: 'exit-first', buf: move(buf) }, maxRetries: 1 });
    expect(buf.byteLength).toBe(0);
    const outcome = await tracker.done;
    expect(outcome).toMatchObject({ status: 'SUCCEED', attempts: 2 });
    expect(outcome.value).toEqual({ first: 0, last: (8 * MiB - 1) % 251, sum: expectedSum, attempt: 1, shared: true });
  });

  it('shares a moved view on shared memory instead of copying it', async () => {
    const { runtime } = runtimes.make();
    const shared = new Uint8Array(new SharedArrayBuffer(64));
    shared[0] = 9;
    const value = await runtime.run('data', { mode: 'bytes', buf: move(shared) }) as { seen: Seen; buf: Uint8Array };
    expect(value.seen).toMatchObject({ shared: true, first: 9 });
    // The same memory, both ways: a write through what came back shows in the caller's view.
    expect(value.buf.buffer).toBeInstanceOf(SharedArrayBuffer);
    value.buf[1] = 42;
    expect(shared[1]).toBe(42);
  });

  it('refuses a moved MessagePort for an instance with retries (it reaches one attempt only), and moves one otherwise', async () => {
    const { runtime } = runtimes.make();
    const { port1, port2 } = new MessageChannel();
    expect(() => runtime.submit({ processor: 'data', jobParams: { port: move(port1) }, maxRetries: 1 })).toThrow(/MessagePort marked with move\(\) reaches one attempt only/);
    const received = new Promise<unknown>((resolve) => port2.once('message', resolve));
    const value = await runtime.run('data', { mode: 'port' }, { instanceParams: { port: move(port1) } });
    expect(value).toBe('sent');
    // The port reached the worker: what it posted there arrives here.
    expect(await received).toBe('hi');
    port2.close();
  });
});

describe('progress', () => {
  it('coalesces a hot loop to at most one message per 10 ms, the latest value always last, in order, all before done', async () => {
    const events: ProgressEvent[] = [];
    let settled = false;
    const { runtime } = runtimes.make({ onProgress: (event) => events.push({ ...event, late: settled } as ProgressEvent) });
    const tracker = runtime.submit({ processor: 'data', jobParams: { mode: 'progress', n: 2_000_000 } });
    const outcome = await tracker.done;
    settled = true;
    const { ms } = outcome.value as { ms: number };
    const values = events.map((event) => event.value as number);
    expect(values.at(-1)).toBe(1_999_999);
    expect(values.length).toBeLessThanOrEqual(Math.floor(ms / 10) + 2);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(events.every((event) => event.instanceId === tracker.instanceId && event.attempt === 0)).toBe(true);
    expect(events.some((event) => (event as unknown as { late: boolean }).late)).toBe(false);
    expect(tracker.progress).toBe(1_999_999);
  });

  it('puts the latest progress on RUNNING reports, and a throwing onProgress does not stop the instance', async () => {
    const { runtime, reporter, logs } = runtimes.make({
      statusReportIntervalMs: 10,
      onProgress: () => {
        throw new Error('listener broke');
      },
    });
    const tracker = runtime.submit({ processor: 'data', jobParams: { mode: 'progress-async', n: 30, everyMs: 5 } });
    const report: StatusReport = await reporter.waitFor((r) => r.instanceId === tracker.instanceId && r.status === 'RUNNING' && r.progress !== undefined);
    expect(report.progress).toMatchObject({ of: 30 });
    expect((await tracker.done).status).toBe('SUCCEED');
    expect(tracker.progress).toEqual({ done: 29, of: 30 });
    expect(logs.withMessage('onProgress threw', tracker.instanceId).length).toBeGreaterThan(0);
  });
});

describe('children values', () => {
  it('hands the request\'s childrenValues to the processor, cloned at submit', async () => {
    const { runtime } = runtimes.make();
    const childrenValues = { 'bull:q:1': { sum: 3 }, 'bull:q:2': { sum: 4 } };
    expect(await runtime.run('data', { mode: 'children' }, { childrenValues })).toEqual(childrenValues);
    expect(await runtime.run('data', { mode: 'children' })).toBeNull();
  });
});

describe('nothing moved is retained', () => {
  it('keeps the main thread\'s heap and external memory within 16 MB of their baseline after 200 instances moving 64 MB in and out', { timeout: 120_000 }, async () => {
    const { runNode } = await import('./support/child.js');
    const { fixture } = await import('./support/fixtures.js');
    const { code, stdout, stderr } = await runNode(['--expose-gc', fixture('moves-memory'), '200']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const { before, after } = JSON.parse(stdout) as Record<'before' | 'after', { heapUsed: number; external: number }>;
    expect(after.heapUsed - before.heapUsed).toBeLessThan(16 * MiB);
    expect(after.external - before.external).toBeLessThan(16 * MiB);
  });
});
