// Unknown keys: a misspelled option or request field is refused, naming the key and the known one closest to it,
// where it would otherwise be ignored (and its default used) without a word. Every options object the package takes
// and the submit request go through the same check.
import { describe, expect, it } from 'vitest';
import { HttpReporter, InvalidRequestError, TaskRuntime, TaskTrackerError, type SubmitRequest } from 'light-task-tracker';
import { startConsumer, stopJob } from 'light-task-tracker/bullmq';
import { traceInstances } from 'light-task-tracker/otel';
import { registerMetrics } from 'light-task-tracker/prometheus';
import { closestKey } from '../dist/src/keys.js';
import { processors } from './support/fixtures.js';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

/** What `act` throws (synchronously). */
function thrown(act: () => unknown): unknown {
  try {
    act();
  } catch (error) {
    return error;
  }
  return expect.unreachable('it did not throw');
}

describe('the closest known key', () => {
  const known = ['maxThreads', 'minThreads', 'spareThreads', 'timeoutMs', 'maxRetries', 'address', 'resourceLimits'];
  it.each([
    ['a missing letter', 'maxThread', 'maxThreads'],
    ['another case', 'timeoutMS', 'timeoutMs'],
    ['another case, wholly', 'MAXRETRIES', 'maxRetries'],
    ['two letters swapped', 'adderss', 'address'],
    ['a wrong letter', 'maxThreeds', 'maxThreads'],
    ['a missing unit', 'timeout', 'timeoutMs'],
    ['a letter too many', 'resourceLimitts', 'resourceLimits'],
  ])('%s: %s → %s', (_what, key, expected) => {
    expect(closestKey(key, known)).toBe(expected);
  });

  it.each([
    ['far from every key', 'concurrency'],
    ['a short key', 'x'],
    ['three edits from a 7-letter key', 'retries'],
  ])('none when %s (%s)', (_what, key) => {
    expect(closestKey(key, known)).toBeUndefined();
  });

  it('prefers a case-insensitive match to a closer spelling in the same case', () => {
    expect(closestKey('maxthreads', ['maxThreads', 'maxthread'])).toBe('maxThreads');
  });
});

describe('new TaskRuntime(options)', () => {
  it.each([
    [{ maxThread: 1 }, 'TaskRuntime: unknown option "maxThread" (did you mean "maxThreads"?)'],
    [{ timeoutMs: 5 }, 'TaskRuntime: unknown option "timeoutMs"'],
    [{ resourceLimits: { maxOldGenerationSizeMB: 64 } }, 'TaskRuntime: unknown option "resourceLimits.maxOldGenerationSizeMB" (did you mean "resourceLimits.maxOldGenerationSizeMb"?)'],
    [{ recycleWorkers: { afterAttempt: 5 } }, 'TaskRuntime: unknown option "recycleWorkers.afterAttempt" (did you mean "recycleWorkers.afterAttempts"?)'],
    [{ maxThreads: 1, Logger: undefined }, 'TaskRuntime: unknown option "Logger" (did you mean "logger"?)'],
  ])('refuses %o with a TypeError: %s', (extra, message) => {
    const error = thrown(() => new TaskRuntime({ processors, ...extra } as never));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe(message);
  });

  it('refuses an own "__proto__" key (JSON.parse makes one), and pollutes nothing', () => {
    const options = Object.assign(JSON.parse('{"__proto__":{"maxThreads":1000000000}}') as object, { processors });
    expect(() => new TaskRuntime(options as never)).toThrow(new TypeError('TaskRuntime: unknown option "__proto__"'));
    expect(({} as Record<string, unknown>).maxThreads).toBeUndefined();
  });
});

