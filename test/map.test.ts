// runtime.map(): items pulled as room comes, values in order or as they end, the failure rule in both modes, break,
// abort and close stopping what runs, the admission limit, and the bounds, measured in pulls from the items.
import { setImmediate as tick } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  channels,
  InstanceError,
  InvalidRequestError,
  InvalidTimeoutError,
  MapInstanceError,
  MapItemRefusedError,
  OutcomeReason,
  ParamsNotCloneableError,
  RuntimeClosedError,
  UnknownProcessorError,
  type EndMessage,
  type MapProgress,
  type MapSettled,
  type TaskRuntimeOptions,
} from 'light-task-tracker';
import { drain } from './support/drain.js';
import { fixture, processors } from './support/fixtures.js';
import { useRuntimes, type TestRuntime } from './support/runtime.js';

const runtimes = useRuntimes();
const make = (options: Partial<TaskRuntimeOptions> = {}): TestRuntime =>
  runtimes.make({ processors: { ...processors, item: fixture('map-item') }, ...options });

/** The outcomes of the instances that end during a test, as the lifecycle channel tells them. */
const ends: EndMessage[] = [];
let endWaiters: Array<{ readonly match: (end: EndMessage) => boolean; readonly resolve: () => void }> = [];
const onEnd = (message: unknown): void => {
  const end = message as EndMessage;
  ends.push(end);
  endWaiters = endWaiters.filter((waiter) => {
    if (!waiter.match(end)) return true;
    waiter.resolve();
    return false;
  });
};
beforeEach(() => channels.end.subscribe(onEnd));
afterEach(() => {
  channels.end.unsubscribe(onEnd);
  ends.length = 0;
  endWaiters = [];
});

/**
 * Resolves once the instance whose value is `value` has ended, and the promise reactions its end set off (the
 * map's among them) have run.
 */
async function ended(value: unknown): Promise<void> {
  const match = (end: EndMessage): boolean => end.outcome.value === value;
  if (!ends.some(match)) await new Promise<void>((resolve) => endWaiters.push({ match, resolve }));
  await tick();
}

/** Resolves once `count` items have logged their start. */
function started({ logs }: TestRuntime, count: number): Promise<unknown> {
  const isStart = (line: { msg: string; source?: unknown }): boolean => line.msg === 'started' && line.source === 'processor';
  return logs.waitFor((line) => isStart(line) && logs.lines.filter(isStart).length >= count);
}

/** A gate an item waits at (its `gate` param) until the test opens it. */
function gate(): { readonly buffer: SharedArrayBuffer; open(): void } {
  const buffer = new SharedArrayBuffer(4);
  const flag = new Int32Array(buffer);
  return {
    buffer,
    open() {
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    },
  };
}

/** An endless source of items that counts its pulls and records, at each, the map's progress before it. */
function counted<T>(item: (index: number) => T): { readonly items: Generator<T>; readonly seen: MapProgress[]; readonly closed: () => boolean; watch(progress: () => MapProgress): void } {
  const seen: MapProgress[] = [];
  let closed = false;
  let progress: (() => MapProgress) | undefined;
  function* items(): Generator<T> {
    try {
      for (let index = 0; ; index++) {
        if (progress !== undefined) seen.push(progress());
        yield item(index);
      }
    } finally {
      closed = true;
    }
  }
  return { items: items(), seen, closed: () => closed, watch: (read) => { progress = read; } };
}

const stoppedEnds = (): EndMessage[] => ends.filter((end) => end.outcome.status === 'STOPPED');

