// Bad requests and options are refused at once with typed errors; nothing half-built stays; the runtime keeps working.
import { describe, expect, it } from 'vitest';
import {
  InvalidRequestError,
  InvalidRetriesError,
  InvalidTimeoutError,
  OutcomeReason,
  ParamsNotCloneableError,
  TaskRuntime,
  TaskTrackerError,
  UnknownProcessorError,
  type SubmitRequest,
} from 'light-task-tracker';
import { fixture } from './support/fixtures.js';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

describe('request validation', () => {
  const refused: Array<[string, Record<string, unknown>, new (...args: never[]) => TaskTrackerError, string]> = [
    ['an unknown processor name', { processor: 'nope' }, UnknownProcessorError, 'ERR_UNKNOWN_PROCESSOR'],
    ['a processor given as a path', { processor: fixture('succeed') }, UnknownProcessorError, 'ERR_UNKNOWN_PROCESSOR'],
    ['a processor given as a file URL', { processor: new URL('./fixtures/succeed.js', import.meta.url).href }, UnknownProcessorError, 'ERR_UNKNOWN_PROCESSOR'],
    ['an inherited name', { processor: 'toString' }, UnknownProcessorError, 'ERR_UNKNOWN_PROCESSOR'],
    ['a zero timeout', { processor: 'succeed', timeoutMs: 0 }, InvalidTimeoutError, 'ERR_INVALID_TIMEOUT'],
    ['a negative timeout', { processor: 'succeed', timeoutMs: -5 }, InvalidTimeoutError, 'ERR_INVALID_TIMEOUT'],
    ['a NaN timeout', { processor: 'succeed', timeoutMs: Number.NaN }, InvalidTimeoutError, 'ERR_INVALID_TIMEOUT'],
    ['an infinite timeout', { processor: 'succeed', timeoutMs: Number.POSITIVE_INFINITY }, InvalidTimeoutError, 'ERR_INVALID_TIMEOUT'],
    ['a timeout past the timer range', { processor: 'succeed', timeoutMs: 2 ** 31 }, InvalidTimeoutError, 'ERR_INVALID_TIMEOUT'],
    ['a string timeout', { processor: 'succeed', timeoutMs: '100' }, InvalidTimeoutError, 'ERR_INVALID_TIMEOUT'],
    ['negative retries', { processor: 'succeed', maxRetries: -1 }, InvalidRetriesError, 'ERR_INVALID_RETRIES'],
    ['fractional retries', { processor: 'succeed', maxRetries: 1.5 }, InvalidRetriesError, 'ERR_INVALID_RETRIES'],
    ['NaN retries', { processor: 'succeed', maxRetries: Number.NaN }, InvalidRetriesError, 'ERR_INVALID_RETRIES'],
    ['params holding a function', { processor: 'succeed', jobParams: { f: () => 1 } }, ParamsNotCloneableError, 'ERR_PARAMS_NOT_CLONEABLE'],
    ['params holding a symbol', { processor: 'succeed', instanceParams: Symbol('s') }, ParamsNotCloneableError, 'ERR_PARAMS_NOT_CLONEABLE'],
    ['an empty instanceId', { processor: 'succeed', instanceId: '' }, InvalidRequestError, 'ERR_INVALID_REQUEST'],
    ['a numeric instanceId', { processor: 'succeed', instanceId: 5 }, InvalidRequestError, 'ERR_INVALID_REQUEST'],
    ['a signal that is no AbortSignal', { processor: 'succeed', signal: { aborted: false } }, InvalidRequestError, 'ERR_INVALID_REQUEST'],
  ];

  for (const [what, request, ErrorClass, code] of refused) {
    it(`refuses ${what} with ${ErrorClass.name} (${code}), and the runtime keeps serving`, async () => {
      const { runtime } = runtimes.make();
      let caught: unknown;
      try {
        runtime.submit(request as unknown as SubmitRequest);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ErrorClass);
      expect(caught).toBeInstanceOf(TaskTrackerError);
      expect((caught as TaskTrackerError).code).toBe(code);
      expect((caught as TaskTrackerError).name).toBe(ErrorClass.name);
      expect(runtime.size).toBe(0);
      expect((await runtime.submit({ processor: 'succeed', jobParams: 'ok' }).done).status).toBe('SUCCEED');
    });
  }

  it('refuses a request that is not an object', () => {
    const { runtime } = runtimes.make();
    expect(() => runtime.submit(null as unknown as SubmitRequest)).toThrow(InvalidRequestError);
  });

  it('names the params field that cannot be cloned, with the clone error as cause', () => {
    const { runtime } = runtimes.make();
    try {
      runtime.submit({ processor: 'succeed', instanceParams: { nested: [new WeakMap()] } });
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ field: 'instanceParams', code: 'ERR_PARAMS_NOT_CLONEABLE' });
      expect((error as Error).cause).toBeInstanceOf(Error);
    }
  });

  it('snapshots params at submit: later changes by the caller are not seen by the job', async () => {
    const { runtime } = runtimes.make({ maxThreads: 1 });
    const blocker = runtime.submit({ processor: 'sleep' });
    const params = { length: 3 };
    const tracker = runtime.submit({ processor: 'longResult', jobParams: params });
    params.length = 50;
    blocker.stop();
    expect((await tracker.done).result).toBe('xxx');
  });

  it('shares a SharedArrayBuffer in params with the job, as postMessage does (not a snapshot)', async () => {
    const { runtime } = runtimes.make();
    const buffer = new SharedArrayBuffer(4);
    expect((await runtime.submit({ processor: 'sharedWrite', jobParams: { buffer } }).done).status).toBe('SUCCEED');
    expect(Atomics.load(new Int32Array(buffer), 0)).toBe(42);
  });

  it('fails an instance whose processor module cannot load, naming the cause, and reports it FAILED', async () => {
    const { runtime, reporter, logs } = runtimes.make();
    for (const processor of ['loadThrows', 'badExport'] as const) {
      const tracker = runtime.submit({ processor });
      const outcome = await tracker.done;
      expect(outcome).toMatchObject({ status: 'FAILED', reason: OutcomeReason.PROCESSOR_LOAD_FAILED });
      expect(outcome.result).toContain(`processor "${processor}" failed to load`);
      const report = await reporter.waitFor((r) => r.instanceId === tracker.instanceId);
      expect(report).toMatchObject({ status: 'FAILED', result: outcome.result });
    }
    const last = runtime.submit({ processor: 'succeed', jobParams: 'still' });
    expect(await last.done).toMatchObject({ result: 'hello still' });
    await logs.waitFor((l) => l.msg === 'tracker destroyed' && l.instanceId === last.instanceId);
    expect(runtime.size).toBe(0);
  });
});

