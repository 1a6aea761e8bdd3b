// Hostile input: values built to attack the checks themselves (getters that throw, proxies, objects that coerce to a
// registered name, null-prototype objects, prototype keys, oversized values, paths and URLs as processor names) get
// their typed error (an exported class with a stable `code`), or are taken as plain data; nothing pollutes
// Object.prototype, in the main thread or in a worker; no module outside the registry is ever loaded, whatever a
// request names; and the same runtime goes on serving after each case. Plain wrong values are in
// request-validation.test.ts and options-validation.test.ts.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serialize } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidRequestError, TaskRuntime, UnknownProcessorError, type TaskRuntimeOptions } from 'light-task-tracker';
import { fixture } from './support/fixtures.js';
import { LogCapture } from './support/logs.js';
import { expectMainThreadClean, expectStillServing, probe, probePath, serve, submitError, succeedPath, type Seen, type Served } from './support/probe.js';
import {
  accepted,
  badField,
  badRetries,
  badTimeout,
  describeCases,
  MiB,
  notCloneable,
  tooLarge,
  unknown,
  type Case,
} from './support/request-cases.js';

const work = mkdtempSync(join(tmpdir(), 'ltt-hostile-'));
// The marker module writes this file if it is ever imported, in any thread (workers inherit the environment).
const marker = join(work, 'marker');
process.env.LTT_HOSTILE_MARKER = marker;
afterAll(() => rmSync(work, { recursive: true, force: true }));

const markerPath = fixture('hostile-marker');

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

  // Processor names: prototype keys, oversized, objects that coerce to a registered name or cannot be coerced, or
  // a path or URL (even to a registered module)
  unknown('with a NUL', 'succeed\0'),
  unknown('"__proto__"', '__proto__'),
  unknown('"constructor"', 'constructor'),
  unknown('of 1 MB', 'x'.repeat(MiB)),
  unknown('an array', ['succeed']),
  unknown('a String object', new String('succeed')),
  unknown('an object whose toString names a processor', { toString: () => 'succeed' }),
  unknown('an object whose toString throws', { toString: () => { throw new Error('toString'); } }),
  unknown('a null-prototype object', Object.create(null)),
  unknown('a URL object', pathToFileURL(succeedPath)),
  unknown('the absolute path of a registered module', succeedPath),
  unknown('the file: URL of a registered module', pathToFileURL(succeedPath).href),
  unknown('a relative path of a registered module', `./${relative(process.cwd(), succeedPath)}`),
  unknown('a ../ path', '../x.js'),
  unknown('a data: URL', 'data:text/javascript,export default 1'),
  unknown('a node: builtin', 'node:child_process'),
  unknown('a bare builtin', 'fs'),
  unknown('an http URL', 'http://127.0.0.1:1/x.js'),

  // timeoutMs and maxRetries: oversized, or objects that coerce or cannot be coerced
  badTimeout('a huge bigint', 1n << 100_000n),
  badTimeout('an object with valueOf', { valueOf: () => 100 }),
  badTimeout('a null-prototype object', Object.create(null)),
  badRetries('a null-prototype object', Object.create(null)),

  // ids and the signal
  badField('instanceId', 'a null-prototype object', Object.create(null)),
  badField('instanceId', '1,025 characters (over the limit)', 'i'.repeat(1025)),
  badField('jobId', '1,025 characters (over the limit)', 'j'.repeat(1025)),
  badField('wfInstanceId', '100,000 characters', 'w'.repeat(100_000)),
  accepted('instanceId of 1,024 characters (the longest)', () => ({ instanceId: 'i'.repeat(1024) }), () => undefined),
  badField('jobId', 'an object whose toString throws', { toString: () => { throw new Error('toString'); } }),
  badField('signal', 'a Proxy of a real signal', new Proxy(new AbortController().signal, {})),
  accepted('instanceId "__proto__"', () => ({ instanceId: '__proto__' }), () => undefined),
  accepted('instanceId "constructor"', () => ({ instanceId: 'constructor' }), () => undefined),

  // Params that cannot be cloned: proxies, getters that throw, nesting past the stack
  notCloneable('a Proxy', 'jobParams', () => new Proxy({ a: 1 }, {})),
  notCloneable('holding a Proxy', 'instanceParams', () => ({ inner: new Proxy({}, {}) })),
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

describeCases('hostile requests, one runtime for all: a typed error or a clean acceptance, and it keeps serving', cases, (served) => {
  it('takes log fields and workflow keys named "__proto__" / "constructor" from a processor without polluting anything', async () => {
    const { runtime, reporter, logs } = served();
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
});

describe('hostile options', () => {
  it('takes a registry carrying an own "__proto__" key as plain data: a processor name like any other', async () => {
    const processors = JSON.parse(`{"__proto__":${JSON.stringify(probePath)},"succeed":${JSON.stringify(succeedPath)}}`) as Record<string, string>;
    const runtime = new TaskRuntime({ processors, maxThreads: 1, spareThreads: 0, logger: new LogCapture().logger });
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

  it('refuses options and resourceLimits carrying an own "__proto__" key (no option has that name), polluting nothing', () => {
    const processors = { succeed: succeedPath };
    const options = JSON.parse('{"__proto__":{"polluted":1,"maxThreads":1000000000},"maxThreads":1}') as Record<string, unknown>;
    options.processors = processors;
    expect(() => new TaskRuntime(options as unknown as TaskRuntimeOptions)).toThrow(new TypeError('TaskRuntime: unknown option "__proto__"'));
    const resourceLimits = JSON.parse('{"__proto__":{"polluted":1}}') as object;
    expect(() => new TaskRuntime({ processors, resourceLimits })).toThrow(new TypeError('TaskRuntime: unknown option "resourceLimits.__proto__"'));
    expectMainThreadClean();
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

  it('imports exactly the registry modules, each on its first use in a worker, and nothing else', async () => {
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
      // No worker imports a module before an instance uses it; the probe's instance makes one worker import it.
      expect(existsSync(importLog)).toBe(false);
      const outcome = await runtime.submit({ processor: 'probe' }).done;
      const lines = readFileSync(importLog, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]?.split(' ')[1]).toBe(pathToFileURL(probePath).href);
      // The worker's module list is the registry's own entries, in order; the inherited one is not there.
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
