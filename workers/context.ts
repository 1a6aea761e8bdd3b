// The ProcessorContext of one attempt, built inside the worker. Its log lines and progress values go to the main
// thread on the worker's channel (channel.ts), named by the attempt; once the attempt has ended, whatever code it left
// behind sends through it is dropped and counted, and its flag reads as interrupted.
import { delay } from '../src/async.js';
import type { AttemptRequest, LogLevel, WorkerBatch } from '../src/messages.js';
import { FLAG_RUNNING } from '../src/shared-memory.js';
import { textOf } from '../src/text.js';
import { AttemptChannel, outbox } from './channel.js';
import { InterruptedError, type ProcessorContext, type ProcessorLogger, type WorkflowContext } from './processor.js';
import type { ValueFields } from './value-out.js';

/** The value writer's module: imported beside the worker's boot, and set before any processor runs (attempt.ts). */
let valueOut: typeof import('./value-out.js');

/** Gives the contexts the value writer, once it has been imported. */
export function useValueOut(module: typeof import('./value-out.js')): void {
  valueOut = module;
}

export class AttemptContext implements ProcessorContext {
  readonly #request: AttemptRequest;
  readonly #flags: Int32Array;
  readonly #beats: Int32Array;
  readonly #slot: number;
  // Created on first use of `signal` or `sleep`: a processor that never awaits pays nothing for it.
  #controller: AbortController | undefined;
  #released = false;
  #log: ProcessorLogger | undefined;
  // The attempt's side of the worker's channel (log lines, progress values, its start): made on first use, so a
  // processor that neither logs nor reports progress pays for none of it.
  #channel: AttemptChannel | undefined;
  #progress: ProgressSender | undefined;
  #workflow: AttemptWorkflow | undefined;

  constructor(request: AttemptRequest, flags: Int32Array, beats: Int32Array) {
    this.#request = request;
    this.#flags = flags;
    this.#beats = beats;
    this.#slot = request.slot;
  }

