// Processor modules that cannot load: one that throws, exits, never finishes loading or cannot be parsed fails its own
// instances with PROCESSOR_LOAD_FAILED and a text that says why and where, while ready() and the other processors
// are never held; a pool whose workers cannot boot at all fails what waits for it with WORKER_BOOT_FAILED.
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { InstanceError, OutcomeReason, OutcomeStatus, WorkerBootError, type Outcome } from 'light-task-tracker';
import { runNode } from './support/child.js';
import { fixture, processors } from './support/fixtures.js';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

const broken = {
  succeed: processors.succeed,
  sleep: processors.sleep,
  throws: fixture('load-throws'),
  exits: fixture('load-exits'),
  hangs: fixture('load-hangs'),
  spins: fixture('load-spins'),
  syntax: fixture('load-syntax'),
};
const url = (name: keyof typeof broken): string => pathToFileURL(broken[name]).href;

function expectLoadFailed(outcome: Outcome, name: keyof typeof broken): void {
  expect(outcome).toMatchObject({ status: OutcomeStatus.FAILED, reason: OutcomeReason.PROCESSOR_LOAD_FAILED, attempts: 1 });
  expect(outcome.startTime).toEqual(expect.any(Number));
  expect(outcome.result.startsWith(`processor "${name}" failed to load: ${url(name)}: `)).toBe(true);
}

describe('a processor module that cannot load', () => {
  it('throws at its top level: its instances fail with the module, the error and its stack, the others run', async () => {
    const { runtime } = runtimes.make({ processors: broken });
    const outcome = await runtime.submit({ processor: 'throws', maxRetries: 2 }).done;
    expectLoadFailed(outcome, 'throws');
    expect(outcome.result).toContain('Error: this module cannot be loaded');
    expect(outcome.result).toContain(`at connect (${url('throws')}:3:9)`);
    await expect(runtime.run('succeed', 'ok')).resolves.toBeUndefined();
    await runtime.ready();
  });

  it('cannot be parsed: the text names the file and the line', async () => {
    const { runtime } = runtimes.make({ processors: broken });
    const outcome = await runtime.submit({ processor: 'syntax' }).done;
    expectLoadFailed(outcome, 'syntax');
    expect(outcome.result).toContain(`${broken.syntax}:5\nconst broken = ;`);
    expect(outcome.result).toContain("SyntaxError: Unexpected token ';'");
  });

  // Regression: a module calling process.exit() at its top level killed every worker as it booted (all processors
  // were imported at boot), piscina stopped replacing them, and run() of any processor never settled.
  it('exit-at-import-froze-the-runtime: process.exit at its top level fails its instances with the code, and its worker serves on', async () => {
    const { runtime } = runtimes.make({ processors: broken, maxThreads: 1, spareThreads: 0 });
    await runtime.ready();
    const outcome = await runtime.submit({ processor: 'exits', maxRetries: 3 }).done;
    expectLoadFailed(outcome, 'exits');
    expect(outcome.result).toContain('process.exit(3) was called while the module loaded');
    expect(outcome.result).toContain(`at ${url('exits')}:2:9`);
    expect(runtime.metrics().workersStarted).toBe(1);
    await expect(runtime.run('succeed', 'ok')).resolves.toBeUndefined();
    await runtime.ready();
    expect(runtime.threads).toBe(1);
  });

  // Regression: a module whose top level awaits forever held every worker's boot: ready() never settled, nor did any
  // instance, and a timeout never fired (it counts from the processor's start).
  it('top-level-await-froze-the-runtime: never finishing loading fails its instances after loadTimeoutMs; ready() and the others never wait for it', { timeout: 15_000 }, async () => {
    const { runtime, logs } = runtimes.make({ processors: broken, loadTimeoutMs: 1_000 });
    await runtime.ready();
    const hung = runtime.submit({ processor: 'hangs', instanceId: 'hung' });
    await logs.waitFor((line) => line.msg === 'a processor module is loading' || line.instanceId === 'hung');
    // While the module loads on one worker, another processor runs on the other, and its outcome comes first.
    const order: string[] = [];
    const other = runtime.submit({ processor: 'sleep', jobParams: { ms: 1 } });
    await Promise.all([other.done.then(() => order.push('other')), hung.done.then(() => order.push('hung'))]);
    expect(order).toEqual(['other', 'hung']);
    const outcome = await hung.done;
    expectLoadFailed(outcome, 'hangs');
    expect(outcome.result).toContain('did not finish loading within 1000 ms');
    // Not tried again in this runtime: the next instance fails at once, on no worker.
    const again = await runtime.submit({ processor: 'hangs' }).done;
    expect(again).toMatchObject({ reason: OutcomeReason.PROCESSOR_LOAD_FAILED, result: outcome.result });
    await runtime.ready();
    expect(runtime.threads).toBe(3);
  });

  it('spins at its top level: its worker is terminated after loadTimeoutMs and replaced', async () => {
    const { runtime } = runtimes.make({ processors: broken, maxThreads: 1, spareThreads: 0, loadTimeoutMs: 500 });
    await runtime.ready();
    const outcome = await runtime.submit({ processor: 'spins', timeoutMs: 100 }).done;
    expectLoadFailed(outcome, 'spins');
    expect(outcome.result).toContain('did not finish loading within 500 ms');
    await expect(runtime.run('succeed', 'ok')).resolves.toBeUndefined();
    await runtime.ready();
    expect(runtime.threads).toBe(1);
    expect(runtime.metrics().workersStarted).toBe(2);
  });

  it('a module that loaded once is imported by the workers that boot later', async () => {
    const { runtime, logs } = runtimes.make({ processors: broken, maxThreads: 1, spareThreads: 0, forceStopGraceMs: 0 });
    await runtime.run('succeed', 'first');
    // A force-stop replaces the worker; the replacement boots with `succeed` imported, and loads nothing for it.
    const stopped = runtime.submit({ processor: 'sleep', instanceId: 'sleeper' });
    await logs.waitForProcessor('sleeper', 'started');
    stopped.stop();
    await stopped.done;
    await runtime.ready();
    const loadsBefore = logs.withMessage('a processor module is loading').length;
    await runtime.run('succeed', 'second');
    expect(logs.withMessage('a processor module is loading').length).toBe(loadsBefore);
  });
});

