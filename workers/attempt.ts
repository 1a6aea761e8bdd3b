// A worker's attempt runner (loaded by entry.cts): runs one attempt of one instance per task and answers with a plain,
// cloneable reply; a successful attempt's value travels written by ValueWriter, its moved buffers transferred with
// the reply. Processor modules are imported on their first use in this worker (announced to the main thread, which
// bounds the wait), or while the worker boots once another worker has imported them: a module that throws, exits
// or never finishes loading fails its own instances, never the worker's boot.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { getHeapStatistics } from 'node:v8';
import { parentPort, threadId, workerData, type MessagePort } from 'node:worker_threads';
import { isPromiseLike } from '../src/async.js';
import {
  AttemptEnd,
  BOOTED_MESSAGE,
  LOADED_MESSAGE,
  LOADING_MESSAGE,
  type AttemptReply,
  type AttemptRequest,
  type LoadedMessage,
  type LoadingMessage,
  type WorkerBootData,
} from '../src/messages.js';
import { forgetMarkedBuffers, markedBuffers } from '../src/move.js';
import { FLAG_ENDED, MODULE_VERIFIED, REHEARSAL_TICKET, startStamp } from '../src/shared-memory.js';
import { textOf } from '../src/text.js';
import { outbox } from './channel.js';
import { AttemptContext, useValueOut } from './context.js';
import { isProcessor, type Processor, type StreamProcessor } from './processor.js';

const boot = workerData as WorkerBootData;
const flags = new Int32Array(boot.flags);
const stamps = new BigInt64Array(boot.stamps);
const beats = new Int32Array(boot.beats);
const verified = new Int32Array(boot.verified);
const heaps = boot.heaps === undefined ? undefined : new Int32Array(boot.heaps);
const consumed = new Int32Array(boot.consumed);
const MB = 2 ** 20;
/** Imported processors, by module URL. */
const loaded = new Map<string, Processor | StreamProcessor>();
/** Imports begun in this worker, by module URL: settled or not, each module is imported once. */
const imports = new Map<string, Promise<Processor | StreamProcessor>>();
/** Imports running now: while there are any, `process.exit()` throws (see importProcessor). */
let importsRunning = 0;
const realExit = process.exit;
const exitWhileLoading = function exitWhileLoading(code?: number | string | null): never {
  const error = new Error(`process.exit(${code ?? ''}) was called while the module loaded`);
  Error.captureStackTrace(error, exitWhileLoading); // the stack starts at the module's own call
  throw error;
} as typeof process.exit;

// Errors thrown outside the running attempt fail no instance. Each processor runs in its attempt's async context, so
// an uncaught error (or a rejection left unhandled) says whose code threw it: the running attempt's own kills the
// worker, as it would without this handler, and fails that attempt with WORKER_DIED; one thrown by code a finished
// attempt left behind (a timer, a callback: instances on one worker share it, and such code runs while the next
// instance runs), or by no attempt's code, is sent to the main thread to be logged, and the worker serves on.
const attemptScope = new AsyncLocalStorage<AttemptContext>();
// Node sets up a thread's async context tracking on its first run() with a store, which took 0.2–0.5 ms: done as the
// worker boots, not as its first attempt starts (a spare's first attempt is the instance that follows a force-stop).
attemptScope.run(Object.create(null) as AttemptContext, () => undefined);
/** The attempt whose processor runs now. */
let running: AttemptContext | undefined;
/**
 * An attempt's reply is on its way: runAttempt has returned it, and piscina posts it. A clone error there (none
 * should be possible) is piscina's to throw, in no attempt's context: the worker must die of it, or the attempt would
 * wait for a reply that never comes.
 */
let replying = false;
process.on('uncaughtException', (error: unknown, origin: string) => {
  const owner = attemptScope.getStore();
  if (owner === undefined ? replying : owner === running && !owner.released) {
    outbox.flush(); // the lines written before the error, first
    throw error;
  }
  outbox.stray(owner?.instanceId, `${origin === 'unhandledRejection' ? 'unhandled rejection: ' : ''}${errorText(error)}`);
});
// A worker that exits (process.exit() in a processor) posts the lines it holds first.
process.on('exit', () => outbox.flush());

