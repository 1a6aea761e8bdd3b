// Options validation: new TaskRuntime(...) refuses bad options at once, with a TypeError or RangeError naming the
// option, and pollutes nothing; a registry module that passes those checks but cannot load fails each instance that
// names it, with the cause, and the runtime keeps serving.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OutcomeReason, TaskRuntime, type TaskRuntimeOptions } from 'light-task-tracker';
import { fixture } from './support/fixtures.js';
import { expectMainThreadClean, expectStillServing, probePath, serve, succeedPath } from './support/probe.js';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

const work = mkdtempSync(join(tmpdir(), 'ltt-options-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('options validation: each refusal throws its class and names the option, every time', () => {
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

describe('options validation: wrong types and out-of-range values, refused without polluting anything', () => {
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
    ['metricsWindowMs 50', { processors, metricsWindowMs: 50 }, RangeError, /options.metricsWindowMs/],
    ['metricsWindowMs NaN', { processors, metricsWindowMs: Number.NaN }, TypeError, /options.metricsWindowMs/],
    ['recycleWorkers a number', { processors, recycleWorkers: 5 }, TypeError, /options.recycleWorkers must be an object/],
    ['recycleWorkers empty', { processors, recycleWorkers: {} }, TypeError, /afterAttempts, heapUsedMb, or both/],
    ['recycleWorkers.afterAttempts 0', { processors, recycleWorkers: { afterAttempts: 0 } }, RangeError, /options.recycleWorkers.afterAttempts/],
    ['recycleWorkers.afterAttempts 1.5', { processors, recycleWorkers: { afterAttempts: 1.5 } }, TypeError, /options.recycleWorkers.afterAttempts/],
    ['recycleWorkers.heapUsedMb 0', { processors, recycleWorkers: { heapUsedMb: 0 } }, RangeError, /options.recycleWorkers.heapUsedMb/],
    ['recycleWorkers.heapUsedMb a string', { processors, recycleWorkers: { heapUsedMb: '64' } }, TypeError, /options.recycleWorkers.heapUsedMb/],
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
});

describe('maxParamsBytes as an option', () => {
  it('defaults to 16 MiB and is checked as an option', () => {
    const processors = { succeed: succeedPath };
    for (const value of [0, -1, 2 ** 31, 1e300]) expect(() => new TaskRuntime({ processors, maxParamsBytes: value })).toThrow(RangeError);
    for (const value of [1.5, Number.NaN, Number.POSITIVE_INFINITY, '16', 16n, {}]) {
      expect(() => new TaskRuntime({ processors, maxParamsBytes: value as number })).toThrow(/options.maxParamsBytes must be a whole number/);
    }
  });
});

describe('registry modules that pass the checks but cannot load', () => {
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

  it('fails an instance whose registered module is not JavaScript at all, naming the cause, and keeps serving', async () => {
    const notJs = join(work, 'not-a-module.js');
    writeFileSync(notJs, 'this is {{ not javascript');
    const { runtime } = serve({ processors: { succeed: succeedPath, probe: probePath, garbage: notJs } });
    try {
      const outcome = await runtime.submit({ processor: 'garbage' }).done;
      expect(outcome).toMatchObject({ status: 'FAILED', reason: OutcomeReason.PROCESSOR_LOAD_FAILED });
      expect(outcome.result).toMatch(/^processor "garbage" failed to load: file:\S*not-a-module\.js: [^]*SyntaxError/);
      await expectStillServing(runtime);
    } finally {
      await runtime.close();
    }
  });
});
