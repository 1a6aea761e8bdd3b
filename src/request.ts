// What a caller submits, and the checks that refuse a bad request before anything is built.
import { nanoid } from 'nanoid';
import {
  InvalidRequestError,
  InvalidRetriesError,
  InvalidTimeoutError,
  ParamsNotCloneableError,
  UnknownProcessorError,
} from './errors.js';
import type { ProcessorRegistry } from './registry.js';

export interface SubmitRequest {
  /** The processor's registry name. Never a path or URL: only registered modules are loaded. */
  readonly processor: string;
  /**
   * This instance's id, unique among the runtime's live instances.
   * @default a fresh nanoid
   */
  readonly instanceId?: string;
  /** The job this instance belongs to; passed to the processor and written into reports. */
  readonly jobId?: string | number;
  /** The job's parameters. Structured-cloned at submit: later changes by the caller are not seen. */
  readonly jobParams?: unknown;
  /** This instance's parameters. Structured-cloned at submit, like `jobParams`. */
  readonly instanceParams?: unknown;
  /**
   * The longest all attempts together may run, from the first start (ms). A positive finite number,
   * at most 2^31-1. On expiry the processor is interrupted, then force-stopped after the grace.
   * @default no timeout
   */
  readonly timeoutMs?: number;
  /**
   * Further attempts after a failed one; none after a timeout or a stop. A whole number ≥ 0.
   * @default 0
   */
  readonly maxRetries?: number;
  /** The workflow instance this instance belongs to: its final report then carries the appended workflow context. */
  readonly wfInstanceId?: string | number;
  /** Aborting it stops the instance, as `tracker.stop()` does. */
  readonly signal?: AbortSignal;
}

/** A request that passed every check, with its params snapshotted. */
export interface AcceptedRequest {
  /** The processor's index in the registry. */
  readonly processor: number;
  readonly instanceId: string;
  readonly jobId: string | number | undefined;
  readonly jobParams: unknown;
  readonly instanceParams: unknown;
  readonly timeoutMs: number | undefined;
  readonly maxRetries: number;
  readonly wfInstanceId: string | number | undefined;
  readonly signal: AbortSignal | undefined;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export function acceptRequest(request: SubmitRequest, registry: ProcessorRegistry): AcceptedRequest {
  if (typeof request !== 'object' || request === null) {
    throw new InvalidRequestError('request', `must be an object, got ${request === null ? 'null' : typeof request}`);
  }
  const processor = typeof request.processor === 'string' ? registry.indexOf.get(request.processor) : undefined;
  if (processor === undefined) throw new UnknownProcessorError(request.processor);

  const { instanceId, jobId, wfInstanceId, timeoutMs, maxRetries, signal } = request;
  if (instanceId !== undefined && (typeof instanceId !== 'string' || instanceId === '')) {
    throw new InvalidRequestError('instanceId', `must be a non-empty string, got ${String(instanceId)}`);
  }
  if (jobId !== undefined && !isId(jobId)) throw new InvalidRequestError('jobId', `must be a string or a finite number, got ${String(jobId)}`);
  if (wfInstanceId !== undefined && !isId(wfInstanceId)) {
    throw new InvalidRequestError('wfInstanceId', `must be a string or a finite number, got ${String(wfInstanceId)}`);
  }
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || timeoutMs > MAX_TIMER_MS)) {
    throw new InvalidTimeoutError(timeoutMs);
  }
  if (maxRetries !== undefined && (typeof maxRetries !== 'number' || !Number.isSafeInteger(maxRetries) || maxRetries < 0)) {
    throw new InvalidRetriesError(maxRetries);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidRequestError('signal', 'must be an AbortSignal');
  }
  return {
    processor,
    instanceId: instanceId ?? nanoid(),
    jobId,
    jobParams: snapshot('jobParams', request.jobParams),
    instanceParams: snapshot('instanceParams', request.instanceParams),
    timeoutMs,
    maxRetries: maxRetries ?? 0,
    wfInstanceId,
    signal,
  };
}

function isId(value: unknown): boolean {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

// Primitives travel as they are; an object is cloned once here, which both proves it can reach a worker
// and freezes what the job will see.
function snapshot(field: 'jobParams' | 'instanceParams', value: unknown): unknown {
  if (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol') return value;
  if (value === null) return value;
  try {
    return structuredClone(value);
  } catch (cause) {
    throw new ParamsNotCloneableError(field, cause);
  }
}
