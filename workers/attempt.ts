// A worker's attempt runner (loaded by entry.cts): imports the registry's processors while the worker boots, then
// runs one attempt of one instance per task and answers with a plain, cloneable reply; a successful attempt's value
// travels written by ValueWriter, its moved buffers transferred with the reply.
import { createRequire } from 'node:module';
import { getHeapStatistics } from 'node:v8';
import { parentPort, threadId, workerData, type MessagePort } from 'node:worker_threads';
import {
  AttemptEnd,
  BOOTED_MESSAGE,
  DetachedBufferMark,
  forgetMarkedBuffers,
  isPromiseLike,
  markedBuffers,
  plainTransfers,
  STARTED_MESSAGE,
  textOf,
  ValueWriter,
  writeValue,
  type AttemptReply,
  type AttemptRequest,
  type StartedMessage,
  type WorkerBootData,
} from '../src/protocol.js';
import { AttemptContext } from './context.js';
import { isProcessor, type ProcessorFunction } from './processor.js';

const boot = workerData as WorkerBootData;
const flags = new Int32Array(boot.flags);
const stamps = new BigInt64Array(boot.stamps);
const heaps = boot.heaps === undefined ? undefined : new Int32Array(boot.heaps);
const MB = 2 ** 20;
const loaded = new Map<string, ProcessorFunction>();

// piscina reports a worker ready only once entry.cts hands it runAttempt, which waits for this module's top-level
// await: a spare worker is therefore warm, its processors imported. A module that fails here fails again, with its cause, when used.
await Promise.all(boot.preload.map((url) => load(url).catch(() => undefined)));
parentPort?.postMessage({ type: BOOTED_MESSAGE, threadId });

type Reply = { -readonly [K in keyof AttemptReply]: AttemptReply[K] };

const CANCELLED: AttemptReply = Object.freeze({ end: AttemptEnd.CANCELLED });

export default async function runAttempt(request: AttemptRequest): Promise<AttemptReply | object> {
  const url = boot.preload[request.processorIndex] as string;
  let process = loaded.get(url);
  let ctx: AttemptContext;
  if (process === undefined) {
    // Not imported at boot (it failed then): the attempt starts with its import.
    if (!start(request)) return CANCELLED;
    try {
      process = await load(url);
    } catch (error) {
      return { end: AttemptEnd.LOAD_FAILED, msg: textOf(error) };
    }
    ctx = new AttemptContext(request, flags);
  } else {
    // The start is stamped the moment before the processor runs: its timeout counts from there, and a processor
    // must never find its budget spent before it began.
    ctx = new AttemptContext(request, flags);
    if (!start(request)) return CANCELLED;
  }
  if (request.announce === true) {
    parentPort?.postMessage({ type: STARTED_MESSAGE, instanceId: request.instanceId, attempt: request.currentRetryTimes ?? 0, threadId } satisfies StartedMessage);
  }
  const reply: Reply = { end: AttemptEnd.THREW };
  let moved: Array<ArrayBuffer | MessagePort> | undefined;
  try {
    // A synchronous processor's result is used as it is: an await would cost a turn on every instance's round trip.
    let result = process(ctx);
    if (isPromiseLike(result)) result = await result;
    if (result === null || result === undefined) {
      reply.end = AttemptEnd.RETURNED_NULL;
    } else {
      // Each field read once: a getter runs once, and cannot answer one check and then another.
      const { success, msg } = result;
      reply.end = success === true ? AttemptEnd.SUCCEEDED : AttemptEnd.FAILED;
      if (msg !== undefined && msg !== null) reply.msg = textOf(msg);
      if (reply.end === AttemptEnd.SUCCEEDED) moved = putValue(reply, result.value);
    }
  } catch (error) {
    reply.end = AttemptEnd.THREW;
    reply.msg = textOf(error);
  } finally {
    ctx.release();
    // Marks of this attempt's buffers do not outlive it: a buffer marked and not returned has gone with the reply.
    forgetMarkedBuffers();
    // For recycleWorkers.heapUsedMb: the heap this attempt leaves, read by the pool before it gives us another.
    if (heaps !== undefined) Atomics.store(heaps, request.slot, Math.ceil(getHeapStatistics().used_heap_size / MB));
  }
  if (ctx.appended !== undefined) reply.appended = ctx.appended;
  if (ctx.messages > 0) reply.messages = ctx.messages;
  return moved === undefined ? reply : movable(reply, moved);
}