function errorText(error: unknown): string {
  try {
    if (error instanceof Error && typeof error.stack === 'string') return error.stack;
  } catch {
    // its text, as for anything else
  }
  return textOf(error);
}

// piscina reports a worker ready only once entry.cts hands it runAttempt, which waits for `booted`: the modules
// another worker has imported are imported first, so that a spare or a replacement is warm. The wait is bounded (a
// module that awaits a connection at its top level must not hold the worker's boot), and a failure is only
// remembered, for the attempts that use the module.
// What only some attempts need (a value to write, a stream to run) is imported beside: a spare or a replacement (a
// worker that boots once processors have loaded elsewhere) waits for it, since an attempt may come the moment it is
// up; a pool's first worker does not, and its first attempt waits for it, once, if it comes first.
let valueOut: typeof import('./value-out.js') | undefined;
let stream: typeof import('./stream.js') | undefined;
const valueOutLoading = import('./value-out.js');
const streamLoading = import('./stream.js');
valueOutLoading.catch(() => undefined);
streamLoading.catch(() => undefined);
/**
 * Settles once the worker has booted. A promise, not a top-level await: Node 22's V8 aborts the whole process when a
 * worker is terminated as it starts to evaluate a module that has one (seen as close() met a replacement's boot).
 */
export const booted: Promise<void> = bootWorker();
booted.catch(() => undefined); // entry.cts reports a failure; it must not also count as unhandled before it looks

async function bootWorker(): Promise<void> {
  if (await warmUp()) {
    [valueOut, stream] = await Promise.all([valueOutLoading, streamLoading]);
    useValueOut(valueOut);
    await rehearse();
  }
  parentPort?.postMessage({ type: BOOTED_MESSAGE, threadId });
}

/** Imports the processors other workers have imported; false when there were none (the pool's first worker). */
async function warmUp(): Promise<boolean> {
  const urls = boot.preload.filter((_, index) => Atomics.load(verified, index) === MODULE_VERIFIED);
  if (urls.length === 0) return false;
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, boot.loadTimeoutMs);
  });
  await Promise.race([Promise.allSettled(urls.map((url) => importProcessor(url))), bound]);
  clearTimeout(timer);
  return true;
}

type Reply = { -readonly [K in keyof AttemptReply]: AttemptReply[K] };

const CANCELLED: AttemptReply = Object.freeze({ end: AttemptEnd.CANCELLED });

