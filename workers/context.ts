// The ProcessorContext of one attempt, built inside the worker.
import { parentPort } from 'node:worker_threads';
import { delay, FLAG_RUNNING, LOG_MESSAGE, type AttemptRequest, type LogLevel } from '../src/protocol.js';
import { InterruptedError, type ProcessorContext, type ProcessorLogger, type WorkflowContext } from './processor.js';

export class AttemptContext implements ProcessorContext {
  readonly #request: AttemptRequest;
  readonly #flags: Int32Array;
  readonly #slot: number;
  // Created on first use of `signal` or `sleep`: a processor that never awaits pays nothing for it.
  #controller: AbortController | undefined;
  #released = false;
  #log: ProcessorLogger | undefined;
  // Made with the logger, on first use: a processor that never logs pays for neither.
  #logCount: { lines: number } | undefined;
  #workflow: AttemptWorkflow | undefined;

  constructor(request: AttemptRequest, flags: Int32Array) {
    this.#request = request;
    this.#flags = flags;
    this.#slot = request.slot;
  }

  get instanceId(): string { return this.#request.instanceId; }
  get jobId(): string | number | undefined { return this.#request.jobId; }
  get jobParams(): unknown { return this.#request.jobParams; }
  get instanceParams(): unknown { return this.#request.instanceParams; }
  get currentRetryTimes(): number { return this.#request.currentRetryTimes; }
  get maxRetryTimes(): number { return this.#request.maxRetryTimes; }

  get interrupted(): boolean {
    return Atomics.load(this.#flags, this.#slot) !== FLAG_RUNNING;
  }

  throwIfInterrupted(): void {
    if (Atomics.load(this.#flags, this.#slot) !== FLAG_RUNNING) throw new InterruptedError();
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      this.#watchFlag(this.#controller);
    }
    return this.#controller.signal;
  }

  sleep(ms: number): Promise<void> {
    return delay(ms, this.signal);
  }

  get log(): ProcessorLogger {
    if (this.#log === undefined) {
      this.#logCount = { lines: 0 };
      this.#log = createLogger(this.#request.instanceId, this.#request.currentRetryTimes, this.#logCount);
    }
    return this.#log;
  }

  /** Log lines posted so far. */
  get logLines(): number {
    return this.#logCount?.lines ?? 0;
  }

  get workflow(): AttemptWorkflow {
    return (this.#workflow ??= new AttemptWorkflow(this.#request.wfInstanceId));
  }

  /** What the processor appended to the workflow context, if anything. */
  get appended(): Record<string, unknown> | undefined {
    return this.#workflow?.appendedOrUndefined;
  }

  /** Ends this attempt's claim on its flag slot: the slot may serve another attempt from now on. */
  release(): void {
    this.#released = true;
    // Wake our own pending waiter so it does not linger; it sees `released` and does nothing.
    if (this.#controller !== undefined && !this.#controller.signal.aborted) Atomics.notify(this.#flags, this.#slot);
  }

  #watchFlag(controller: AbortController): void {
    const waiting = Atomics.waitAsync(this.#flags, this.#slot, FLAG_RUNNING);
    if (!waiting.async) {
      controller.abort(interruptReason());
      return;
    }
    void waiting.value.then(() => {
      if (this.#released) return;
      if (Atomics.load(this.#flags, this.#slot) !== FLAG_RUNNING) controller.abort(interruptReason());
      else this.#watchFlag(controller); // woken without an interrupt: keep watching
    });
  }
}

// The signal's reason is made by the flag watcher, whose frames say nothing useful: skip capturing a stack, which
// would cost more than the rest of the wake-up.
function interruptReason(): InterruptedError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new InterruptedError();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

class AttemptWorkflow implements WorkflowContext {
  readonly instanceId: string | number | undefined;
  #appended: Record<string, unknown> | undefined;

  constructor(instanceId: string | number | undefined) {
    this.instanceId = instanceId;
  }

  append(key: string, value: unknown): void {
    if (typeof key !== 'string' || key === '') throw new TypeError(`workflow.append: key must be a non-empty string, got ${String(key)}`);
    try {
      structuredClone(value);
    } catch (cause) {
      throw new TypeError(`workflow.append: the value for "${key}" cannot be structured-cloned`, { cause });
    }
    // A null-prototype object: a key such as "__proto__" is stored as data, never as a prototype.
    this.#appended ??= Object.create(null) as Record<string, unknown>;
    this.#appended[key] = value;
  }

  get appended(): Readonly<Record<string, unknown>> {
    return this.#appended ?? {};
  }

  get appendedOrUndefined(): Record<string, unknown> | undefined {
    return this.#appended;
  }
}

function createLogger(instanceId: string, attempt: number, count: { lines: number }): ProcessorLogger {
  const write = (level: LogLevel) => (first: unknown, second?: unknown): void => {
    let fields: Record<string, unknown> | undefined;
    let msg: string;
    if (typeof first === 'object' && first !== null) {
      fields = first as Record<string, unknown>;
      msg = second === undefined ? '' : String(second);
    } else {
      msg = String(first);
    }
    const message = { type: LOG_MESSAGE, instanceId, attempt, level, msg, fields };
    try {
      parentPort?.postMessage(message);
    } catch {
      // Fields that cannot be cloned: keep the line, describe the fields as text.
      parentPort?.postMessage({ ...message, fields: { fields: String(fields) } });
    }
    count.lines++;
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') } as ProcessorLogger;
}
