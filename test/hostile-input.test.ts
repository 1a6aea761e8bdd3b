// Hostile input: every bad request or option gets its typed error (an exported class with a stable `code`), or an
// outcome naming the cause; nothing pollutes Object.prototype, in the main thread or in a worker; no module outside
// the registry is ever loaded, whatever a request names; and the same runtime goes on serving after each case.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serialize } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidRequestError,
  InvalidRetriesError,
  InvalidTimeoutError,
  MemoryReporter,
  OutcomeReason,
  ParamsNotCloneableError,
  ParamsTooLargeError,
  TaskRuntime,
  TaskTrackerError,
  UnknownProcessorError,
  type Outcome,
  type SubmitRequest,
  type TaskRuntimeOptions,
} from 'light-task-tracker';
import { fixture } from './support/fixtures.js';
import { LogCapture } from './support/logs.js';

const MiB = 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), 'ltt-hostile-'));
// The marker module writes this file if it is ever imported, in any thread (workers inherit the environment).
const marker = join(work, 'marker');
process.env.LTT_HOSTILE_MARKER = marker;
afterAll(() => rmSync(work, { recursive: true, force: true }));

const markerPath = fixture('hostile-marker');
const probePath = fixture('hostile-probe');
const succeedPath = fixture('succeed');

/** What the probe processor saw, in its worker. */
interface Seen {
  readonly threadId: number;
  readonly polluted: string;
  readonly objectPrototypeKeys: string[];
  readonly jobParams: Shape;
  readonly nested: Record<string, Shape> | undefined;
  readonly preload: string[];
}
interface Shape {
  readonly type: string;
  readonly value?: string;
  readonly proto?: string;
  readonly ownKeys?: string[];
  readonly ownProto?: Shape;
  readonly byteLength?: number;
  readonly bufferByteLength?: number;
}

interface Served {
  readonly runtime: TaskRuntime;
  readonly reporter: MemoryReporter;
  readonly logs: LogCapture;
}