describe('runtime.submit(request) and runtime.run()', () => {
  it('refuses an unknown request field with an InvalidRequestError naming it, and builds nothing', async () => {
    const { runtime } = runtimes.make();
    const error = thrown(() => runtime.submit({ processor: 'succeed', timeoutMS: 5 } as SubmitRequest));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ code: 'ERR_INVALID_REQUEST', field: 'timeoutMS', message: 'timeoutMS: unknown request field (did you mean "timeoutMs"?)' });
    expect(runtime.size).toBe(0);
    expect(runtime.stats.submitted).toBe(0);
    // A misspelled processor field is named as such, not as an unknown processor.
    expect(thrown(() => runtime.submit({ processr: 'succeed' } as unknown as SubmitRequest))).toMatchObject({
      field: 'processr',
      message: 'processr: unknown request field (did you mean "processor"?)',
    });
    expect(thrown(() => runtime.submit({ processor: 'succeed', priority: 1 } as SubmitRequest))).toMatchObject({
      field: 'priority',
      message: 'priority: unknown request field',
    });
    expect((await runtime.submit({ processor: 'succeed', jobParams: 'ok' }).done).status).toBe('SUCCEED');
  });

  it('refuses an unknown run() option: the misspelled timeout is not run without one', async () => {
    const { runtime } = runtimes.make();
    const error: unknown = await runtime.run('succeed', 'x', { timeoutMS: 5 } as never).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ code: 'ERR_INVALID_REQUEST', field: 'timeoutMS', message: 'timeoutMS: unknown option of run() (did you mean "timeoutMs"?)' });
    expect(runtime.stats.submitted).toBe(0);
  });

  it('refuses run()\'s own arguments given again as options, and options that are no object', async () => {
    const { runtime } = runtimes.make();
    await expect(runtime.run('succeed', 'x', { processor: 'fail' } as never)).rejects.toMatchObject({
      field: 'processor',
      message: 'processor: is an argument of run(), not one of its options',
    });
    await expect(runtime.run('succeed', 'x', { jobParams: 'y' } as never)).rejects.toMatchObject({ field: 'jobParams' });
    await expect(runtime.run('succeed', 'x', 'fast' as never)).rejects.toMatchObject({
      code: 'ERR_INVALID_REQUEST',
      field: 'options',
      message: 'options: run()\'s options must be an object, got "fast"',
    });
    expect(runtime.stats.submitted).toBe(0);
    await expect(runtime.run('succeed', 'x', { timeoutMs: 10_000 })).resolves.toBeUndefined();
  });

  it('looks at own keys only: an enumerable key put on Object.prototype does not refuse every request', async () => {
    const { runtime } = runtimes.make();
    let tracker;
    Object.defineProperty(Object.prototype, 'pollutedKey', { value: 1, enumerable: true, configurable: true });
    try {
      tracker = runtime.submit({ processor: 'succeed', jobParams: 'own keys' });
    } finally {
      delete (Object.prototype as Record<string, unknown>).pollutedKey;
    }
    expect((await tracker.done).result).toBe('hello own keys');
  });

  it('gives a typed error when listing a request\'s keys throws (a Proxy)', () => {
    const { runtime } = runtimes.make();
    const request = new Proxy({ processor: 'succeed' }, { ownKeys: () => { throw new RangeError('trap'); } });
    const error = thrown(() => runtime.submit(request));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ field: 'request' });
    expect((error as Error).cause).toBeInstanceOf(RangeError);
  });

  it('refuses an unknown close() option, and closes nothing', async () => {
    const { runtime } = runtimes.make();
    expect(() => runtime.close({ deadlineMs: 0 } as never)).toThrow(new TypeError('close: unknown option "deadlineMs"'));
    expect(() => runtime.close({ reportDeadlinems: 0 } as never)).toThrow(new TypeError('close: unknown option "reportDeadlinems" (did you mean "reportDeadlineMs"?)'));
    expect((await runtime.submit({ processor: 'succeed', jobParams: 'still open' }).done).status).toBe('SUCCEED');
  });
});

describe('the other entries\' options', () => {
  it('HttpReporter', () => {
    expect(() => new HttpReporter({ url: 'http://127.0.0.1:1/', timeout: 5 } as never)).toThrow(new TypeError('HttpReporter: unknown option "timeout" (did you mean "timeoutMs"?)'));
  });

  it('registerMetrics', () => {
    const { runtime } = runtimes.make();
    expect(() => registerMetrics(runtime, { prefx: 'x_' } as never)).toThrow(new TypeError('registerMetrics: unknown option "prefx" (did you mean "prefix"?)'));
  });

  it('traceInstances', () => {
    expect(() => traceInstances({ tracername: 'x' } as never)).toThrow(new TypeError('traceInstances: unknown option "tracername" (did you mean "tracerName"?)'));
  });

  // Refused before any connection is made: no Redis is needed.
  it('startConsumer: its own options and the runtime\'s', async () => {
    const connection = { host: '127.0.0.1', port: 1, lazyConnect: true };
    const runtime = { processors };
    await expect(startConsumer({ queue: 'q', connection, runtime, closeDeadlineMS: 5 } as never)).rejects.toThrow(
      new TypeError('startConsumer: unknown option "closeDeadlineMS" (did you mean "closeDeadlineMs"?)'),
    );
    await expect(startConsumer({ queue: 'q', connection, runtime: { ...runtime, maxThread: 2 } } as never)).rejects.toThrow(
      new TypeError('startConsumer: unknown option "runtime.maxThread" (did you mean "runtime.maxThreads"?)'),
    );
    await expect(startConsumer({ queue: 'q', connection, runtime: { ...runtime, resourceLimits: { stackSize: 4 } } } as never)).rejects.toThrow(
      new TypeError('startConsumer: unknown option "runtime.resourceLimits.stackSize" (did you mean "runtime.resourceLimits.stackSizeMb"?)'),
    );
  });

  it('stopJob: its options and its queue location (which may be a consumer\'s options)', async () => {
    const connection = { host: '127.0.0.1', port: 1, lazyConnect: true };
    await expect(stopJob({ queue: 'q', connection }, 'job', { markTtl: 5 } as never)).rejects.toThrow(
      new TypeError('stopJob: unknown option "markTtl" (did you mean "markTtlMs"?)'),
    );
    await expect(stopJob({ queue: 'q', connection, prefx: 'p' } as never, 'job')).rejects.toThrow(
      new TypeError('stopJob: unknown option "prefx" (did you mean "prefix"?)'),
    );
  });

  it('every refusal of an options object is a TypeError, never a TaskTrackerError', () => {
    const error = thrown(() => new TaskRuntime({ processors, maxThread: 1 } as never));
    expect(error).not.toBeInstanceOf(TaskTrackerError);
  });
});
