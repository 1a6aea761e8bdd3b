// captureStack on bare worker threads: the stack names the function and line where the thread is, source-mapped
// where the script has a map; the worker is left running and a terminate() right after settles; a thread that runs
// no JavaScript gives undefined within the bound; it works beside the application's own inspector session, under
// --inspect, and says why it gives nothing where the inspector is denied. Then how a stack's frames are trimmed,
// written and mapped.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { captureStack } from '../dist/src/stack-capture.js';
import { MAX_STACK_FRAMES, formatStack, mapFrames, ownFrames, type PausedFrame } from '../dist/src/stack-frames.js';
import { runNode } from './support/child.js';
import { LogCapture } from './support/logs.js';

const THREAD = new URL('./fixtures/stack-thread.js', import.meta.url);
const MAPPED = new URL('./fixtures/stack-mapped.js', import.meta.url);
const CHILD = new URL('./fixtures/stack-capture-child.js', import.meta.url);
/** Long enough never to run out on a loaded machine, where an answer is certain to come. */
const AMPLE_MS = 10_000;
/** For a thread that runs no JavaScript: the capture waits this long for nothing. */
const SHORT_MS = 300;

/** The 1-based line of `file` that holds `text`. */
function lineOf(file: URL, text: string): number {
  const index = readFileSync(file, 'utf8').split('\n').findIndex((line) => line.includes(text));
  expect(index).toBeGreaterThanOrEqual(0);
  return index + 1;
}

/** A stack line `at <fn> (<url>:<line>:<column>)` as a pattern; with no `fn`, a top level's `at <url>:<line>:<column>`. */
function frame(fn: string, url: URL | string, line: number): RegExp {
  const escaped = String(url).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(fn === '' ? `^    at ${escaped}:${line}:\\d+$` : `^    at ${fn} \\(${escaped}:${line}:\\d+\\)$`);
}

const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.terminate()));
});

interface Started {
  readonly worker: Worker;
  /** The spinning loop's turns. */
  readonly turns: Int32Array;
}

/** A worker of `file` in `mode`, once it has said it is in that state. */
async function start(file: URL, mode: string, extra: Record<string, unknown> = {}): Promise<Started> {
  const turns = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(file, { workerData: { mode, turns, ...extra } });
  workers.push(worker);
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  // A loop has counted a turn: the thread is in it (a capture takes a millisecond, and could land before it).
  if (mode === 'spin' || mode === 'empty' || mode === 'guarded') await turned(turns);
  return { worker, turns };
}

/** Resolves once the loop has turned after the call: the thread runs JavaScript, no debugger holds it. */
/** Resolves once the thread has counted a turn. */
async function turned(turns: Int32Array): Promise<void> {
  while (Atomics.load(turns, 0) === 0) await Atomics.waitAsync(turns, 0, 0).value;
}

async function turnsAgain(turns: Int32Array): Promise<void> {
  const waiting = Atomics.waitAsync(turns, 0, Atomics.load(turns, 0));
  if (waiting.async) expect(await waiting.value).toBe('ok');
}

/** Terminates the worker; resolves with its exit code once its thread has exited. */
async function terminated(worker: Worker): Promise<number> {
  const index = workers.indexOf(worker);
  if (index >= 0) workers.splice(index, 1);
  return worker.terminate();
}

/** An application's own inspector session, attached to one worker: its commands answered, its pause heard. */
class AppSession {
  readonly session = new Session();
  readonly sessionId: string;
  readonly #replies = new Map<number, () => void>();
  #onPause: (() => void) | undefined;
  #nextId = 0;

  constructor(worker: Worker) {
    this.session.connect();
    let sessionId = '';
    this.session.on('NodeWorker.attachedToWorker', ({ params }) => {
      if (params.workerInfo.title.startsWith(`[worker ${worker.threadId}]`)) sessionId = params.sessionId;
    });
    this.session.on('NodeWorker.receivedMessageFromWorker', ({ params }) => {
      if (params.sessionId !== this.sessionId) return;
      const { id, method } = JSON.parse(params.message) as { id?: number; method?: string };
      if (method === 'Debugger.paused') this.#onPause?.();
      if (id !== undefined) this.#replies.get(id)?.();
    });
    this.session.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
    expect(sessionId).not.toBe('');
    this.sessionId = sessionId;
  }