function serve(options: Partial<TaskRuntimeOptions> = {}): Served {
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

function expectMainThreadClean(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  expect(Object.prototype.constructor).toBe(Object);
}

async function probe(runtime: TaskRuntime, request: Partial<SubmitRequest> = {}): Promise<{ outcome: Outcome; seen: Seen }> {
  const outcome = await runtime.submit({ ...request, processor: 'probe' }).done;
  expect(outcome).toMatchObject({ status: 'SUCCEED', reason: OutcomeReason.SUCCEEDED });
  return { outcome, seen: JSON.parse(outcome.result) as Seen };
}

/** No pollution in the main thread nor in the worker, and a normal request still succeeds on the same runtime. */
async function expectStillServing(runtime: TaskRuntime): Promise<void> {
  expectMainThreadClean();
  const next = await runtime.submit({ processor: 'succeed', jobParams: 'next' }).done;
  expect(next).toMatchObject({ status: 'SUCCEED', result: 'hello next' });
  const { seen } = await probe(runtime);
  expect(seen.polluted).toBe('undefined');
  expect(seen.objectPrototypeKeys).toEqual([]);
  expectMainThreadClean();
}

function submitError(runtime: TaskRuntime, request: unknown): unknown {
  const before = runtime.size;
  try {
    runtime.submit(request as SubmitRequest);
  } catch (error) {
    expect(runtime.size).toBe(before); // nothing half-built stays registered
    return error;
  }
  return expect.unreachable('the request was accepted');
}

type ErrorClass = abstract new (...args: never[]) => TaskTrackerError;
interface Refusal {
  readonly error: ErrorClass;
  readonly code: string;
  /** Expected own fields of the error (`field`, `bytes`, `limit`…). */
  readonly fields?: Record<string, unknown>;
  /** The error's `cause`: an instance of this class, or (true) any defined value. */
  readonly cause?: (new (...args: never[]) => unknown) | true;
}
interface Acceptance {
  /** Checks what the probe processor saw. */
  readonly seen: (seen: Seen) => void;
}
interface Case {
  readonly what: string;
  /** Built lazily: some are 100 MB. */
  readonly request: () => unknown;
  readonly expect: Refusal | Acceptance;
}

const unknown = (what: string, processor: unknown): Case => ({
  what: `processor ${what}`,
  request: () => ({ processor }),
  expect: { error: UnknownProcessorError, code: 'ERR_UNKNOWN_PROCESSOR' },
});
const badTimeout = (what: string, timeoutMs: unknown): Case => ({
  what: `timeoutMs ${what}`,
  request: () => ({ processor: 'succeed', timeoutMs }),
  expect: { error: InvalidTimeoutError, code: 'ERR_INVALID_TIMEOUT' },
});
const badRetries = (what: string, maxRetries: unknown): Case => ({
  what: `maxRetries ${what}`,
  request: () => ({ processor: 'succeed', maxRetries }),
  expect: { error: InvalidRetriesError, code: 'ERR_INVALID_RETRIES' },
});
const badField = (field: string, what: string, value: unknown): Case => ({
  what: `${field} ${what}`,
  request: () => ({ processor: 'succeed', [field]: value }),
  expect: { error: InvalidRequestError, code: 'ERR_INVALID_REQUEST', fields: { field } },
});
const notCloneable = (what: string, field: 'jobParams' | 'instanceParams', params: () => unknown, cause: Refusal['cause'] = Error): Case => ({
  what: `${field} ${what}`,
  request: () => ({ processor: 'probe', [field]: params() }),
  expect: { error: ParamsNotCloneableError, code: 'ERR_PARAMS_NOT_CLONEABLE', fields: { field }, cause },
});
const tooLarge = (what: string, field: 'jobParams' | 'instanceParams', params: () => unknown, bytes: (n: number) => boolean): Case => ({
  what: `${field} ${what}`,
  request: () => ({ processor: 'probe', [field]: params() }),
  expect: {
    error: ParamsTooLargeError,
    code: 'ERR_PARAMS_TOO_LARGE',
    fields: { field, limit: 16 * MiB, bytes: expect.toSatisfy((n: number) => Number.isSafeInteger(n) && bytes(n)) },
  },
});
const accepted = (what: string, request: () => Record<string, unknown>, seen: (seen: Seen) => void): Case => ({
  what,
  request: () => ({ processor: 'probe', ...request() }),
  expect: { seen },
});

const hostileObject = (): object => JSON.parse('{"__proto__":{"polluted":1}}') as object;
const deep = (depth: number): unknown => {
  let value: unknown = {};
  for (let i = 0; i < depth; i++) value = { value };
  return value;
};
class WithPrivate {
  #secret = 'hidden';
  visible = 'shown';
  get secret(): string {
    return this.#secret;
  }
}

const cases: Case[] = [
  // The request itself
  ...([['null', null], ['undefined', undefined], ['a string', 'succeed'], ['a number', 42], ['a function', () => ({ processor: 'succeed' })]] as const)
    .map(([what, request]): Case => ({ what: `a request that is ${what}`, request: () => request, expect: { error: InvalidRequestError, code: 'ERR_INVALID_REQUEST', fields: { field: 'request' } } })),
  {
    what: 'a request whose processor getter throws',
    request: () => ({ get processor(): string { throw new RangeError('getter'); } }),
    expect: { error: InvalidRequestError, code: 'ERR_INVALID_REQUEST', fields: { field: 'processor' }, cause: RangeError },
  },
  {
    what: 'a request whose jobParams getter throws a null-prototype object',
    request: () => ({ processor: 'succeed', get jobParams(): unknown { throw Object.create(null); } }),
    expect: { error: InvalidRequestError, code: 'ERR_INVALID_REQUEST', fields: { field: 'jobParams' }, cause: true },
  },
  {
    what: 'a Proxy request whose every trap throws',
    request: () => new Proxy({}, { get: () => { throw new Error('trap'); } }),
    expect: { error: InvalidRequestError, code: 'ERR_INVALID_REQUEST', fields: { field: 'processor' }, cause: Error },
  },

  // Processor names: unknown, inherited, of the wrong type, or a path or URL (even to a registered module)
  unknown('missing', undefined),
  unknown('empty', ''),
  unknown('in another case', 'SUCCEED'),
  unknown('with a space', ' succeed'),
  unknown('with a NUL', 'succeed\0'),
  unknown('"__proto__"', '__proto__'),
  unknown('"constructor"', 'constructor'),
  unknown('"toString"', 'toString'),
  unknown('"hasOwnProperty"', 'hasOwnProperty'),
  unknown('of 1 MB', 'x'.repeat(MiB)),
  unknown('null', null),
  unknown('a number', 42),
  unknown('NaN', Number.NaN),
  unknown('true', true),
  unknown('a symbol', Symbol('succeed')),
  unknown('an array', ['succeed']),
  unknown('a String object', new String('succeed')),
  unknown('an object whose toString names a processor', { toString: () => 'succeed' }),
  unknown('an object whose toString throws', { toString: () => { throw new Error('toString'); } }),
  unknown('a null-prototype object', Object.create(null)),
  unknown('a function', () => 'succeed'),
  unknown('a URL object', pathToFileURL(succeedPath)),
  unknown('the absolute path of a registered module', succeedPath),
  unknown('the file: URL of a registered module', pathToFileURL(succeedPath).href),
  unknown('a relative path of a registered module', `./${relative(process.cwd(), succeedPath)}`),
  unknown('a ../ path', '../x.js'),
  unknown('a data: URL', 'data:text/javascript,export default 1'),
  unknown('a node: builtin', 'node:child_process'),
  unknown('a bare builtin', 'fs'),
  unknown('an http URL', 'http://127.0.0.1:1/x.js'),

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
  badTimeout('a huge bigint', 1n << 100_000n),
  badTimeout('an object with valueOf', { valueOf: () => 100 }),
  badTimeout('a null-prototype object', Object.create(null)),
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
  badRetries('a null-prototype object', Object.create(null)),
  accepted('maxRetries 2^53-1 (the largest)', () => ({ maxRetries: Number.MAX_SAFE_INTEGER }), () => undefined),

  // ids and the signal
  badField('instanceId', 'empty', ''),
  badField('instanceId', 'a number', 5),
  badField('instanceId', 'null', null),
  badField('instanceId', 'a symbol', Symbol('id')),
  badField('instanceId', 'a null-prototype object', Object.create(null)),
  badField('instanceId', '1,025 characters (over the limit)', 'i'.repeat(1025)),
  badField('jobId', '1,025 characters (over the limit)', 'j'.repeat(1025)),
  badField('wfInstanceId', '100,000 characters', 'w'.repeat(100_000)),
  accepted('instanceId of 1,024 characters (the longest)', () => ({ instanceId: 'i'.repeat(1024) }), () => undefined),
  badField('jobId', 'NaN', Number.NaN),
  badField('jobId', 'Infinity', Number.POSITIVE_INFINITY),
  badField('jobId', 'a bigint', 1n),
  badField('jobId', 'an object whose toString throws', { toString: () => { throw new Error('toString'); } }),
  badField('wfInstanceId', '-Infinity', Number.NEGATIVE_INFINITY),
  badField('wfInstanceId', 'null', null),
  badField('signal', 'a look-alike object', { aborted: false, addEventListener() {} }),
  badField('signal', 'made from AbortSignal.prototype', Object.create(AbortSignal.prototype)),
  badField('signal', 'a Proxy of a real signal', new Proxy(new AbortController().signal, {})),
  badField('signal', 'an AbortController', new AbortController()),
  badField('signal', 'null', null),
  accepted('instanceId "__proto__"', () => ({ instanceId: '__proto__' }), () => undefined),
  accepted('instanceId "constructor"', () => ({ instanceId: 'constructor' }), () => undefined),

  // Params that cannot be cloned
  notCloneable('a function', 'jobParams', () => () => 1),
  notCloneable('holding a method', 'jobParams', () => ({ run() { return 1; } })),
  notCloneable('a symbol', 'instanceParams', () => Symbol('s')),
  notCloneable('holding a symbol', 'instanceParams', () => ({ s: Symbol('s') })),
  notCloneable('a WeakMap', 'jobParams', () => new WeakMap()),
  notCloneable('holding a WeakSet', 'jobParams', () => [new WeakSet()]),
  notCloneable('holding a WeakRef', 'jobParams', () => ({ ref: new WeakRef({}) })),
  notCloneable('holding a Promise', 'jobParams', () => ({ later: Promise.resolve(1) })),
  notCloneable('a Proxy', 'jobParams', () => new Proxy({ a: 1 }, {})),
  notCloneable('holding a Proxy', 'instanceParams', () => ({ inner: new Proxy({}, {}) })),
  notCloneable('a Blob (a Node host object)', 'jobParams', () => new Blob(['x'])),
  notCloneable('holding a getter that throws', 'jobParams', () => ({ get boom(): number { throw new RangeError('getter threw'); } }), RangeError),
  notCloneable('holding a getter that throws a non-Error', 'jobParams', () => ({ get boom(): number { throw Object.create(null); } }), true),
  notCloneable('nested a million deep', 'jobParams', () => deep(1_000_000), RangeError),

  // Params that clone, hostile or odd: accepted, and nothing is polluted on either side
  accepted('jobParams with an own "__proto__" key (JSON.parse)', () => ({ jobParams: hostileObject() }), (seen) => {
    expect(seen.jobParams).toMatchObject({ type: 'object', proto: 'Object.prototype', ownKeys: ['__proto__'], ownProto: { ownKeys: ['polluted'] } });
  }),
  accepted('jobParams with constructor.prototype', () => ({ jobParams: { constructor: { prototype: { polluted: 1 } } } }), (seen) => {
    expect(seen.jobParams).toMatchObject({ proto: 'Object.prototype', ownKeys: ['constructor'] });
  }),
  accepted('jobParams with "__proto__" keys nested in objects and arrays', () => ({
    jobParams: JSON.parse('{"a":{"__proto__":{"polluted":1}},"b":[{"__proto__":{"polluted":1}}],"__proto__":[1]}') as unknown,
  }), (seen) => {
    expect(seen.jobParams.ownKeys).toEqual(['a', 'b', '__proto__']);
    expect(seen.nested?.a).toMatchObject({ proto: 'Object.prototype', ownKeys: ['__proto__'] });
  }),
  accepted('instanceParams with an own "__proto__" key', () => ({ instanceParams: Object.assign(hostileObject(), { mode: 'plain' }) }), () => undefined),
  accepted('a null-prototype jobParams with a "__proto__" data key', () => ({
    jobParams: Object.defineProperty(Object.create(null) as object, '__proto__', { value: { polluted: 1 }, enumerable: true }),
  }), (seen) => {
    expect(seen.jobParams).toMatchObject({ proto: 'Object.prototype', ownKeys: ['__proto__'] });
  }),
  accepted('jobParams whose prototype carries "polluted" (inherited keys are not cloned)', () => ({
    jobParams: Object.assign(Object.create({ polluted: 1 }) as object, { own: 1 }),
  }), (seen) => {
    expect(seen.jobParams).toMatchObject({ proto: 'Object.prototype', ownKeys: ['own'] });
  }),
  accepted('a class instance with a private field (it arrives as a plain object of its public fields)', () => ({ jobParams: new WithPrivate() }), (seen) => {
    expect(seen.jobParams).toMatchObject({ type: 'object', proto: 'Object.prototype', ownKeys: ['visible'] });
  }),
  accepted('cyclic jobParams', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    return { jobParams: cyclic };
  }, (seen) => {
    expect(seen.nested?.self).toMatchObject({ ownKeys: ['name', 'self'] });
  }),
  accepted('a small pooled Buffer (only its own bytes reach the worker, not the pool slab)', () => ({ jobParams: { bytes: Buffer.from('abc') } }), (seen) => {
    expect(seen.nested?.bytes).toMatchObject({ type: 'Uint8Array', byteLength: 3, bufferByteLength: 3 });
  }),
  accepted('a 16-byte view of a 64 MiB ArrayBuffer (counted and sent as 16 bytes)', () => ({
    jobParams: { view: new Float64Array(new ArrayBuffer(64 * MiB), 8, 2) },
  }), (seen) => {
    expect(seen.nested?.view).toMatchObject({ type: 'Float64Array', byteLength: 16, bufferByteLength: 16 });
  }),
  accepted('a string of 8 Mi UTF-16 units (16 MiB counted: at the limit)', () => ({ jobParams: 'x'.repeat(8 * MiB) }), (seen) => {
    expect(seen.jobParams).toEqual({ type: 'string', value: `${8 * MiB} chars` });
  }),
  accepted('jobParams and instanceParams each at the limit (the limit is per field)', () => ({
    jobParams: 'x'.repeat(8 * MiB),
    instanceParams: 'y'.repeat(8 * MiB),
  }), () => undefined),

  // Params too large (default limit 16 MiB)
  tooLarge('a 100 MiB string, counted at 2 bytes a unit without a copy', 'jobParams', () => 'x'.repeat(100 * MiB), (n) => n === 200 * MiB),
  tooLarge('one UTF-16 unit over the limit', 'jobParams', () => 'x'.repeat(8 * MiB + 1), (n) => n === 16 * MiB + 2),
  tooLarge('a 9 Mi-unit two-byte string', 'instanceParams', () => '€'.repeat(9 * MiB), (n) => n === 18 * MiB),
  tooLarge('an object holding a 100 MiB string', 'jobParams', () => ({ data: 'x'.repeat(100 * MiB) }), (n) => n > 100 * MiB && n < 101 * MiB),
  tooLarge('a 100 MiB Uint8Array', 'instanceParams', () => new Uint8Array(100 * MiB), (n) => n > 100 * MiB && n < 101 * MiB),
  tooLarge('a 100 MiB ArrayBuffer', 'jobParams', () => ({ buffer: new ArrayBuffer(100 * MiB) }), (n) => n > 100 * MiB && n < 101 * MiB),
  tooLarge('a million small objects', 'jobParams', () => Array.from({ length: 1_000_000 }, (_, i) => ({ i, s: 'abcdefghij' })), (n) => n > 16 * MiB),
  tooLarge('a 20 MiB bigint', 'jobParams', () => 1n << BigInt(20 * 8 * MiB), (n) => n > 20 * MiB),
];