describe('runtime.map(): order', () => {
  it('yields the values in the order of the items, whatever order their instances end in', async () => {
    const { runtime } = make();
    const head = gate();
    const results = runtime.map('item', [{ value: 'a', gate: head.buffer }, 'b', 'c'], { concurrency: 3 });
    expect(results.progress).toEqual({ pulled: 0, inFlight: 0, succeeded: 0, failed: 0, stopped: 0, yielded: 0 });
    const first = results.next();
    await ended('b');
    await ended('c');
    expect(results.progress).toEqual({ pulled: 3, inFlight: 1, succeeded: 2, failed: 0, stopped: 0, yielded: 0 });
    head.open();
    expect(await first).toEqual({ done: false, value: 'a' });
    expect(await drain(results)).toEqual({ values: ['b', 'c'], error: undefined });
    expect(results.progress).toEqual({ pulled: 3, inFlight: 0, succeeded: 3, failed: 0, stopped: 0, yielded: 3 });
  });

  it('yields them as their instances end with ordered: false', async () => {
    const { runtime } = make();
    const head = gate();
    const results = runtime.map('item', [{ value: 'a', gate: head.buffer }, 'b', 'c'], { concurrency: 3, ordered: false });
    const two = [(await results.next()).value, (await results.next()).value];
    expect(two.sort()).toEqual(['b', 'c']);
    expect(results.progress).toMatchObject({ inFlight: 1, yielded: 2 });
    head.open();
    expect(await results.next()).toEqual({ done: false, value: 'a' });
    expect(await results.next()).toEqual({ done: true, value: undefined });
  });

  it('takes an async iterable, one pull at a time, and closes it on a break', async () => {
    const { runtime } = make();
    let closed!: () => void;
    const closing = new Promise<void>((resolve) => {
      closed = resolve;
    });
    async function* generate(): AsyncGenerator<number> {
      try {
        for (let index = 0; ; index++) {
          await tick();
          yield index;
        }
      } finally {
        closed();
      }
    }
    // Counts the next() calls not yet settled (an async generator would queue them, unseen).
    const source = generate();
    let pending = 0;
    let mostPending = 0;
    const items: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          mostPending = Math.max(mostPending, ++pending);
          return source.next().finally(() => pending--);
        },
        return: () => source.return(undefined),
      }),
    };
    const values: number[] = [];
    for await (const value of runtime.map('item', items)) {
      values.push(value as number);
      if (values.length === 6) break;
    }
    expect(values).toEqual([0, 1, 2, 3, 4, 5]);
    await closing;
    expect(mostPending).toBe(1);
    expect(runtime.size).toBe(0);
  });
});

describe('runtime.map(): bounds, measured in pulls', () => {
  it('takes nothing before the first next(), then at most `concurrency` items in flight', async () => {
    const testRuntime = make();
    const { runtime } = testRuntime;
    const source = counted((index) => ({ value: index, hold: true }));
    const results = runtime.map('item', source.items, { concurrency: 2 });
    source.watch(() => results.progress);
    expect(source.seen).toHaveLength(0);
    const first = results.next();
    await started(testRuntime, 2);
    await tick();
    expect(source.seen).toHaveLength(2);
    expect(results.progress).toMatchObject({ pulled: 2, inFlight: 2 });
    expect(runtime.size).toBe(2);
    await results.return();
    expect(await first).toEqual({ done: true, value: undefined });
    expect(source.closed()).toBe(true);
    expect(source.seen).toHaveLength(2);
  });

  it('holds at most 2 × concurrency items, running or waiting for their turn, while the loop does not take them', async () => {
    const { runtime } = make();
    const head = gate();
    const source = counted((index) => (index === 0 ? { value: 0, gate: head.buffer } : index));
    const results = runtime.map('item', source.items, { concurrency: 2 });
    source.watch(() => results.progress);
    const first = results.next();
    // Item 0 waits at its gate; 1, 2, 3 end one after another on the other slot, and wait for their turn.
    await ended(3);
    expect(source.seen).toHaveLength(4);
    expect(results.progress).toEqual({ pulled: 4, inFlight: 1, succeeded: 3, failed: 0, stopped: 0, yielded: 0 });
    head.open();
    expect(await first).toEqual({ done: false, value: 0 });
    for (let index = 1; index <= 20; index++) expect(await results.next()).toEqual({ done: false, value: index });
    await results.return();
    expect(Math.max(...source.seen.map((p) => p.pulled - p.yielded))).toBeLessThan(4);
    expect(Math.max(...source.seen.map((p) => p.inFlight))).toBeLessThan(2);
  });

  it('holds at most 2 × concurrency items with ordered: false too, while the loop does not take them', async () => {
    const { runtime } = make();
    const head = gate();
    const source = counted((index) => (index === 0 ? { value: 0, gate: head.buffer } : index));
    const results = runtime.map('item', source.items, { concurrency: 2, ordered: false });
    source.watch(() => results.progress);
    expect(await results.next()).toEqual({ done: false, value: 1 });
    // The loop took item 1 and no more: 2, 3, 4 end and wait to be taken, beside item 0 at its gate.
    await ended(4);
    expect(source.seen).toHaveLength(5);
    expect(results.progress).toEqual({ pulled: 5, inFlight: 1, succeeded: 4, failed: 0, stopped: 0, yielded: 1 });
    head.open();
    const rest = [];
    for (let index = 0; index < 20; index++) rest.push((await results.next()).value);
    expect(rest.slice(0, 3)).toEqual([2, 3, 4]);
    await results.return();
    expect(Math.max(...source.seen.map((p) => p.pulled - p.yielded))).toBeLessThan(4);
  });

  it.each([true, false])('runs an endless generator with bounded pulls and instances (ordered: %s)', async (ordered) => {
    const { runtime } = make();
    const source = counted((index) => index);
    const results = runtime.map('item', source.items, { concurrency: 2, ordered });
    source.watch(() => results.progress);
    let count = 0;
    for await (const value of results) {
      expect(typeof value).toBe('number');
      if (++count === 500) break;
    }
    expect(source.closed()).toBe(true);
    // Pulled at most 2 × concurrency ahead of the loop, and never past concurrency in flight.
    expect(source.seen.length).toBeLessThanOrEqual(500 + 4);
    expect(Math.max(...source.seen.map((p) => p.pulled - p.yielded))).toBeLessThan(4);
    expect(Math.max(...source.seen.map((p) => p.inFlight))).toBeLessThan(2);
    expect(results.progress).toMatchObject({ yielded: 500, inFlight: 0, failed: 0 });
    expect(results.progress.stopped).toBeLessThanOrEqual(2);
    expect(runtime.size).toBe(0);
  });
});

