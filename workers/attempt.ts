// A worker's attempt runner (loaded by entry.cts): imports the registry's processors while the worker boots, then
// runs one attempt of one instance per task and answers with a plain, cloneable reply.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { AttemptEnd, BOOTED_MESSAGE, isPromiseLike, textOf, type AttemptReply, type AttemptRequest, type WorkerBootData } from '../src/protocol.js';
import { AttemptContext } from './context.js';
import { isProcessor, type ProcessorFunction } from './processor.js';

const boot = workerData as WorkerBootData;
const flags = new Int32Array(boot.flags);
const loaded = new Map<string, ProcessorFunction>();

// piscina reports a worker ready only once entry.cts hands it runAttempt, which waits for this module's top-level
// await: a spare worker is therefore warm, its processors imported. A module that fails here fails again, with its cause, when used.
await Promise.all(boot.preload.map((url) => load(url).catch(() => undefined)));
parentPort?.postMessage({ type: BOOTED_MESSAGE, threadId });

export default async function runAttempt(request: AttemptRequest): Promise<AttemptReply> {
  const url = boot.preload[request.processorIndex] as string;
  let process = loaded.get(url);
  if (process === undefined) {
    try {
      process = await load(url);
    } catch (error) {
      return { end: AttemptEnd.LOAD_FAILED, msg: textOf(error) };
    }
  }
  const ctx = new AttemptContext(request, flags);
  let end: AttemptEnd;
  let msg = '';
  try {
    // A synchronous processor's result is used as it is: an await would cost a turn on every instance's round trip.
    let result = process(ctx);
    if (isPromiseLike(result)) result = await result;
    if (result === null || result === undefined) {
      end = AttemptEnd.RETURNED_NULL;
    } else {
      end = result.success === true ? AttemptEnd.SUCCEEDED : AttemptEnd.FAILED;
      if (result.msg !== undefined && result.msg !== null) msg = textOf(result.msg);
    }
  } catch (error) {
    end = AttemptEnd.THREW;
    msg = textOf(error);
  } finally {
    ctx.release();
  }
  const reply: { -readonly [K in keyof AttemptReply]: AttemptReply[K] } = { end };
  if (msg !== '') reply.msg = msg;
  if (ctx.appended !== undefined) reply.appended = ctx.appended;
  if (ctx.logLines > 0) reply.logLines = ctx.logLines;
  return reply;
}

async function load(url: string): Promise<ProcessorFunction> {
  const module = (await import(url)) as { default?: unknown };
  if (!isProcessor(module.default)) {
    throw new TypeError(`${url} does not default-export a processor made with defineProcessor()`);
  }
  loaded.set(url, module.default.process);
  return module.default.process;
}