describe('hostile requests, one runtime for all: a typed error or a clean acceptance, and it keeps serving', () => {
  let served: Served;
  beforeAll(async () => {
    served = serve();
    await served.runtime.ready();
  });
  afterAll(() => served.runtime.close());

  for (const { what, request, expect: expected } of cases) {
    const title = 'error' in expected ? `refuses ${what} with ${expected.error.name} (${expected.code})` : `accepts ${what}`;
    it(title, async () => {
      const { runtime } = served;
      if ('error' in expected) {
        const error = submitError(runtime, request());
        expect(error).toBeInstanceOf(expected.error);
        expect(error).toBeInstanceOf(TaskTrackerError);
        expect(error).toMatchObject({ name: expected.error.name, code: expected.code, ...expected.fields });
        // The message stays short whatever the value (a 1 MB name, a 100 MB string…), and never throws to build.
        expect((error as Error).message.length).toBeLessThan(600);
        if (expected.cause === true) expect((error as Error).cause).toBeDefined();
        else if (expected.cause !== undefined) expect((error as Error).cause).toBeInstanceOf(expected.cause);
      } else {
        const built = request() as Partial<SubmitRequest>;
        const { seen } = await probe(runtime, built);
        expect(seen.polluted).toBe('undefined');
        expect(seen.objectPrototypeKeys).toEqual([]);
        expected.seen(seen);
      }
      await expectStillServing(runtime);
    });
  }

  it('takes log fields and workflow keys named "__proto__" / "constructor" from a processor without polluting anything', async () => {
    const { runtime, reporter, logs } = served;
    const tracker = runtime.submit({ processor: 'probe', wfInstanceId: 'wf-1', instanceParams: { mode: 'hostile-log' } });
    expect((await tracker.done).status).toBe('SUCCEED');
    const line = await logs.waitFor((l) => l.instanceId === tracker.instanceId && l.msg === 'hostile fields');
    expect(line.source).toBe('processor');
    const report = await reporter.waitFor((r) => r.instanceId === tracker.instanceId && r.status === 'SUCCEED');
    const context = report.appendedWfContext as Record<string, unknown>;
    expect(Object.keys(context).sort()).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(context, '__proto__')?.value).toEqual({ polluted: 'workflow' });
    await expectStillServing(runtime);
  });
});