describe('runtime.map(): break, abort, close', () => {
  it('a break stops the instances in flight, closes the items, and returns once they have ended', async () => {
    const testRuntime = make();
    const { runtime } = testRuntime;
    const source = counted((index) => (index === 0 ? 0 : { value: index, hold: true }));
    const results = runtime.map('item', source.items, { concurrency: 3 });
    for await (const value of results) {
      expect(value).toBe(0);
      await started(testRuntime, 3);
      break;
    }
    expect(source.closed()).toBe(true);
    expect(runtime.size).toBe(0);
    // Items 1 and 2 were running, item 3 dispatched but not started (two threads).
    expect(stoppedEnds().map((end) => end.outcome.reason).sort()).toEqual([
      OutcomeReason.STOPPED_BEFORE_START,
      OutcomeReason.STOP_INTERRUPTED,
      OutcomeReason.STOP_INTERRUPTED,
    ]);
    expect(stoppedEnds().every((end) => end.outcome.stoppedBy === 'stop')).toBe(true);
    expect(results.progress).toEqual({ pulled: 4, inFlight: 0, succeeded: 1, failed: 0, stopped: 3, yielded: 1 });
    expect(await results.next()).toEqual({ done: true, value: undefined });
  });

  it("an abort stops the instances in flight (by the signal) and throws the signal's reason once they have ended", async () => {
    const testRuntime = make();
    const { runtime } = testRuntime;
    const controller = new AbortController();
    const reason = new Error('enough');
    const source = counted((index) => (index === 0 ? 0 : { value: index, hold: true }));
    const results = runtime.map('item', source.items, { concurrency: 3, signal: controller.signal });
    expect(await results.next()).toEqual({ done: false, value: 0 });
    await started(testRuntime, 3);
    controller.abort(reason);
    await expect(results.next()).rejects.toBe(reason);
    expect(runtime.size).toBe(0);
    expect(source.closed()).toBe(true);
    expect(stoppedEnds()).toHaveLength(3);
    expect(stoppedEnds().every((end) => end.outcome.stoppedBy === 'signal' && end.outcome.abortReason === reason)).toBe(true);
    expect(await results.next()).toEqual({ done: true, value: undefined });
  });

  it('a signal aborted before the first next() takes no item', async () => {
    const { runtime } = make();
    const source = counted((index) => index);
    const results = runtime.map('item', source.items, { signal: AbortSignal.abort() });
    source.watch(() => results.progress);
    await expect(results.next()).rejects.toMatchObject({ name: 'AbortError' });
    expect(source.seen).toHaveLength(0);
  });

  it.each([false, true])('the runtime closing ends the map (settle: %s)', async (settle) => {
    const testRuntime = make();
    const { runtime, logs } = testRuntime;
    const source = counted((index) => ({ value: index, hold: true }));
    const results = runtime.map('item', source.items, { concurrency: 2, settle });
    const outcome = drain(results);
    await started(testRuntime, 2);
    const closing = runtime.close();
    const { values, error } = await outcome;
    await closing;
    if (settle) {
      // What ended before the map was refused more items is yielded; then the refusal ends it.
      expect(error).toBeInstanceOf(RuntimeClosedError);
      expect(values.every((value) => (value as MapSettled<unknown>).outcome?.stoppedBy === 'close')).toBe(true);
    } else {
      expect(error).toBeInstanceOf(MapInstanceError);
      expect(error).toMatchObject({ code: 'ERR_INSTANCE_STOPPED', outcome: { stoppedBy: 'close' } });
    }
    // close() stops them: the map does not stop them again.
    expect(logs.withMessage('stop ignored: the instance is already stopping')).toHaveLength(0);
    expect(source.closed()).toBe(true);
  });
});