describe('options validation', () => {
  const processors = { succeed: fixture('succeed') };
  const bad: Array<[string, Record<string, unknown>, typeof TypeError | typeof RangeError, RegExp]> = [
    ['no processors', {}, TypeError, /options.processors/],
    ['an empty registry', { processors: {} }, TypeError, /names no processor/],
    ['a registry module that does not exist', { processors: { x: '/no/such/file.js' } }, TypeError, /processors.x: no module file/],
    ['an http URL in the registry', { processors: { x: 'https://example.com/x.js' } }, TypeError, /processors.x/],
    ['a file URL on a remote host', { processors: { x: 'file://host/x.js' } }, TypeError, /processors.x must be .* local file: URL, got file:\/\/host\/x.js/],
    ['a URL object on a remote host', { processors: { x: new URL('file://host/x.js') } }, TypeError, /processors.x must be/],
    ['a malformed file URL', { processors: { x: 'file://%zz' } }, TypeError, /processors.x must be/],
    ['a non-function onProcessorLog', { processors, onProcessorLog: 1 }, TypeError, /options.onProcessorLog/],
    ['maxThreads 0', { processors, maxThreads: 0 }, RangeError, /options.maxThreads .* got 0/],
    ['fractional maxThreads', { processors, maxThreads: 1.5 }, TypeError, /options.maxThreads/],
    ['minThreads above maxThreads', { processors, maxThreads: 2, minThreads: 3 }, RangeError, /options.minThreads/],
    ['negative spareThreads', { processors, spareThreads: -1 }, RangeError, /options.spareThreads/],
    ['maxInstances 0', { processors, maxInstances: 0 }, RangeError, /options.maxInstances/],
    ['a NaN report interval', { processors, statusReportIntervalMs: Number.NaN }, TypeError, /options.statusReportIntervalMs/],
    ['a negative grace', { processors, forceStopGraceMs: -1 }, RangeError, /options.forceStopGraceMs/],
    ['an infinite grace', { processors, forceStopGraceMs: Number.POSITIVE_INFINITY }, RangeError, /options.forceStopGraceMs/],
    ['a string allowForceStop', { processors, allowForceStop: 'yes' }, TypeError, /options.allowForceStop/],
    ['a reporter without report()', { processors, reporter: {} }, TypeError, /options.reporter/],
    ['a negative maxResultLength', { processors, maxResultLength: -1 }, RangeError, /options.maxResultLength/],
  ];
  for (const [what, options, ErrorClass, message] of bad) {
    it(`throws ${ErrorClass.name} for ${what}`, () => {
      expect(() => new TaskRuntime(options as never)).toThrow(ErrorClass);
      expect(() => new TaskRuntime(options as never)).toThrow(message);
    });
  }
});