describe('maxParamsBytes', () => {
  it('counts an object as its v8.serialize length, exactly, and a string as 2 bytes a UTF-16 unit', async () => {
    const params = { text: 'x'.repeat(1000), list: [1, 2, 3], when: new Date(0) };
    const exact = serialize(params).length;
    const { runtime } = serve({ maxParamsBytes: exact });
    try {
      expect((await probe(runtime, { jobParams: params, instanceParams: params })).outcome.status).toBe('SUCCEED');
      const over = { ...params, text: 'x'.repeat(1001) };
      expect(submitError(runtime, { processor: 'probe', instanceParams: over }))
        .toMatchObject({ code: 'ERR_PARAMS_TOO_LARGE', field: 'instanceParams', bytes: exact + 1, limit: exact });
      const units = Math.floor(exact / 2);
      await probe(runtime, { jobParams: 'é'.repeat(units) });
      expect(submitError(runtime, { processor: 'probe', jobParams: 'e'.repeat(units + 1) }))
        .toMatchObject({ code: 'ERR_PARAMS_TOO_LARGE', field: 'jobParams', bytes: 2 * (units + 1), limit: exact });
      // Numbers, booleans, null and undefined are not counted.
      await probe(runtime, { jobParams: Number.MAX_VALUE, instanceParams: null });
      await expectStillServing(runtime);
    } finally {
      await runtime.close();
    }
  });

  it('defaults to 16 MiB and is checked as an option', () => {
    const processors = { succeed: succeedPath };
    for (const value of [0, -1, 2 ** 31, 1e300]) expect(() => new TaskRuntime({ processors, maxParamsBytes: value })).toThrow(RangeError);
    for (const value of [1.5, Number.NaN, Number.POSITIVE_INFINITY, '16', 16n, {}]) {
      expect(() => new TaskRuntime({ processors, maxParamsBytes: value as number })).toThrow(/options.maxParamsBytes must be a whole number/);
    }
  });
});