  /** Sends a command to the worker; resolves on its answer. */
  send(method: string): Promise<void> {
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      this.#replies.set(id, resolve);
      this.session.post('NodeWorker.sendMessageToWorker', { sessionId: this.sessionId, message: JSON.stringify({ id, method }) });
    });
  }

  /** Pauses the worker; resolves once it has paused. */
  pause(): Promise<void> {
    const paused = new Promise<void>((resolve) => (this.#onPause = resolve));
    void this.send('Debugger.pause');
    return paused;
  }

  /** Resumes the worker (whatever happened before) and detaches, then closes the session. */
  close(): void {
    void this.send('Debugger.resume');
    this.session.post('NodeWorker.detach', { sessionId: this.sessionId });
    this.session.disconnect();
  }
}

describe('captureStack on a thread running JavaScript', () => {
  it('names the function and line of the loop, leaves out the frames below the application, and leaves the worker running', async () => {
    const { worker, turns } = await start(THREAD, 'spin');
    const stack = await captureStack(worker, { timeoutMs: AMPLE_MS });
    expect(stack).toBeDefined();
    const lines = stack!.split('\n');
    expect(lines[0]).toMatch(frame('spinForever', THREAD, lineOf(THREAD, 'function spinForever') + 1));
    // The module's top level called it; nothing of Node's own code (the worker's startup) below.
    expect(lines[1]).toMatch(frame('', THREAD, lineOf(THREAD, '  spinForever(turns);')));
    expect(lines).toHaveLength(2);
    await turnsAgain(turns);
    expect(await terminated(worker)).toBe(1);
  });

  it('captures a loop with an empty body too', async () => {
    const { worker } = await start(THREAD, 'empty');
    const stack = await captureStack(worker, { timeoutMs: AMPLE_MS });
    expect(stack!.split('\n')[0]).toMatch(frame('spinEmpty', THREAD, lineOf(THREAD, 'function spinEmpty') + 1));
    expect(await terminated(worker)).toBe(1);
  });

  it('waits for the attachment of a worker that has just started, and leaves it running', async () => {
    const turns = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(THREAD, { workerData: { mode: 'spin', turns } });
    workers.push(worker);
    const ready = new Promise((resolve) => worker.once('message', resolve));
    // Wherever its thread is then (booting, or in its loop already), the capture has a stack and lets it run on.
    expect(await captureStack(worker, { timeoutMs: AMPLE_MS })).toMatch(/^    at /);
    expect(await ready).toBe('ready');
    await turnsAgain(turns);
    expect(await terminated(worker)).toBe(1);
  });

  it('maps a frame through its script source map: a compiled TypeScript file shows its .ts file and line', async () => {
    const { worker, turns } = await start(MAPPED, 'spin');
    const stack = await captureStack(worker, { timeoutMs: AMPLE_MS });
    const source = new URL('./fixtures/stack-mapped.ts', import.meta.url);
    const [top, caller] = stack!.split('\n');
    expect(top).toMatch(frame('spinTyped', source, lineOf(source, 'for (let i = 0; ; i++)')));
    expect(caller).toMatch(frame('', source, lineOf(source, 'spinTyped((workerData')));
    // The lines differ in the compiled file: the map made them.
    expect(lineOf(MAPPED, 'spinTyped(workerData')).not.toBe(lineOf(source, 'spinTyped((workerData'));
    await turnsAgain(turns);
    expect(await terminated(worker)).toBe(1);
  });

  it('maps through an inline data: source map, its sources relative to its script', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'ltt-stack-'));
    try {
      const map = readFileSync(new URL('./fixtures/stack-mapped.js.map', import.meta.url));
      const inline = `data:application/json;charset=utf-8;base64,${map.toString('base64')}`;
      const compiled = readFileSync(MAPPED, 'utf8').replace(/sourceMappingURL=.*$/m, `sourceMappingURL=${inline}`);
      const script = join(folder, 'inline.js');
      writeFileSync(script, compiled);
      writeFileSync(join(folder, 'package.json'), '{ "type": "module" }');
      const { worker } = await start(pathToFileURL(script), 'spin');
      const stack = await captureStack(worker, { timeoutMs: AMPLE_MS });
      const source = new URL('./fixtures/stack-mapped.ts', import.meta.url);
      expect(stack!.split('\n')[0]).toMatch(frame('spinTyped', pathToFileURL(join(folder, 'stack-mapped.ts')), lineOf(source, 'for (let i = 0; ; i++)')));
      expect(await terminated(worker)).toBe(1);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('captures two workers at once, each its own; a second call for one worker meanwhile gets the same stack', async () => {
    const spinning = await start(THREAD, 'spin');
    const waiting = await start(THREAD, 'wait');
    const [first, again, other] = await Promise.all([
      captureStack(spinning.worker, { timeoutMs: AMPLE_MS }),
      captureStack(spinning.worker, { timeoutMs: AMPLE_MS }),
      captureStack(waiting.worker, { timeoutMs: AMPLE_MS }),
    ]);
    expect(first!.split('\n')[0]).toMatch(frame('spinForever', THREAD, lineOf(THREAD, 'function spinForever') + 1));
    expect(again).toBe(first);
    // A thread in Atomics.wait answers there: the stack shows the function that waits.
    expect(other!.split('\n')[0]).toMatch(frame('waitForever', THREAD, lineOf(THREAD, 'function waitForever') + 1));
    await turnsAgain(spinning.turns);
    expect(await Promise.all([terminated(spinning.worker), terminated(waiting.worker)])).toEqual([1, 1]);
  });

  it("runs none of the application's code: its Error.prepareStackTrace is not called, and it and stackTraceLimit are put back", async () => {
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const { worker } = await start(THREAD, 'guarded', { stop });
    const stack = await captureStack(worker, { timeoutMs: AMPLE_MS });
    const lines = stack!.split('\n');
    expect(lines[0]).toMatch(frame('spinUntil', THREAD, lineOf(THREAD, 'function spinUntil') + 1));
    expect(lines[1]).toMatch(frame('', THREAD, lineOf(THREAD, 'spinUntil(workerData.stop, turns)')));
    const after = new Promise((resolve) => worker.once('message', resolve));
    Atomics.store(stop, 0, 1);
    expect(await after).toEqual({ calls: 0, own: true, limit: 3 });
    await terminated(worker); // it ends by itself after its message
  });

  it('the trap it avoids: a worker the debugger holds paused does not exit on terminate() until it is resumed', async () => {
    // A bare session pauses the worker and does not resume it.
    const held = await start(THREAD, 'spin');
    const app = new AppSession(held.worker);
    try {
      await app.send('Debugger.enable');
      await app.pause();
      let exited = false;
      const exit = terminated(held.worker).then((code) => ((exited = true), code));
      // A worker terminated after it has exited, and the held one has not.
      const other = await start(THREAD, 'spin');
      expect(await terminated(other.worker)).toBe(1);
      expect(exited).toBe(false);
      void app.send('Debugger.resume');
      expect(await exit).toBe(1);
    } finally {
      // Whatever failed above, the worker must not be left paused: the terminate after the test would never settle.
      app.close();
    }
  });
});

describe('captureStack on a thread running no JavaScript', () => {
  const folder = mkdtempSync(join(tmpdir(), 'ltt-stack-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('blocked in a system call: undefined within the bound, said why; the worker then runs on, and terminates', async () => {
    const started = join(folder, 'started');
    const release = join(folder, 'release');
    execFileSync('mkfifo', [started, release]);
    const turns = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(THREAD, { workerData: { mode: 'exec', turns, started, release } });
    workers.push(worker);
    const released = new Promise((resolve) => worker.once('message', resolve));
    // The child the worker waits for has started: the thread is in the call, and runs no JavaScript until it returns.
    expect(await readFile(started, 'utf8')).toBe('started\n');
    const logs = new LogCapture();
    expect(await captureStack(worker, { timeoutMs: SHORT_MS, logger: logs.logger })).toBeUndefined();
    await logs.waitFor((line) => line.msg.startsWith('no stack captured'));
    expect(logs.lines).toEqual([
      expect.objectContaining({ level: 20, threadId: worker.threadId, msg: expect.stringMatching(/^no stack captured: no answer from the worker's thread within 300 ms/) }),
    ]);
    await writeFile(release, 'go\n');
    // It runs JavaScript again: a capture that runs late only reads where it is, and nothing held the thread.
    expect(await released).toBe('released');
    await turnsAgain(turns);
    expect(await terminated(worker)).toBe(1);
  });

  it('waiting for an event: undefined within the bound, or where it was when it ran last; left running either way', async () => {
    const { worker } = await start(THREAD, 'idle');
    const logs = new LogCapture();
    const stack = await captureStack(worker, { timeoutMs: SHORT_MS, logger: logs.logger });
    if (stack === undefined) {
      await logs.waitFor((line) => line.msg.startsWith('no stack captured'));
      // It answered from its event loop, with nothing below the capture.
      expect(logs.lines.map((line) => line.msg)).toEqual(['no stack captured: the thread runs no JavaScript now (it waits for an event)']);
    } else {
      // The thread had not gone idle yet: the main thread, woken by its 'ready', can take its CPU before it does.
      expect(stack.split('\n')[0]).toMatch(frame('idleForever', THREAD, lineOf(THREAD, 'async function idleForever') + 1));
    }
    // An event runs its JavaScript: nothing of the capture is left waiting for it.
    const pong = new Promise((resolve) => worker.once('message', resolve));
    worker.postMessage('ping');
    expect(await pong).toBe('pong');
    expect(await terminated(worker)).toBe(1);
  });

  it('an exited worker, or one captured before: undefined at once, said why', async () => {
    const { worker, turns } = await start(THREAD, 'spin');
    const logs = new LogCapture();
    expect(await captureStack(worker, { timeoutMs: AMPLE_MS, logger: logs.logger })).toBeDefined();
    expect(await captureStack(worker, { timeoutMs: AMPLE_MS, logger: logs.logger })).toBeUndefined();
    await turnsAgain(turns);
    await terminated(worker);
    expect(await captureStack(worker, { timeoutMs: AMPLE_MS, logger: logs.logger })).toBeUndefined();
    await logs.waitFor((line) => line.msg === 'no stack captured: the worker has exited');
    expect(logs.lines.map((line) => line.msg)).toEqual([
      'no stack captured: the worker was captured before (once only)',
      'no stack captured: the worker has exited',
    ]);
  });
});

describe('captureStack beside other inspector sessions', () => {
  it("works while the application's own session is attached to the worker with its debugger on, and leaves that session working", async () => {
    const { worker, turns } = await start(THREAD, 'spin');
    const app = new AppSession(worker);
    try {
      await app.send('Debugger.enable');
      const stack = await captureStack(worker, { timeoutMs: AMPLE_MS });
      expect(stack!.split('\n')[0]).toMatch(frame('spinForever', THREAD, lineOf(THREAD, 'function spinForever') + 1));
      await turnsAgain(turns);
      // The application's session still speaks to the worker: it pauses it, and resumes it.
      await app.pause();
      await app.send('Debugger.resume');
      await turnsAgain(turns);
    } finally {
      app.close();
    }
    expect(await terminated(worker)).toBe(1);
  });

  it('works in a process run with --inspect, which then exits by itself', async () => {
    const { code, stdout, stderr, timedOut } = await runNode(['--inspect=127.0.0.1:0', CHILD.pathname]);
    expect({ code, timedOut, stderr }).toMatchObject({ code: 0, timedOut: false });
    const result = JSON.parse(stdout) as { inspectorUrl: string | null; stack: string | null; reasons: string[] };
    expect(result.inspectorUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\//);
    expect(result.stack!.split('\n')[0]).toMatch(frame('spinForever', THREAD, lineOf(THREAD, 'function spinForever') + 1));
    expect(result.reasons).toEqual([]);
  });

  it('where the permission model denies the inspector: undefined, said why, and the process exits by itself', async () => {
    const permission = process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission';
    const { code, stdout, timedOut } = await runNode([permission, '--allow-fs-read=*', '--allow-worker', '--no-warnings', CHILD.pathname]);
    expect({ code, timedOut }).toEqual({ code: 0, timedOut: false });
    const result = JSON.parse(stdout) as { stack: string | null; reasons: string[] };
    expect(result.stack).toBeNull();
    expect(result.reasons).toEqual([expect.stringMatching(/^no stack captured: the inspector cannot be used \(Access to this API has been restricted/)]);
  });
});

describe('the frames of a stack', () => {
  const at = (functionName: string, url: string, line = 0, sourceMapURL = ''): PausedFrame => ({ functionName, url, sourceMapURL, line, column: 4 });
  const app = at('crunch', 'file:///app/processor.js', 9);
  const attempt = at('runAttempt', new URL('../dist/workers/attempt.js', import.meta.url).href);
  const piscina = at('onMessage', 'file:///app/node_modules/piscina/dist/worker.js');
  const tick = at('processTicksAndRejections', 'node:internal/process/task_queues');

  it("leaves out the runtime's frames below the application's, keeps those above it, and keeps a stack without it whole", () => {
    const json = at('parse', 'node:internal/json');
    expect(ownFrames([json, app, at('', 'file:///app/processor.js'), attempt, piscina, tick])).toEqual([json, app, at('', 'file:///app/processor.js')]);
    expect(ownFrames([attempt, piscina, tick])).toEqual([attempt, piscina, tick]);
  });

  it('writes V8-style lines, 1-based, and counts the frames past the limit', () => {
    expect(formatStack([app, at('', 'file:///app/main.js', 0)])).toBe('    at crunch (file:///app/processor.js:10:5)\n    at file:///app/main.js:1:5');
    const deep = formatStack(Array.from({ length: MAX_STACK_FRAMES + 3 }, () => app)).split('\n');
    expect(deep).toHaveLength(MAX_STACK_FRAMES + 1);
    expect(deep.at(-1)).toBe('    ... 3 more frames');
  });

  it('leaves a frame as it is when its map is missing, broken, or not on a file: or data: URL', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'ltt-stack-'));
    try {
      writeFileSync(join(folder, 'broken.js.map'), '{ not json');
      const script = pathToFileURL(join(folder, 'script.js')).href;
      const frames = [at('a', script, 1, 'missing.js.map'), at('b', script, 1, 'broken.js.map'), at('c', 'file:///elsewhere/x.js', 1, 'https://example.com/x.js.map')];
      expect(await mapFrames(frames)).toEqual(frames);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