describe('workers that cannot boot', () => {
  it('resourceLimits too small to boot: ready() rejects with WorkerBootError, instances fail WORKER_BOOT_FAILED, close() settles', async () => {
    const { runtime } = runtimes.make({ processors: broken, resourceLimits: { maxOldGenerationSizeMb: 4 } });
    const error = await runtime.ready().then(() => undefined, (reason: unknown) => reason);
    expect(error).toBeInstanceOf(WorkerBootError);
    expect(error).toMatchObject({ code: 'ERR_WORKER_BOOT_FAILED' });
    expect((error as Error).message).toMatch(/^no worker can start: a worker died while it booted/);
    const rejection = await runtime.run('succeed', 'x').catch((reason: unknown) => reason);
    expect(rejection).toBeInstanceOf(InstanceError);
    expect((rejection as InstanceError).outcome).toMatchObject({ status: OutcomeStatus.FAILED, reason: OutcomeReason.WORKER_BOOT_FAILED, attempts: 1 });
    await runtime.close();
  });

  const scratch: string[] = [];
  afterAll(async () => {
    for (const folder of scratch) await rm(folder, { recursive: true, force: true });
  });

  // Regression: when the worker entry itself could not load, ready() never settled, and a process with nothing else
  // to do exited with code 13 (an unsettled top-level await).
  it('entry-cannot-load-left-ready-pending: ready() rejects, instances fail, and the process exits on its own', { timeout: 30_000 }, async () => {
    // An install whose attempt runner is broken: the package's files, with attempt.js replaced.
    const root = fileURLToPath(new URL('../', import.meta.url));
    const folder = await mkdtemp(join(tmpdir(), 'ltt-broken-install-'));
    scratch.push(folder);
    await mkdir(join(folder, 'dist'));
    await cp(join(root, 'dist/src'), join(folder, 'dist/src'), { recursive: true });
    await cp(join(root, 'dist/workers'), join(folder, 'dist/workers'), { recursive: true });
    await cp(join(root, 'package.json'), join(folder, 'package.json'));
    await symlink(join(root, 'node_modules'), join(folder, 'node_modules'), 'dir');
    await writeFile(join(folder, 'dist/workers/attempt.js'), "throw new Error('the attempt runner is missing');\n");
    const script = join(folder, 'main.mjs');
    await writeFile(script, `
      import { TaskRuntime } from './dist/src/index.js';
      const runtime = new TaskRuntime({ processors: { succeed: ${JSON.stringify(processors.succeed)} }, maxThreads: 1 });
      const ready = await runtime.ready().then(() => 'resolved', (error) => error.code + ' ' + error.message.split('\\n')[0]);
      const run = await runtime.run('succeed', 'x').then(() => 'resolved', (error) => error.outcome.reason);
      await runtime.close();
      console.log(JSON.stringify({ ready, run }));
    `);
    const child = await runNode([script]);
    expect(child.code).toBe(0);
    expect(JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '')).toEqual({
      ready: 'ERR_WORKER_BOOT_FAILED no worker can start: the worker entry cannot be loaded: Error: the attempt runner is missing',
      run: 'WORKER_BOOT_FAILED',
    });
  });
});
