// The package as a user installs it: its entries resolve through the exports map, from outside this repo; the
// Prometheus entry is the only one that loads prom-client.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import * as api from 'light-task-tracker';
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
      'InvalidRequestError', 'InvalidRetriesError', 'InvalidTimeoutError', 'MemoryReporter', 'OutcomeReason', 'OutcomeStatus',
      'ParamsNotCloneableError', 'ParamsTooLargeError', 'ReportDeliveryError', 'RuntimeClosedError', 'SystemResult', 'TaskRuntime',
      'TaskStatus', 'TaskTrackerError', 'TimeoutError', 'Tracker', 'UnknownProcessorError', 'channels', 'defaultOptions', 'move',
    ]);
    expect(Object.isFrozen(api.TaskStatus)).toBe(true);
    expect(api.defaultOptions).toMatchObject({ maxInstances: 1024, statusReportIntervalMs: 15_000, allowForceStop: true, maxResultLength: 8096, maxParamsBytes: 16 * 1024 * 1024 });
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
});