/**
 * Starts the attempt, by taking its ticket from the slot's stamp and leaving its start time there (epoch µs);
 * false if the main thread cancelled it first (the ticket is gone): it must then never run.
 */
function start(request: AttemptRequest): boolean {
  const ticket = BigInt(request.ticket);
  const startUs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
  return Atomics.compareExchange(stamps, request.slot, ticket, startUs) === ticket;
}

/**
 * Puts a successful attempt's value into its reply: a primitive as it is, anything else written by ValueWriter
 * (its marked buffers by reference). Returns what must be transferred with the reply. A value that cannot be
 * cloned turns the reply into a VALUE_NOT_CLONEABLE one instead, naming the culprit: posting it would crash the
 * worker.
 */
function putValue(reply: Reply, value: unknown): Array<ArrayBuffer | MessagePort> | undefined {
  if (value === undefined) return undefined;
  if (value === null || (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol')) {
    reply.value = value;
    return undefined;
  }
  // Plain data and whole buffers go as they are (postMessage clones them, and moves the marked ones).
  const plain = plainTransfers(value);
  if (plain !== undefined) {
    reply.value = value;
    return plain.length > 0 ? plain : undefined;
  }
  const writer = new ValueWriter();
  let bytes: Buffer;
  try {
    for (const buffer of markedBuffers()) writer.moveBuffer(buffer);
    bytes = writeValue(value, writer);
  } catch (error) {
    reply.end = AttemptEnd.VALUE_NOT_CLONEABLE;
    reply.msg = error instanceof DetachedBufferMark ? `${error.what} was moved already` : textOf(error instanceof Error ? error.message : error);
    return undefined;
  }
  if (writer.shared.length > 0) {
    // Shared memory cannot be read back by a v8 Deserializer: the value goes as it is (postMessage shares it), with
    // its marked whole buffers and ports transferred. It was just written, so it can be cloned.
    reply.value = value;
    return writer.transfer.length > 0 ? writer.transfer : undefined;
  }
  // The written bytes move too: a Buffer of their own (releaseBuffer's), unless it came from the shared pool.
  const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : Buffer.from(bytes);
  reply.valueBytes = own;
  if (writer.transfer.length > 0) reply.moved = writer.transfer;
  if (writer.sharedViews.length > 0) reply.sharedViews = writer.sharedViews;
  return [own.buffer as ArrayBuffer, ...writer.transfer];
}

let piscinaMove: ((value: object) => object) | undefined;

/** The reply as piscina's movable value: piscina posts it with `transfer` as the transfer list. */
function movable(reply: AttemptReply, transfer: Array<ArrayBuffer | MessagePort>): object {
  // piscina's own move() marks a transferable for its worker (its mark is a private symbol): loaded on first use,
  // since most workers never return a moved value.
  piscinaMove ??= (createRequire(import.meta.url)('piscina') as { move: (value: object) => object }).move;
  return piscinaMove({
    [Symbol.for('Piscina.transferable')]: transfer,
    [Symbol.for('Piscina.valueOf')]: reply,
  });
}

async function load(url: string): Promise<ProcessorFunction> {
  const module = (await import(url)) as { default?: unknown };
  if (!isProcessor(module.default)) {
    throw new TypeError(`${url} does not default-export a processor made with defineProcessor()`);
  }
  loaded.set(url, module.default.process);
  return module.default.process;
}
