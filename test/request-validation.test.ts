// Request validation: a request of a wrong type, or with a field of a wrong type or out of its range, is refused at
// once by submit() with its typed error (an exported class with a stable `code`); nothing half-built stays
// registered, and the runtime keeps serving. Values built to attack the checks themselves (getters, proxies,
// prototype keys, paths as processor names, oversized values) are in hostile-input.test.ts.
import { BlockList, SocketAddress } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  InvalidRequestError,
  InvalidRetriesError,
  InvalidTimeoutError,
  ParamsNotCloneableError,
  TaskTrackerError,
  UnknownProcessorError,
  type SubmitRequest,
} from 'light-task-tracker';
import { accepted, badField, badRetries, badTimeout, describeCases, notCloneable, unknown, type Case } from './support/request-cases.js';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

describe('request validation, each refusal on a fresh runtime', () => {
  const refused: Array<[string, Record<string, unknown>, new (...args: never[]) => TaskTrackerError, string]> = [
    ['an unknown processor name', { processor: 'nope' }, UnknownProcessorError, 'ERR_UNKNOWN_PROCESSOR'],
    ['a negative timeout', { processor: 'succeed', timeoutMs: -5 }, InvalidTimeoutError, 'ERR_INVALID_TIMEOUT'],
    ['fractional retries', { processor: 'succeed', maxRetries: 1.5 }, InvalidRetriesError, 'ERR_INVALID_RETRIES'],
    ['params holding a function', { processor: 'succeed', jobParams: { f: () => 1 } }, ParamsNotCloneableError, 'ERR_PARAMS_NOT_CLONEABLE'],
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

  it('says, for params over maxParamsBytes, how to pass them instead: move() or a reference', () => {
    const { runtime } = runtimes.make({ maxParamsBytes: 1024 });
    for (const jobParams of [{ data: new Uint8Array(2048) }, 'x'.repeat(1024)]) {
      try {
        runtime.submit({ processor: 'succeed', jobParams });
        expect.unreachable();
      } catch (error) {
        expect(error).toMatchObject({ code: 'ERR_PARAMS_TOO_LARGE', field: 'jobParams', limit: 1024 });
        expect((error as Error).message).toMatch(/^jobParams takes \d+ bytes, over the limit of 1024 \(maxParamsBytes\): /);
        expect((error as Error).message).toContain('move()');
        expect((error as Error).message).toContain('a reference');
      }
    }
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
});

const cases: Case[] = [
  // The request itself
  ...([['null', null], ['undefined', undefined], ['a string', 'succeed'], ['a number', 42], ['a function', () => ({ processor: 'succeed' })]] as const)
    .map(([what, request]): Case => ({ what: `a request that is ${what}`, request: () => request, expect: { error: InvalidRequestError, code: 'ERR_INVALID_REQUEST', fields: { field: 'request' } } })),

  // Processor names: unknown, inherited, or of the wrong type
  unknown('missing', undefined),
  unknown('empty', ''),
  unknown('in another case', 'SUCCEED'),
  unknown('with a space', ' succeed'),
  unknown('"toString"', 'toString'),
  unknown('"hasOwnProperty"', 'hasOwnProperty'),
  unknown('null', null),
  unknown('a number', 42),
  unknown('NaN', Number.NaN),
  unknown('true', true),
  unknown('a symbol', Symbol('succeed')),
  unknown('a function', () => 'succeed'),

  // timeoutMs
  badTimeout('0', 0),
  badTimeout('-0', -0),
  badTimeout('negative', -1),
  badTimeout('NaN', Number.NaN),
  badTimeout('Infinity', Number.POSITIVE_INFINITY),
  badTimeout('-Infinity', Number.NEGATIVE_INFINITY),
  badTimeout('1e300', 1e300),
  badTimeout('Number.MAX_VALUE', Number.MAX_VALUE),
  badTimeout('2^31', 2 ** 31),
  badTimeout('a string', '100'),
  badTimeout('null', null),
  badTimeout('true', true),
  badTimeout('a bigint', 100n),
  accepted('timeoutMs 2^31-1 (the largest)', () => ({ timeoutMs: 2 ** 31 - 1 }), () => undefined),

  // maxRetries
  badRetries('negative', -1),
  badRetries('fractional', 0.5),
  badRetries('NaN', Number.NaN),
  badRetries('Infinity', Number.POSITIVE_INFINITY),
  badRetries('2^53', 2 ** 53),
  badRetries('1e300', 1e300),
  badRetries('a string', '1'),
  badRetries('null', null),
  badRetries('a bigint', 1n),
  accepted('maxRetries 2^53-1 (the largest)', () => ({ maxRetries: Number.MAX_SAFE_INTEGER }), () => undefined),

  // ids and the signal
  badField('instanceId', 'empty', ''),
  badField('instanceId', 'a number', 5),
  badField('instanceId', 'null', null),
  badField('instanceId', 'a symbol', Symbol('id')),
  badField('jobId', 'NaN', Number.NaN),
  badField('jobId', 'Infinity', Number.POSITIVE_INFINITY),
  badField('jobId', 'a bigint', 1n),
  badField('wfInstanceId', '-Infinity', Number.NEGATIVE_INFINITY),
  badField('wfInstanceId', 'null', null),
  badField('signal', 'a look-alike object', { aborted: false, addEventListener() {} }),
  badField('signal', 'made from AbortSignal.prototype', Object.create(AbortSignal.prototype)),
  badField('signal', 'an AbortController', new AbortController()),
  badField('signal', 'null', null),

  // Params that cannot be cloned
  notCloneable('a function', 'jobParams', () => () => 1),
  notCloneable('holding a method', 'jobParams', () => ({ run() { return 1; } })),
  notCloneable('a symbol', 'instanceParams', () => Symbol('s')),
  notCloneable('holding a symbol', 'instanceParams', () => ({ s: Symbol('s') })),
  notCloneable('a WeakMap', 'jobParams', () => new WeakMap()),
  notCloneable('holding a WeakSet', 'jobParams', () => [new WeakSet()]),
  notCloneable('holding a WeakRef', 'jobParams', () => ({ ref: new WeakRef({}) })),
  notCloneable('holding a Promise', 'jobParams', () => ({ later: Promise.resolve(1) })),
  // Node's objects that hold their state themselves: refused by what they are, on every Node version (Node 20's
  // serializer takes them for host objects; on 22 and 24 they are ordinary objects it would write as {}).
  notCloneable('a Blob (a Node host object)', 'jobParams', () => new Blob(['x'])),
  notCloneable('holding a File', 'instanceParams', () => ({ upload: new File(['x'], 'x.txt') })),
  notCloneable('holding a Blob subclass with a field of its own', 'jobParams', () => [new (class Named extends Blob { name = 'n'; })(['x'])]),
  notCloneable('holding a ReadableStream in a Map', 'jobParams', () => new Map([['body', new ReadableStream()]])),
  notCloneable('holding a SocketAddress in a Set', 'instanceParams', () => new Set([new SocketAddress({ address: '127.0.0.1', port: 80 })])),
  notCloneable('a BlockList', 'jobParams', () => new BlockList()),
  notCloneable('an error caused by a Blob', 'jobParams', () => new Error('upload failed', { cause: new Blob(['x']) })),
];

describeCases('request validation, one runtime for all: a typed error or a clean acceptance, and it keeps serving', cases);

describe('params of an accepted request', () => {
  it('snapshots params at submit: later changes by the caller are not seen by the job', async () => {
    const { runtime } = runtimes.make({ maxThreads: 1 });
    const blocker = runtime.submit({ processor: 'sleep' });
    const params = { length: 3 };
    const tracker = runtime.submit({ processor: 'longResult', jobParams: params });
    params.length = 50;
    blocker.stop();
    expect((await tracker.done).result).toBe('xxx');
  });

  it('refuses a CryptoKey in params, on every Node version', async () => {
    const { runtime } = runtimes.make();
    const key = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
    expect(() => runtime.submit({ processor: 'succeed', jobParams: { key } })).toThrow(ParamsNotCloneableError);
    expect((await runtime.submit({ processor: 'succeed', jobParams: 1 }).done).status).toBe('SUCCEED');
  });

  it('shares a SharedArrayBuffer in params with the job, as postMessage does (not a snapshot)', async () => {
    const { runtime } = runtimes.make();
    const buffer = new SharedArrayBuffer(4);
    expect((await runtime.submit({ processor: 'sharedWrite', jobParams: { buffer } }).done).status).toBe('SUCCEED');
    expect(Atomics.load(new Int32Array(buffer), 0)).toBe(42);
  });
});