describe('runtime.map(): failures', () => {
  it('the first failed item throws its InstanceError, with its index, once the others are stopped', async () => {
    const { runtime } = make();
    const source = counted((index) => (index === 0 ? { value: 0, hold: true } : { value: index, fail: true }));
    const results = runtime.map('item', source.items, { concurrency: 2 });
    source.watch(() => results.progress);
    const { values, error } = await drain(results);
    expect(values).toEqual([]);
    expect(error).toBeInstanceOf(MapInstanceError);
    expect(error).toBeInstanceOf(InstanceError);
    expect(error).toMatchObject({ index: 1, code: 'ERR_INSTANCE_FAILED', reason: OutcomeReason.PROCESSOR_FAILED, name: 'MapInstanceError' });
    expect((error as Error).message).toMatch(/^map\(\) item 1: /);
    expect(runtime.size).toBe(0);
    expect(stoppedEnds().map((end) => [end.outcome.value, end.outcome.stoppedBy])).toEqual([[undefined, 'stop']]);
    expect(source.seen).toHaveLength(2);
    expect(source.closed()).toBe(true);
    expect(results.progress).toEqual({ pulled: 2, inFlight: 0, succeeded: 0, failed: 1, stopped: 1, yielded: 0 });
  });

  it('with settle: true every item yields { index, outcome } (or { index, refusal }), and nothing throws', async () => {
    const { runtime } = make();
    const items = [0, { value: 1, fail: true }, { value: 2, fn: () => 2 }, 3];
    const { values, error } = await drain(runtime.map('item', items, { settle: true }));
    expect(error).toBeUndefined();
    expect(values.map((settled) => [settled.index, settled.outcome?.status, settled.outcome?.value])).toEqual([
      [0, 'SUCCEED', 0],
      [1, 'FAILED', undefined],
      [2, undefined, undefined],
      [3, 'SUCCEED', 3],
    ]);
    expect(values[2]?.refusal).toBeInstanceOf(ParamsNotCloneableError);
  });

  it('an item refused for its params fails with its index', async () => {
    const { runtime } = make();
    const { values, error } = await drain(runtime.map('item', [0, { value: 1, fn: () => 1 }, 2]));
    expect(error).toBeInstanceOf(MapItemRefusedError);
    expect(error).toMatchObject({ index: 1, code: 'ERR_MAP_ITEM_REFUSED' });
    expect((error as Error).cause).toBeInstanceOf(ParamsNotCloneableError);
    expect(values.length).toBeLessThanOrEqual(1);
    expect(runtime.size).toBe(0);
  });

  it('a refusal every item would get (an unknown processor, a bad timeoutMs) ends the map with that refusal', async () => {
    const { runtime } = make();
    await expect(runtime.map('nope', [1, 2]).next()).rejects.toBeInstanceOf(UnknownProcessorError);
    const settled = runtime.map('item', [1, 2], { settle: true, timeoutMs: -1 });
    await expect(settled.next()).rejects.toBeInstanceOf(InvalidTimeoutError);
    expect(settled.progress).toMatchObject({ failed: 0, inFlight: 0 });
  });

  it('the items throwing ends the map with their error, once the instances in flight are stopped', async () => {
    const testRuntime = make();
    const { runtime } = testRuntime;
    const broken = new Error('the source broke');
    let release!: () => void;
    const gateOfSource = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function* items(): AsyncGenerator<unknown> {
      yield { value: 0, hold: true };
      await gateOfSource;
      throw broken;
    }
    const results = runtime.map('item', items());
    const next = results.next();
    await started(testRuntime, 1);
    release();
    await expect(next).rejects.toBe(broken);
    expect(runtime.size).toBe(0);
    expect(stoppedEnds()).toHaveLength(1);
  });

  it('applies timeoutMs and maxRetries to each item', async () => {
    const { runtime } = make();
    const retried = await drain(runtime.map('flaky', [{ succeedOn: 1 }, { succeedOn: 2 }], { maxRetries: 2, settle: true }));
    expect(retried.values.map((settled) => [settled.outcome?.status, settled.outcome?.attempts])).toEqual([['SUCCEED', 2], ['SUCCEED', 3]]);
    const timed = await drain(runtime.map('item', [0, { value: 1, hold: true }], { timeoutMs: 200 }));
    expect(timed.error).toMatchObject({ index: 1, reason: OutcomeReason.TIMEOUT_INTERRUPTED });
  });
});