export default async function runAttempt(request: AttemptRequest): Promise<AttemptReply | object> {
  replying = false;
  const url = boot.preload[request.processorIndex] as string;
  let processor = loaded.get(url);
  if (processor === undefined) {
    // Its first use in this worker: the attempt waits for the import, which the main thread bounds (loadTimeoutMs),
    // before it starts. A cancelled attempt still waits: the import is this worker's, not the attempt's.
    parentPort?.postMessage({
      type: LOADING_MESSAGE, threadId, slot: request.slot, ticket: request.ticket, processorIndex: request.processorIndex,
    } satisfies LoadingMessage);
    try {
      processor = await importProcessor(url);
    } catch (error) {
      // The attempt ends here, started and failed: unless it was cancelled while the module loaded.
      const msg = await loadFailureText(url, error);
      replying = true;
      return start(request) ? ended(request, { end: AttemptEnd.LOAD_FAILED, msg }) : CANCELLED;
    } finally {
      parentPort?.postMessage({ type: LOADED_MESSAGE, threadId } satisfies LoadedMessage);
    }
  }
  // A stream processor runs for runtime.stream() only, and only a stream processor does (a processor of an older copy
  // of the package has no kind: it is not one).
  const kind = processor.kind === 'stream' ? 'stream' : 'run';
  if (kind !== (request.highWaterMark === undefined ? 'run' : 'stream')) {
    replying = true;
    return start(request) ? ended(request, { end: AttemptEnd.WRONG_KIND, msg: kind }) : CANCELLED;
  }
  // Awaited before the processor runs, never after: code an earlier attempt left behind must not run while this one is
  // still the worker's running attempt.
  if (valueOut === undefined) useValueOut((valueOut = await valueOutLoading));
  if (kind === 'stream') stream ??= await streamLoading;
  const process = processor.kind === 'stream' ? (stream as NonNullable<typeof stream>).streamRunner(processor.process, request, consumed) : processor.process;
  const ctx = new AttemptContext(request, flags, beats);
  const reply: Reply = { end: AttemptEnd.THREW };
  let moved: Array<ArrayBuffer | MessagePort> | undefined;
  try {
    // A synchronous processor's result is used as it is: an await would cost a turn on every instance's round trip.
    // It runs in the attempt's async context: what it leaves behind is known as its own (see the handler above).
    running = ctx;
    let result = attemptScope.run(ctx, startAndCall, request, process, ctx);
    if (result === NOT_STARTED) {
      replying = true;
      return CANCELLED;
    }
    if (isPromiseLike(result)) result = await result;
    if (result === null || result === undefined) {
      reply.end = AttemptEnd.RETURNED_NULL;
    } else {
      // Each field read once: a getter runs once, and cannot answer one check and then another.
      const { success, msg } = result;
      reply.end = success === true ? AttemptEnd.SUCCEEDED : AttemptEnd.FAILED;
      if (msg !== undefined && msg !== null) reply.msg = textOf(msg);
      if (reply.end === AttemptEnd.SUCCEEDED) {
        const put = valueOut.putValue(reply, result.value, markedBuffers);
        if (put instanceof valueOut.NotSendable) {
          // Posting it would crash the worker: the culprit is named instead.
          reply.end = AttemptEnd.VALUE_NOT_CLONEABLE;
          reply.msg = put.text;
        } else {
          moved = put;
        }
      }
    }
  } catch (error) {
    const unsendable = stream !== undefined && error instanceof stream.ChunkNotSendable;
    reply.end = unsendable ? AttemptEnd.VALUE_NOT_CLONEABLE : AttemptEnd.THREW;
    reply.msg = textOf(unsendable ? error.message : error);
  } finally {
    running = undefined;
    ctx.release();
    // An attempt cancelled before it started marked nothing, and its slot may be another attempt's by now.
    if (startedRequest === request) {
      startedRequest = undefined; // nor is the request held after its attempt
      // Marks of this attempt's buffers do not outlive it: a buffer marked and not returned has gone with the reply.
      forgetMarkedBuffers();
      // For recycleWorkers.heapUsedMb: the heap this attempt leaves, read by the pool before it gives us another.
      if (heaps !== undefined) Atomics.store(heaps, request.slot, Math.ceil(getHeapStatistics().used_heap_size / MB));
    }
  }
  if (ctx.appended !== undefined) reply.appended = ctx.appended;
  // The attempt's last lines travel inside its reply; the batches it posted before are taken in first.
  const batch = ctx.endChannel();
  if (batch !== undefined) reply.batch = batch;
  if (ctx.posted) reply.posted = true;
  replying = true;
  return ended(request, moved === undefined ? reply : movable(reply, moved));
}

/** Marks the attempt ended, its reply on its way: a force-stop decided from now on lets the reply win. */
function ended<T>(request: AttemptRequest, reply: T): T {
  Atomics.or(flags, request.slot, FLAG_ENDED);
  return reply;
}

/** The request of the last attempt startAndCall started (a worker runs one attempt at a time). */
let startedRequest: AttemptRequest | undefined;

/** What startAndCall gives for an attempt the main thread cancelled before it could start: its processor never ran. */
const NOT_STARTED = Symbol('not started');

/**
 * Starts the attempt and calls its processor, inside the attempt's async context. The start is stamped the moment
 * before the call, after everything the worker does for the attempt: its timeout counts from there.
 */
function startAndCall<R>(request: AttemptRequest, process: (ctx: AttemptContext) => R, ctx: AttemptContext): R | typeof NOT_STARTED {
  if (!start(request)) return NOT_STARTED;
  startedRequest = request;
  if (request.announce === true) outbox.started(ctx.channel);
  return process(ctx);
}

/**
 * Starts the attempt, by taking its ticket from the slot's stamp and leaving its start time there (epoch µs);
 * false if the main thread cancelled it first (the ticket is gone): it must then never run.
 */