  get instanceId(): string { return this.#request.instanceId; }
  get jobId(): string | number | undefined { return this.#request.jobId; }
  get jobParams(): unknown { return this.#request.jobParams; }
  get instanceParams(): unknown { return this.#request.instanceParams; }
  get currentRetryTimes(): number { return this.#request.currentRetryTimes ?? 0; }
  get maxRetryTimes(): number { return this.#request.maxRetryTimes ?? 0; }

  // Once the attempt has ended its slot's flag is another attempt's: code it left behind reads it as interrupted.
  get interrupted(): boolean {
    return Atomics.load(this.#flags, this.#slot) !== FLAG_RUNNING || this.#released;
  }

  throwIfInterrupted(): void {
    if (Atomics.load(this.#flags, this.#slot) !== FLAG_RUNNING || this.#released) throw new InterruptedError();
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
    return (this.#log ??= createLogger(this.channel));
  }

  progress(value: unknown): void {
    this.heartbeat();
    (this.#progress ??= new ProgressSender(this.channel, (text) => this.log.warn(text))).set(value);
  }

  // Once the attempt has ended its slot's count is another attempt's: code it left behind beats for nothing.
  heartbeat(): void {
    if (!this.#released) Atomics.add(this.#beats, this.#slot, 1);
  }

  // Written as a chunk is, so that its marked buffers move and what cannot be sent is named, here, in the processor.
  checkpoint(state: unknown): void {
    this.heartbeat();
    const cargo: ValueFields = {};
    const transfer = valueOut.putValue(cargo, state, valueOut.marksIn);
    if (transfer instanceof valueOut.NotSendable) throw new TypeError(`a checkpoint that cannot be sent: ${transfer.text}`);
    outbox.checkpoint(this.channel, cargo, transfer);
    valueOut.forgetMoved(transfer);
  }

  get resumeFrom(): unknown {
    return this.#request.resumeFrom;
  }

  /** Whether the attempt has posted anything on the worker's channel. */
  get posted(): boolean {
    return this.#channel?.posted === true;
  }

  /** The attempt's side of the worker's channel. */
  get channel(): AttemptChannel {
    if (this.#channel === undefined) {
      this.#channel = new AttemptChannel(this.#request);
      // First used by code the attempt left behind: it has ended already.
      this.#channel.released = this.#released;
    }
    return this.#channel;
  }

  get childrenValues(): Readonly<Record<string, unknown>> | undefined {
    return this.#request.childrenValues;
  }

  get trace(): Readonly<Record<string, string>> | undefined {
    return this.#request.trace;
  }

  get workflow(): AttemptWorkflow {
    return (this.#workflow ??= new AttemptWorkflow(this.#request.wfInstanceId));
  }

  /** What the processor appended to the workflow context, if anything. */
  get appended(): Record<string, unknown> | undefined {
    return this.#workflow?.appendedOrUndefined;
  }

  /**
   * Ends the attempt: a progress value still held back is sent, and the attempt's claim on its flag slot ends (the
   * slot may serve another attempt from now on).
   */
  release(): void {
    this.#progress?.flush();
    this.#released = true;
    // Wake our own pending waiter so it does not linger; it sees `released` and does nothing.
    if (this.#controller !== undefined && !this.#controller.signal.aborted) Atomics.notify(this.#flags, this.#slot);
  }

  /** Whether the attempt has ended (`release()`). */
  get released(): boolean {
    return this.#released;
  }

  /** The attempt's last batch, for its reply (undefined when it has nothing more to say). Call after `release()`. */
  endChannel(): WorkerBatch | undefined {
    // An attempt that said nothing still carries the counts of what ended attempts said meanwhile.
    return this.#channel === undefined && !outbox.holdsCounts ? undefined : outbox.end(this.channel);
  }

  #watchFlag(controller: AbortController): void {
    // The reason is made now, while nothing waits: made on the wake-up, it cost a worker woken from sleep some 9 µs.
    const reason = interruptReason();
    const waiting = Atomics.waitAsync(this.#flags, this.#slot, FLAG_RUNNING);
    if (!waiting.async) {
      controller.abort(reason);
      return;
    }
    void waiting.value.then(() => {
      if (this.#released) return;
      if (Atomics.load(this.#flags, this.#slot) !== FLAG_RUNNING) controller.abort(reason);
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
    // The copy is what is kept: the value as it is now, which the processor may change or break afterwards (a
    // function put into it later would make the reply impossible to send).
    let copy: unknown;
    try {
      copy = structuredClone(value);
    } catch (cause) {
      throw new TypeError(`workflow.append: the value for "${key}" cannot be structured-cloned`, { cause });
    }
    // A null-prototype object: a key such as "__proto__" is stored as data, never as a prototype.
    this.#appended ??= Object.create(null) as Record<string, unknown>;
    this.#appended[key] = copy;
  }

  get appended(): Readonly<Record<string, unknown>> {
    return this.#appended ?? {};
  }

  get appendedOrUndefined(): Record<string, unknown> | undefined {
    return this.#appended;
  }
}

/** How long a progress value may be held back, at most (ms): at most one progress message per this period. */
const PROGRESS_PERIOD_MS = 10;

/**
 * Coalesces an attempt's progress values: one is sent at once when the last was sent at least PROGRESS_PERIOD_MS
 * ago, else held, and sent when the period is over (if the event loop turns by then) or when the attempt ends.
 * A processor that never yields thus sends one value per period from inside its own calls, and the latest always.
 */
class ProgressSender {
  readonly #channel: AttemptChannel;
  readonly #warn: (text: string) => void;
  #lastSent = Number.NEGATIVE_INFINITY;
  #holding = false;
  #held: unknown;
  #timer: NodeJS.Timeout | undefined;

  constructor(channel: AttemptChannel, warn: (text: string) => void) {
    this.#channel = channel;
    this.#warn = warn;
  }

  set(value: unknown): void {
    if (this.#channel.released) {
      outbox.late(); // code the attempt left behind: not held back, dropped and counted at once
      return;
    }
    const now = performance.now();
    if (now - this.#lastSent >= PROGRESS_PERIOD_MS) {
      this.#holding = false;
      this.#held = undefined;
      this.#send(value, now, true);
      return;
    }
    this.#held = value;
    this.#holding = true;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, Math.ceil(PROGRESS_PERIOD_MS - (now - this.#lastSent)));
  }

  /** Sends the value held back, if any. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#holding) return;
    const value = this.#held;
    this.#holding = false;
    this.#held = undefined;
    this.#send(value, performance.now(), false);
  }

  // A value that cannot be cloned throws to the processor's own call; one held back is dropped with a warning.
  #send(value: unknown, now: number, fromCall: boolean): void {
    try {
      outbox.progress(this.#channel, value);
    } catch (cause) {
      if (fromCall) throw new TypeError(`ctx.progress: the value cannot be cloned: ${textOf(cause)}`, { cause });
      this.#warn(`a progress value held back could not be sent (${textOf(cause)}): dropped`);
      return;
    }
    this.#lastSent = now;
  }
}

const LEVEL_INDEX: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

function createLogger(channel: AttemptChannel): ProcessorLogger {
  const write = (level: LogLevel) => {
    const index = LEVEL_INDEX[level];
    return (first: unknown, second?: unknown): void => {
      // A line at a level nothing on the main thread would take costs nothing more than this.
      if (!outbox.sends(index)) return;
      let fields: Record<string, unknown> | undefined;
      let msg: string;
      if (typeof first === 'object' && first !== null) {
        fields = first as Record<string, unknown>;
        msg = second === undefined ? '' : textOf(second);
      } else {
        msg = textOf(first);
      }
      outbox.log(channel, index, msg, fields);
    };
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') } as ProcessorLogger;
}