describe('runtime.map(): the admission limit', () => {
  it('waits for room when the runtime holds maxInstances, and loses no item', async () => {
    // Each final report takes a turn of the event loop: an instance stays live a little after its end.
    const { runtime } = make({ maxInstances: 2, reporter: { report: () => tick() } });
    const items = Array.from({ length: 8 }, (_, index) => index);
    const results = runtime.map('item', items, { concurrency: 4 });
    expect(await drain(results)).toEqual({ values: items, error: undefined });
    expect(results.progress).toEqual({ pulled: 8, inFlight: 0, succeeded: 8, failed: 0, stopped: 0, yielded: 8 });
  });
});

describe('runtime.map(): arguments', () => {
  it('refuses wrong options and items at once, naming them, and starts nothing', () => {
    const { runtime } = make();
    const field = (call: () => unknown): unknown => {
      try {
        call();
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidRequestError);
        return (error as InvalidRequestError).field;
      }
      return undefined;
    };
    expect(field(() => runtime.map('item', [1], { timeoutMS: 5 } as never))).toBe('timeoutMS');
    expect(() => runtime.map('item', [1], { timeoutMS: 5 } as never)).toThrow('did you mean "timeoutMs"');
    expect(field(() => runtime.map('item', [1], { instanceId: 'x' } as never))).toBe('instanceId');
    expect(field(() => runtime.map('item', [1], { jobParams: 1 } as never))).toBe('jobParams');
    expect(field(() => runtime.map('item', [1], { concurrency: 0 }))).toBe('concurrency');
    expect(field(() => runtime.map('item', [1], { concurrency: 1.5 }))).toBe('concurrency');
    expect(field(() => runtime.map('item', [1], { ordered: 'yes' } as never))).toBe('ordered');
    expect(field(() => runtime.map('item', [1], { settle: 1 } as never))).toBe('settle');
    expect(field(() => runtime.map('item', [1], { signal: {} } as never))).toBe('signal');
    expect(field(() => runtime.map('item', 42 as never))).toBe('items');
    expect(field(() => runtime.map('item', [1], 'fast' as never))).toBe('options');
    expect(runtime.stats.submitted).toBe(0);
  });
});
