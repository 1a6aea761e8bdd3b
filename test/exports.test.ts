// The package as a user installs it: its entries resolve through the exports map, from outside this repo, and the
// main and processor entries never load an optional peer dependency (the otel and prometheus entries load theirs).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import * as api from 'light-task-tracker';
import * as otel from 'light-task-tracker/otel';
import * as otelProcessor from 'light-task-tracker/otel/processor';
import { defineProcessor, InterruptedError, type ProcessorContext, type ProcessResult } from 'light-task-tracker/processor';
import * as prometheus from 'light-task-tracker/prometheus';

const root = fileURLToPath(new URL('..', import.meta.url));
const app = mkdtempSync(join(tmpdir(), 'ltt-app-'));
afterAll(() => rmSync(app, { recursive: true, force: true }));

describe('package exports', () => {
  it('runs a processor module that lives outside the repo and imports light-task-tracker/processor', () => {
    mkdirSync(join(app, 'node_modules'));
    symlinkSync(root, join(app, 'node_modules', 'light-task-tracker'), 'dir');
    writeFileSync(join(app, 'package.json'), '{ "type": "module" }');
    writeFileSync(join(app, 'square.js'), [
      "import { defineProcessor } from 'light-task-tracker/processor';",
      'export default defineProcessor((ctx) => ({ success: true, msg: String(ctx.jobParams * ctx.jobParams) }));',
    ].join('\n'));
    writeFileSync(join(app, 'main.js'), [
      "import { TaskRuntime } from 'light-task-tracker';",
      "import { pino } from 'pino';",
      "const runtime = new TaskRuntime({ processors: { square: './square.js' }, maxThreads: 1, logger: pino({ level: 'silent' }) });",
      "const outcome = await runtime.submit({ processor: 'square', jobParams: 12 }).done;",
      'await runtime.close();',
      'console.log(JSON.stringify(outcome));',
    ].join('\n'));
    // pino resolves from the repo's own node_modules through the symlinked package.
    symlinkSync(join(root, 'node_modules', 'pino'), join(app, 'node_modules', 'pino'), 'dir');
    const output = execFileSync(process.execPath, ['main.js'], { cwd: app, encoding: 'utf8' });
    expect(JSON.parse(output)).toMatchObject({ status: 'SUCCEED', result: '144' });
  });

  it('exports the main-thread API and only it from "."', () => {
    expect(Object.keys(api).sort()).toEqual([
      'AdmissionLimitError', 'DetachedBufferError', 'DuplicateInstanceError', 'HttpReporter', 'InstanceError', 'InstanceStatus',
      'InvalidRequestError', 'InvalidRetriesError', 'InvalidTimeoutError', 'MapInstanceError', 'MapItemRefusedError', 'MemoryReporter', 'OutcomeReason', 'OutcomeStatus',
      'ParamsNotCloneableError', 'ParamsTooLargeError', 'ReportDeliveryError', 'RuntimeClosedError', 'SystemResult', 'TaskRuntime',
      'TaskStatus', 'TaskTrackerError', 'TimeoutError', 'Tracker', 'UnknownProcessorError', 'WorkerBootError', 'channels', 'defaultOptions',
      'move',
    ]);
    expect(Object.isFrozen(api.TaskStatus)).toBe(true);
    expect(api.defaultOptions).toMatchObject({ maxInstances: 1024, statusReportIntervalMs: 15_000, allowForceStop: true, maxResultLength: 8096, maxParamsBytes: 16 * 1024 * 1024 });
  });

  it('exports the OpenTelemetry entries: traceInstances and its names from "./otel", the worker helpers from "./otel/processor"', () => {
    expect(Object.keys(otel).sort()).toEqual(['SpanAttribute', 'SpanEvent', 'TracingActiveError', 'defaultTracingOptions', 'traceInstances']);
    expect(Object.keys(otelProcessor).sort()).toEqual(['traceContext', 'withTraceContext']);
    expect(Object.isFrozen(otel.SpanAttribute)).toBe(true);
    expect(new otel.TracingActiveError()).toBeInstanceOf(api.TaskTrackerError);
  });

  it('loads @opentelemetry/api only from the OpenTelemetry entries, never from the main or processor entry', () => {
    // A resolve hook refuses every @opentelemetry/* import, so an entry that imports one fails to load; and the
    // CommonJS cache (where the API's build lands when imported) is searched for it all the same.
    const hooks = `data:text/javascript,${encodeURIComponent(
      "export async function resolve(specifier, context, next) { if (specifier.startsWith('@opentelemetry/')) throw new Error('refused ' + specifier); return next(specifier, context); }",
    )}`;
    const register = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(hooks)});`)}`;
    const load = (specifier: string, hooked: boolean): { loaded: string; required: string[] } => {
      const script = [
        "import { createRequire } from 'node:module';",
        'let loaded;',
        `try { await import(${JSON.stringify(specifier)}); loaded = 'loaded'; } catch (error) { loaded = error.message; }`,
        "const required = Object.keys(createRequire(import.meta.url).cache).filter((path) => path.includes('@opentelemetry'));",
        'console.log(JSON.stringify({ loaded, required }));',
      ].join('\n');
      const args = [...(hooked ? ['--import', register] : []), '--input-type=module', '-e', script];
      return JSON.parse(execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' })) as { loaded: string; required: string[] };
    };
    expect(load('light-task-tracker', true)).toEqual({ loaded: 'loaded', required: [] });
    expect(load('light-task-tracker/processor', true)).toEqual({ loaded: 'loaded', required: [] });
    expect(load('light-task-tracker/otel', true).loaded).toBe('refused @opentelemetry/api');
    expect(load('light-task-tracker/otel/processor', true).loaded).toBe('refused @opentelemetry/api');
    // Unhooked, the OpenTelemetry entry loads and the API shows in the cache: the search above would have seen it.
    const plain = load('light-task-tracker/otel', false);
    expect(plain.loaded).toBe('loaded');
    expect(plain.required.some((path) => path.includes('@opentelemetry/api'))).toBe(true);
    expect(load('light-task-tracker', false).required).toEqual([]);
  });

  it('has the public types a user writes against', () => {
    expectTypeOf(defineProcessor).parameter(0).parameter(0).toEqualTypeOf<ProcessorContext>();
    expectTypeOf<ProcessorContext['interrupted']>().toEqualTypeOf<boolean>();
    expectTypeOf<ProcessorContext['signal']>().toEqualTypeOf<AbortSignal>();
    expectTypeOf<ProcessResult['success']>().toEqualTypeOf<boolean>();
    expectTypeOf<api.Outcome['status']>().toEqualTypeOf<'SUCCEED' | 'FAILED' | 'STOPPED'>();
    expectTypeOf<api.Tracker['taskStatus']>().toEqualTypeOf<api.TaskStatus>();
    expectTypeOf<api.StatusReport['status']>().toEqualTypeOf<'RUNNING' | 'SUCCEED' | 'FAILED'>();
    expectTypeOf<api.TaskRuntime['submit']>().returns.toEqualTypeOf<api.Tracker>();
    expect(new InterruptedError()).toMatchObject({ name: 'InterruptedError', code: 'ERR_INTERRUPTED' });
  });

  it('exports registerMetrics from "./prometheus"; the main entry never loads prom-client, an optional peer', () => {
    expect(Object.keys(prometheus).sort()).toEqual(['MetricsConflictError', 'defaultPrometheusOptions', 'registerMetrics']);
    expect(prometheus.defaultPrometheusOptions.prefix).toBe('light_task_tracker_');
    expectTypeOf(prometheus.registerMetrics).returns.toEqualTypeOf<prometheus.MetricsRegistration>();
    expectTypeOf<prometheus.MetricsRegistration['unregister']>().toEqualTypeOf<() => void>();
    expect(new prometheus.MetricsConflictError('m', 'taken')).toBeInstanceOf(api.TaskTrackerError);

    // In a process of its own: which modules of prom-client (CommonJS, so in require.cache) each import loads.
    const script = [
      "import { createRequire } from 'node:module';",
      "const loaded = () => Object.keys(createRequire(process.cwd() + '/').cache).filter((path) => path.includes('/prom-client/')).length;",
      "await import('light-task-tracker');",
      'const main = loaded();',
      "await import('light-task-tracker/prometheus');",
      'console.log(JSON.stringify({ main, prometheus: loaded() }));',
    ].join('\n');
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    const loaded = JSON.parse(output) as { main: number; prometheus: number };
    expect(loaded.main).toBe(0);
    expect(loaded.prometheus).toBeGreaterThan(0);

    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(pkg.exports?.['./prometheus']).toEqual({ types: './dist/src/prometheus/index.d.ts', default: './dist/src/prometheus/index.js' });
    expect(pkg.peerDependenciesMeta?.['prom-client']).toEqual({ optional: true });
    expect(pkg.dependencies).not.toHaveProperty('prom-client');
  });

  it('runs workers on one bundled attempt runner that imports the processor entry, never a copy of it', () => {
    // A processor's defineProcessor and InterruptedError must be the runner's own: one module, imported by both.
    const runner = readFileSync(join(root, 'dist/workers/attempt.js'), 'utf8');
    const imported = [...runner.matchAll(/\bfrom\s*"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1] ?? m[2]);
    expect(imported.filter((specifier) => !specifier?.startsWith('node:'))).toEqual(['./processor.js', './processor.js', './processor.js']);
    expect(runner).not.toContain("Symbol.for('light-task-tracker.processor')");
    expect(runner).not.toContain('Symbol.for("light-task-tracker.processor")');
    expect(runner).toMatch(/\n\/\/# sourceMappingURL=attempt\.js\.map\n?$/);
    const map = JSON.parse(readFileSync(join(root, 'dist/workers/attempt.js.map'), 'utf8')) as { sources: string[] };
    expect(map.sources).toEqual(expect.arrayContaining(['../../workers/attempt.ts', '../../workers/context.ts', '../../src/messages.ts']));
  });
});