describe('hostile options', () => {
  const processors = { succeed: succeedPath };
  const bad: Array<[string, unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    ['options null', null, TypeError, /options must be an object/],
    ['options a string', 'succeed', TypeError, /options must be an object/],
    ['maxThreads 1e9', { processors, maxThreads: 1e9 }, RangeError, /options.maxThreads/],
    ['maxThreads 2^53', { processors, maxThreads: 2 ** 53 }, RangeError, /options.maxThreads/],
    ['maxThreads Infinity', { processors, maxThreads: Number.POSITIVE_INFINITY }, TypeError, /options.maxThreads/],
    ['maxThreads NaN', { processors, maxThreads: Number.NaN }, TypeError, /options.maxThreads/],
    ['maxThreads negative', { processors, maxThreads: -1 }, RangeError, /options.maxThreads/],
    ['maxThreads a string', { processors, maxThreads: '4' }, TypeError, /options.maxThreads/],
    ['maxThreads a null-prototype object', { processors, maxThreads: Object.create(null) }, TypeError, /options.maxThreads/],
    ['minThreads negative', { processors, minThreads: -1 }, RangeError, /options.minThreads/],
    ['minThreads 1e9', { processors, maxThreads: 2, minThreads: 1e9 }, RangeError, /options.minThreads/],
    ['spareThreads 1e9', { processors, spareThreads: 1e9 }, RangeError, /options.spareThreads/],
    ['spareThreads NaN', { processors, spareThreads: Number.NaN }, TypeError, /options.spareThreads/],
    ['maxInstances 2^53', { processors, maxInstances: 2 ** 53 }, RangeError, /options.maxInstances/],
    ['maxInstances Infinity', { processors, maxInstances: Number.POSITIVE_INFINITY }, TypeError, /options.maxInstances/],
    ['statusReportIntervalMs 1e300', { processors, statusReportIntervalMs: 1e300 }, RangeError, /options.statusReportIntervalMs/],
    ['statusReportIntervalMs Infinity', { processors, statusReportIntervalMs: Number.POSITIVE_INFINITY }, RangeError, /options.statusReportIntervalMs/],
    ['statusReportIntervalMs negative', { processors, statusReportIntervalMs: -1 }, RangeError, /options.statusReportIntervalMs/],
    ['statusReportIntervalMs a string', { processors, statusReportIntervalMs: '15000' }, TypeError, /options.statusReportIntervalMs/],
    ['forceStopGraceMs 1e300', { processors, forceStopGraceMs: 1e300 }, RangeError, /options.forceStopGraceMs/],
    ['forceStopGraceMs -Infinity', { processors, forceStopGraceMs: Number.NEGATIVE_INFINITY }, RangeError, /options.forceStopGraceMs/],
    ['forceStopGraceMs NaN', { processors, forceStopGraceMs: Number.NaN }, TypeError, /options.forceStopGraceMs/],
    ['maxResultLength Infinity', { processors, maxResultLength: Number.POSITIVE_INFINITY }, TypeError, /options.maxResultLength/],
    ['maxResultLength 2^53', { processors, maxResultLength: 2 ** 53 }, RangeError, /options.maxResultLength/],
    ['finalReportRetries 1e9', { processors, finalReportRetries: 1e9 }, RangeError, /options.finalReportRetries/],
    ['reportTimeoutMs 0', { processors, reportTimeoutMs: 0 }, RangeError, /options.reportTimeoutMs/],
    ['reportTimeoutMs 1e300', { processors, reportTimeoutMs: 1e300 }, RangeError, /options.reportTimeoutMs/],
    ['reportBackoffMs negative', { processors, reportBackoffMs: -1 }, RangeError, /options.reportBackoffMs/],
    ['reportBackoffMaxMs Infinity', { processors, reportBackoffMaxMs: Number.POSITIVE_INFINITY }, RangeError, /options.reportBackoffMaxMs/],
    ['allowForceStop a string', { processors, allowForceStop: 'false' }, TypeError, /options.allowForceStop/],
    ['address an object', { processors, address: {} }, TypeError, /options.address/],
    ['reporter with a string report', { processors, reporter: { report: 'x' } }, TypeError, /options.reporter/],
    ['logger an empty object', { processors, logger: {} }, TypeError, /options.logger/],
    ['resourceLimits null', { processors, resourceLimits: null }, TypeError, /options.resourceLimits/],
    ['resourceLimits a number', { processors, resourceLimits: 64 }, TypeError, /options.resourceLimits/],
    ['a negative heap cap (Node would make it 2 MB: every worker dead at boot)', { processors, resourceLimits: { maxOldGenerationSizeMb: -1 } }, RangeError, /options.resourceLimits.maxOldGenerationSizeMb/],
    ['a NaN heap cap (Node would ignore it)', { processors, resourceLimits: { maxOldGenerationSizeMb: Number.NaN } }, TypeError, /options.resourceLimits.maxOldGenerationSizeMb/],
    ['an infinite young generation', { processors, resourceLimits: { maxYoungGenerationSizeMb: Number.POSITIVE_INFINITY } }, RangeError, /options.resourceLimits.maxYoungGenerationSizeMb/],
    ['a string code range', { processors, resourceLimits: { codeRangeSizeMb: '64' } }, TypeError, /options.resourceLimits.codeRangeSizeMb/],
    ['a 0.1 MB stack (it would bring the process down)', { processors, resourceLimits: { stackSizeMb: 0.1 } }, RangeError, /options.resourceLimits.stackSizeMb/],
    ['a 1e9 MB stack (thread creation would fail: EAGAIN)', { processors, resourceLimits: { stackSizeMb: 1e9 } }, RangeError, /options.resourceLimits.stackSizeMb/],
    ['processors an array', { processors: [succeedPath] }, TypeError, /options.processors/],
    ['processors a string', { processors: succeedPath }, TypeError, /options.processors/],
    ['processors a Map', { processors: new Map([['succeed', succeedPath]]) }, TypeError, /names no processor/],
    ['processors with only inherited entries', { processors: Object.create({ succeed: succeedPath }) }, TypeError, /names no processor/],
    ['processors with an own "__proto__" entry that is an object', { processors: JSON.parse('{"__proto__":{"polluted":1}}') }, TypeError, /options.processors.__proto__/],
    ['a processor given as a data: URL', { processors: { x: 'data:text/javascript,export default 1' } }, TypeError, /options.processors.x/],
    ['a processor given as a data: URL object', { processors: { x: new URL('data:text/javascript,export default 1') } }, TypeError, /options.processors.x/],
    ['a processor given as a node: builtin', { processors: { x: 'node:fs' } }, TypeError, /options.processors.x/],
    ['a processor given as a node: URL object', { processors: { x: new URL('node:fs') } }, TypeError, /options.processors.x/],
    ['a processor given as a ../ path', { processors: { x: '../x.js' } }, TypeError, /options.processors.x/],
    ['a processor given as a directory', { processors: { x: tmpdir() } }, TypeError, /options.processors.x/],
    ['a processor path with a NUL', { processors: { x: `${succeedPath}\0` } }, TypeError, /options.processors.x/],
    ['a processor given as a number', { processors: { x: 42 } }, TypeError, /options.processors.x/],
    ['an empty processor name', { processors: { '': succeedPath } }, TypeError, /empty name/],
  ];
  for (const [what, options, ErrorClass, message] of bad) {
    it(`throws ${ErrorClass.name} naming the option for ${what}`, () => {
      let caught: unknown;
      try {
        new TaskRuntime(options as TaskRuntimeOptions);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ErrorClass);
      expect((caught as Error).message).toMatch(message);
      expectMainThreadClean();
    });
  }

  it('takes options, a registry and resourceLimits carrying own "__proto__" keys as plain data', async () => {
    const options = JSON.parse('{"__proto__":{"polluted":1,"maxThreads":1000000000},"maxThreads":1,"spareThreads":0}') as Record<string, unknown>;
    options.processors = JSON.parse(`{"__proto__":${JSON.stringify(probePath)},"succeed":${JSON.stringify(succeedPath)}}`) as Record<string, string>;
    options.resourceLimits = JSON.parse('{"__proto__":{"polluted":1}}') as object;
    options.logger = new LogCapture().logger;
    const runtime = new TaskRuntime(options as unknown as TaskRuntimeOptions);
    try {
      expectMainThreadClean();
      // "__proto__" is an ordinary registry name here, and names the probe; inherited names stay unknown.
      const outcome = await runtime.submit({ processor: '__proto__', jobParams: hostileObject() }).done;
      expect(outcome.status).toBe('SUCCEED');
      expect((JSON.parse(outcome.result) as Seen).polluted).toBe('undefined');
      expect(submitError(runtime, { processor: 'constructor' })).toBeInstanceOf(UnknownProcessorError);
      expect((await runtime.submit({ processor: 'succeed', jobParams: 1 }).done).result).toBe('hello 1');
      expectMainThreadClean();
    } finally {
      await runtime.close();
    }
  });

  it('fails an instance whose registered module is not JavaScript at all, naming the cause, and keeps serving', async () => {
    const notJs = join(work, 'not-a-module.js');
    writeFileSync(notJs, 'this is {{ not javascript');
    const { runtime } = serve({ processors: { succeed: succeedPath, probe: probePath, garbage: notJs } });
    try {
      const outcome = await runtime.submit({ processor: 'garbage' }).done;
      expect(outcome).toMatchObject({ status: 'FAILED', reason: OutcomeReason.PROCESSOR_LOAD_FAILED });
      expect(outcome.result).toMatch(/^processor "garbage" failed to load: SyntaxError/);
      await expectStillServing(runtime);
    } finally {
      await runtime.close();
    }
  });
});