function start(request: AttemptRequest): boolean {
  const ticket = BigInt(request.ticket);
  return Atomics.compareExchange(stamps, request.slot, ticket, startStamp()) === ticket;
}

type PiscinaTransfer = Pick<typeof import('piscina'), 'move' | 'transferableSymbol' | 'valueSymbol'>;
let piscina: PiscinaTransfer | undefined;

/**
 * The reply as piscina's Transferable (its documented `move()` of an object with `transferableSymbol` and
 * `valueSymbol`): piscina posts the reply with `transfer` as the transfer list. Loaded on first use: most workers
 * never return a moved value.
 */
function movable(reply: AttemptReply, transfer: Array<ArrayBuffer | MessagePort>): object {
  piscina ??= createRequire(import.meta.url)('piscina') as PiscinaTransfer;
  return piscina.move({ [piscina.transferableSymbol]: transfer, [piscina.valueSymbol]: reply } as never);
}

/**
 * Imports a processor module once per worker; the first import of a module marks it verified for the workers that
 * boot later. While any import runs, `process.exit()` throws instead of ending the worker: a module that exits at
 * its top level fails to load, with the code it gave, and the worker serves on.
 */
function importProcessor(url: string): Promise<Processor | StreamProcessor> {
  let pending = imports.get(url);
  if (pending !== undefined) return pending;
  if (importsRunning++ === 0) process.exit = exitWhileLoading;
  pending = (async () => {
    try {
      const module = (await import(url)) as { default?: unknown };
      if (!isProcessor(module.default)) {
        throw new TypeError(`${url} does not default-export a processor made with defineProcessor()`);
      }
      loaded.set(url, module.default);
      Atomics.store(verified, boot.preload.indexOf(url), MODULE_VERIFIED);
      return module.default;
    } finally {
      if (--importsRunning === 0) process.exit = realExit;
    }
  })();
  imports.set(url, pending);
  // Remembered for the attempts that use it; a boot that gave up waiting must not see it as unhandled.
  pending.catch(() => undefined);
  return pending;
}

/**
 * The text of a failed import: the module's URL and the error with its stack. V8 gives a syntax error no location,
 * so the file is checked with `node --check`, whose first lines name the file, the line and the column.
 */
async function loadFailureText(url: string, error: unknown): Promise<string> {
  const stack = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : textOf(error);
  const where = error instanceof SyntaxError && url.startsWith('file:') ? await syntaxErrorLocation(url) : '';
  return `${url}: ${where}${stack}`;
}

async function syntaxErrorLocation(url: string): Promise<string> {
  // Loaded for a syntax error only: a worker's boot does without them.
  const [{ execFile }, { fileURLToPath }] = await Promise.all([import('node:child_process'), import('node:url')]);
  const path = fileURLToPath(url);
  return new Promise((resolve) => {
    execFile(process.execPath, ['--check', path], { timeout: 5_000, encoding: 'utf8' }, (_error, _stdout, stderr) => {
      // "path:line\n<source line>\n<caret>\n\nSyntaxError: …": the location part, up to the blank line.
      const end = stderr.indexOf('\n\n');
      resolve(end > 0 && stderr.startsWith(path) ? `${stderr.slice(0, end)}\n` : '');
    });
  });
}

/**
 * A worker that boots once processors have loaded elsewhere (a spare, a replacement) takes its first attempt the
 * moment it is up, often the instance that follows a force-stop. V8 compiles a function on its first call, and that
 * attempt paid for compiling the attempt path: 0.35 ms of the 1.1 ms from stop() to its start on two cores. So the
 * path is run once as the worker boots, as far as the start, for an attempt that can never start (no ticket is
 * negative): it is cancelled, and touches nothing shared.
 */
async function rehearse(): Promise<void> {
  const processorIndex = boot.preload.findIndex((url) => loaded.has(url));
  try {
    if (processorIndex >= 0) await runAttempt({ slot: 0, ticket: REHEARSAL_TICKET, processorIndex, instanceId: 'rehearsal' });
  } finally {
    replying = false; // as before any attempt: an error outside one is stray
  }
}
