// What crosses to and from an instance's workers: each attempt's fields (those the instance has: a field left out is
// not copied across), its retry count, trace context and params (moved with the first attempt); and the value of its
// reply, or of a stream's chunk, read back.
import type { MessagePort } from 'node:worker_threads';
import { channels, type SubmitMessage } from './channels.js';
import type { AttemptFields, Rescue } from './pool-options.js';
import { AttemptEnd, type AttemptReply, type ChunkCargo } from './messages.js';
import type { Params } from './params.js';
import type { AcceptedRequest } from './request.js';
import { textOf } from './text.js';
import { readValue } from './value-codec.js';

type MutableFields = { -readonly [K in keyof AttemptFields]: AttemptFields[K] };

/** One attempt's fields, what goes with them, and what replaces them if the caller's buffers cannot go at once. */
export interface AttemptCargo {
  readonly fields: AttemptFields;
  readonly transfer: ReadonlyArray<ArrayBuffer | MessagePort> | undefined;
  readonly rescue: Rescue | undefined;
}

/**
 * The fields of attempt `number` (0 for the first) of the instance `request`, resuming from `resumeFrom`;
 * `highWaterMark` for an instance of `runtime.stream()` only.
 */
export function attemptCargo(
  request: AcceptedRequest,
  number: number,
  trace: Record<string, string> | undefined,
  resumeFrom: unknown,
  highWaterMark?: number,
): AttemptCargo {
  const fields: MutableFields = { processorIndex: request.processorIndex, instanceId: request.instanceId };
  // Fields at their default (0), and those the instance does not have, are left out: each key is copied to the worker
  // on every attempt.
  if (number > 0) fields.currentRetryTimes = number;
  if (request.maxRetries > 0) fields.maxRetryTimes = request.maxRetries;
  if (request.jobId !== undefined) fields.jobId = request.jobId;
  if (request.wfInstanceId !== undefined) fields.wfInstanceId = request.wfInstanceId;
  if (trace !== undefined) fields.trace = trace;
  if (resumeFrom !== undefined) fields.resumeFrom = resumeFrom;
  if (channels.start.hasSubscribers) fields.announce = true;
  if (highWaterMark !== undefined) fields.highWaterMark = highWaterMark;
  // Moved params go with the first attempt; an instance with retries holds them in shared memory instead.
  const taken = request.params.take();
  putParams(fields, taken.params);
  const rescue = taken.rescue;
  return {
    fields,
    transfer: taken.transfer.length > 0 ? taken.transfer : undefined,
    rescue: rescue === undefined ? undefined : () => {
      const again = rescue();
      return { request: putParams({ ...fields }, again.params), transfer: again.transfer };
    },
  };
}

/** Puts the params an instance has into its attempt's fields (a key left out is not copied across). */
function putParams(fields: MutableFields, params: Params): MutableFields {
  if (params.jobParams !== undefined) fields.jobParams = params.jobParams;
  if (params.instanceParams !== undefined) fields.instanceParams = params.instanceParams;
  if (params.childrenValues !== undefined) fields.childrenValues = params.childrenValues;
  return fields;
}

/**
 * Publishes an instance's submit; returns the trace context a subscriber put in (sent with every attempt), or
 * undefined when none did.
 */
export function publishSubmit(request: AcceptedRequest, time: number): Record<string, string> | undefined {
  const message: SubmitMessage = {
    instanceId: request.instanceId,
    processor: request.processorName,
    attempt: 0,
    time,
    trace: {},
    timeoutMs: request.timeoutMs,
    maxRetries: request.maxRetries,
  };
  channels.submit.publish(message);
  const entries = Object.entries(message.trace).filter(([, value]) => typeof value === 'string');
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

/**
 * How an attempt's reply ended, its text, and (with `keepValue`, when it succeeded) its value, read back. A value that
 * cannot be read makes it a VALUE_NOT_CLONEABLE end.
 */
export function readReply(reply: AttemptReply, keepValue: boolean): { end: AttemptEnd; text: string; value: unknown } {
  const text = reply.msg ?? '';
  if (reply.end !== AttemptEnd.SUCCEEDED || !keepValue) return { end: reply.end, text, value: undefined };
  try {
    return { end: reply.end, text, value: readCargo(reply) };
  } catch (error) {
    return { end: AttemptEnd.VALUE_NOT_CLONEABLE, text: textOf(error instanceof Error ? error.message : error), value: undefined };
  }
}

/** A value as it crossed (a reply's, a chunk's), read back: throws when it cannot be. */
export function readCargo(cargo: ChunkCargo): unknown {
  return cargo.valueBytes === undefined ? cargo.value : readValue(cargo.valueBytes, cargo.moved, cargo.sharedViews);
}