describe('only registry modules are ever loaded', () => {
  const markerUrl = pathToFileURL(markerPath).href;
  // Every way a request could try to name the marker module, which is in no registry.
  const names: Array<[string, unknown]> = [
    ['its absolute path', markerPath],
    ['its file: URL', markerUrl],
    ['its file: URL with a query', `${markerUrl}?v=1`],
    ['its file: URL with a hash', `${markerUrl}#x`],
    ['a file://localhost URL', markerUrl.replace('file://', 'file://localhost')],
    ['a percent-encoded file: URL', markerUrl.replace('hostile-marker', 'hostile%2Dmarker')],
    ['a URL object', new URL(markerUrl)],
    ['a path relative to the current directory', `./${relative(process.cwd(), markerPath)}`],
    ['a bare relative path', relative(process.cwd(), markerPath)],
    ['a path relative to the registry modules', './hostile-marker.js'],
    ['a ../ path', '../fixtures/hostile-marker.js'],
    ['a path through /proc/self/cwd', join('/proc/self/cwd', relative(process.cwd(), markerPath))],
    ['a path with doubled slashes and dots', markerPath.replace('/fixtures/', '//fixtures/./')],
    ['its file name', 'hostile-marker.js'],
    ['its base name', 'hostile-marker'],
    ['a data: URL that writes the marker', `data:text/javascript,import{writeFileSync}from'node:fs';writeFileSync(process.env.LTT_HOSTILE_MARKER,'data')`],
    ['a base64 data: URL importing it', `data:text/javascript;base64,${Buffer.from(`import '${markerUrl}';`).toString('base64')}`],
    ['a node: builtin', 'node:fs'],
  ];

  let served: Served;
  beforeAll(async () => {
    served = serve({ maxThreads: 2, spareThreads: 1 });
    await served.runtime.ready();
  });
  afterAll(() => served.runtime.close());

  it('the marker module does write its marker when imported (so its absence means something)', () => {
    const elsewhere = join(work, 'marker-sanity');
    execFileSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(markerUrl)});`], {
      env: { ...process.env, LTT_HOSTILE_MARKER: elsewhere },
      cwd: process.cwd(),
    });
    expect(readFileSync(elsewhere, 'utf8')).toMatch(/^imported by thread 0/);
  });

  for (const [what, processor] of names) {
    it(`refuses the marker module named by ${what}, and never loads it`, async () => {
      const { runtime } = served;
      for (const request of [{ processor }, { processor, jobParams: markerUrl }, { processor, instanceParams: { module: markerPath } }]) {
        const error = submitError(runtime, request);
        expect(error).toBeInstanceOf(UnknownProcessorError);
        expect(error).toMatchObject({ code: 'ERR_UNKNOWN_PROCESSOR' });
      }
      await expectStillServing(runtime);
      expect(existsSync(marker)).toBe(false);
    });
  }

  it('preloads exactly the registry modules into every worker, and nothing else', async () => {
    const importLog = join(work, 'imports');
    process.env.LTT_HOSTILE_IMPORT_LOG = importLog; // read by the probe module when a worker imports it
    const processors = Object.setPrototypeOf({ probe: probePath, succeed: succeedPath }, { marker: markerPath }) as Record<string, string>;
    let runtime: TaskRuntime;
    try {
      runtime = new TaskRuntime({ processors, maxThreads: 2, minThreads: 2, spareThreads: 1, logger: new LogCapture().logger });
      await runtime.ready();
    } finally {
      delete process.env.LTT_HOSTILE_IMPORT_LOG;
    }
    try {
      // Each of the 3 workers imported the probe while it booted, before any instance ran.
      const lines = readFileSync(importLog, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(3);
      expect(new Set(lines.map((line) => line.split(' ')[0])).size).toBe(3);
      for (const line of lines) expect(line.split(' ')[1]).toBe(pathToFileURL(probePath).href);
      // The worker's preload list is the registry's own entries, in order; the inherited one is not there.
      const outcome = await runtime.submit({ processor: 'probe' }).done;
      expect((JSON.parse(outcome.result) as Seen).preload).toEqual([pathToFileURL(probePath).href, pathToFileURL(succeedPath).href]);
      expect(submitError(runtime, { processor: 'marker' })).toBeInstanceOf(UnknownProcessorError);
      expect(existsSync(marker)).toBe(false);
    } finally {
      await runtime.close();
    }
  });

  it('never wrote the marker, in any thread, over the whole file', () => {
    expect(existsSync(marker)).toBe(false);
  });
});
