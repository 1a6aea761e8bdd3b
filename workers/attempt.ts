// A worker's attempt runner (loaded by entry.cts): imports the registry's processors while the worker boots, then
// runs one attempt of one instance per task and answers with a plain, cloneable reply.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { AttemptEnd, BOOTED_MESSAGE, type AttemptPayload, type AttemptReply, type WorkerBootData } from '../src/protocol.js';
import { AttemptContext } from './context.js';
import { isProcessor, type ProcessorFunction } from './processor.js';

const boot = workerData as WorkerBootData;
const flags = new Int32Array(boot.flags);
const loaded = new Map<string, ProcessorFunction>();

// piscina reports a worker ready only once entry.cts hands it runAttempt, which waits for this module's top-level
// await: a spare worker is therefore warm, its processors imported. A module that fails here fails again, with its cause, when used.
await Promise.all(boot.preload.map((url) => load(url).catch(() => undefined)));
parentPort?.postMessage({ type: BOOTED_MESSAGE, threadId });

export default async function runAttempt(payload: AttemptPayload): Promise<AttemptReply> {
  const url = boot.preload[payload[1]] as string;
  let process = loaded.get(url);
  if (process === undefined) {
    try {
      process = await load(url);
    } catch (error) {
      return [AttemptEnd.LOAD_FAILED, false, safeString(error), false, undefined, 0];
    }
  }
  const ctx = new AttemptContext(payload, flags);
  try {
    // A synchronous processor's result is used as it is: an await would cost a turn on every instance's round trip.
    let result = process(ctx);
    if (isPromise(result)) result = await result;
    if (result === null || result === undefined) {
      return [AttemptEnd.RETURNED_NULL, false, 'Processor return null', ctx.interrupted, ctx.appended, ctx.logLines];
    }
    return [AttemptEnd.RETURNED, result.success === true, messageOf(result.msg), ctx.interrupted, ctx.appended, ctx.logLines];
  } catch (error) {
    return [AttemptEnd.THREW, false, safeString(error), ctx.interrupted, ctx.appended, ctx.logLines];
  } finally {
    ctx.release();
  }
}

async function load(url: string): Promise<ProcessorFunction> {
  const module = (await import(url)) as { default?: unknown };
  if (!isProcessor(module.default)) {
    throw new TypeError(`${url} does not default-export a processor made with defineProcessor()`);
  }
  loaded.set(url, module.default.process);
  return module.default.process;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}


function messageOf(msg: unknown): string {
  if (msg === undefined || msg === null) return '';
  return typeof msg === 'string' ? msg : safeString(msg);
}

// For an error this is its own text, "Name: message", as Java's Throwable.toString().
function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
