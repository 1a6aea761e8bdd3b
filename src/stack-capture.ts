// Where a worker thread's JavaScript is now, read from the main thread just before the worker is terminated. The
// process's one node:inspector session is attached to each worker from its start; a capture asks that worker's
// inspector to evaluate a stack capture (Runtime.evaluate), which Node runs on the worker's thread at its next
// interrupt check, on top of whatever the thread is running: the stack it gives is where the thread was. The thread is
// never paused, and the attachment is dropped before the caller can terminate the worker.
import { createRequire } from 'node:module';
import type { Session } from 'node:inspector';
import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { MAX_TIMER_MS } from './checks.js';
import { formatStack, mapFrames, ownFrames, type PausedFrame } from './stack-frames.js';
import { messageOf } from './text.js';

export interface StackCaptureOptions {
  /** How long the capture may take, in ms from the call: past it, it resolves `undefined`. 0 captures nothing. */
  readonly timeoutMs: number;
  /** Where a capture that gives no stack says why, at debug level. */
  readonly logger?: Logger;
}

/**
 * A worker's thread id in its title among the inspector's targets: `[worker <id>]` (then its name on Node 24), or
 * `Worker <id>` at the end (Node's newer form).
 */
const WORKER_TITLE = /^\[worker (\d+)\]|\bWorker (\d+)$/;

function threadIdOf(title: string): number {
  const match = WORKER_TITLE.exec(title);
  return match === null ? -1 : Number(match[1] ?? match[2]);
}

/** The most frames a capture reads (the stack shows `MAX_STACK_FRAMES` of them, and counts the rest up to this). */
const MAX_CAPTURED_FRAMES = 1000;

/**
 * What the worker evaluates: the frames below it (`captureStackTrace` leaves out this function and what it calls),
 * each `[functionName, scriptUrl, line, column, async]` (1-based), through a `prepareStackTrace` of its own, so that
 * no application code runs (a `prepareStackTrace` the application set is put back, as is `stackTraceLimit`). Written
 * to depend on nothing but the worker's `Error`.
 */
const CAPTURE_EXPRESSION = `(function lightTaskTrackerStack() {
  const E = Error, limit = E.stackTraceLimit, prepare = E.prepareStackTrace, holder = {};
  try {
    E.stackTraceLimit = ${MAX_CAPTURED_FRAMES};
    E.prepareStackTrace = (_, sites) => sites.map((s) => [s.getFunctionName() || '', s.getScriptNameOrSourceURL() || '', s.getLineNumber() || 0, s.getColumnNumber() || 0, s.isAsync() === true]);
    E.captureStackTrace(holder, lightTaskTrackerStack);
    return holder.stack;
  } finally {
    E.stackTraceLimit = limit;
    E.prepareStackTrace = prepare;
  }
})()`;

/** The answer to a command sent to a worker's inspector (the parts read here). */
interface WorkerMessage {
  readonly id?: number;
  readonly error?: { readonly message: string };
  readonly result?: {
    readonly result?: { readonly value?: unknown };
    readonly exceptionDetails?: { readonly text?: string; readonly exception?: { readonly description?: string } };
  };
}

/**
 * Posts a command on the main thread's own session, which answers it before `post` returns (the NodeWorker domain's
 * events for the workers already running come before the answer too); throws the command's error.
 */
function post(session: Session, method: string, params?: object): void {
  let failure: Error | null = null;
  session.post(method, params, (error) => (failure = error));
  if (failure !== null) throw failure;
}

/** The session attached to one worker: the capture sent to it, and its answer. */
class Attachment {
  readonly #session: Session;
  readonly #sessionId: string;
  readonly #forget: () => void;
  #released = false;
  /** Called once the worker has answered: the value the capture returned. */
  onAnswer: ((value: unknown) => void) | undefined;
  /** Called when there will be no answer with a stack: the capture failed, or the worker has exited. */
  onFailed: ((reason: string) => void) | undefined;

  constructor(session: Session, sessionId: string, forget: () => void) {
    this.#session = session;
    this.#sessionId = sessionId;
    this.#forget = forget;
  }

  /** Asks the worker's thread for its stack; a worker that has gone makes it a no-op (its detach says so). */
  capture(): void {
    if (this.#released) return;
    const message = JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression: CAPTURE_EXPRESSION, returnByValue: true, silent: true } });
    try {
      post(this.#session, 'NodeWorker.sendMessageToWorker', { sessionId: this.#sessionId, message });
    } catch {
      // The worker has exited: its detachedFromWorker event says so.
    }
  }

  /** A message from the worker's inspector: the capture's answer, or its error. */
  receive(text: string): void {
    let message: WorkerMessage;
    try {
      message = JSON.parse(text) as WorkerMessage;
    } catch {
      return;
    }
    if (message.id !== 1) return;
    if (message.error !== undefined) return this.onFailed?.(`the worker's inspector refused the capture: ${message.error.message}`);
    const thrown = message.result?.exceptionDetails;
    if (thrown !== undefined) return this.onFailed?.(`the capture threw in the worker: ${thrown.exception?.description ?? thrown.text ?? 'an exception'}`);
    this.onAnswer?.(message.result?.result?.value);
  }

  /** The worker has exited. */
  detached(): void {
    this.#released = true;
    this.onFailed?.('the worker has exited');
  }

  /** Detaches from the worker: on its way to the worker when this returns, so ahead of a terminate() that follows. Once only. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#forget();
    try {
      post(this.#session, 'NodeWorker.detach', { sessionId: this.#sessionId });
    } catch {
      // Detached already: the worker has exited.
    }
  }
}

/** The frames of the capture's answer (script frames only: not the evaluation's own, nor native builtins'); undefined for an answer of another shape. */
function framesOf(value: unknown): PausedFrame[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const frames: PausedFrame[] = [];
  for (const site of value as unknown[]) {
    if (!Array.isArray(site) || site.length !== 5) return undefined;
    const [functionName, url, line, column, isAsync] = site as [unknown, unknown, unknown, unknown, unknown];
    if (typeof functionName !== 'string' || typeof url !== 'string' || typeof line !== 'number' || typeof column !== 'number') return undefined;
    if (url === '') continue;
    frames.push({ functionName, url, sourceMapURL: '', line: Math.max(0, line - 1), column: Math.max(0, column - 1), async: isAsync === true });
  }
  return frames;
}

/**
 * The process's one main-thread session. Its NodeWorker domain is enabled once, and stays so: Node attaches it to each
 * worker this thread starts, as the worker starts, and the attachment waits there, unused, until that worker's
 * capture (or its exit). A capture then talks to its worker alone.
 *
 * The enable itself is the hazard. Node reports each worker already running from a loop over its list of this
 * thread's workers, and runs the session's JavaScript for each; a worker that starts or ends meanwhile (its news
 * comes in on that JavaScript's interrupt checks) changes the list under the loop, and the process dies of a
 * segmentation fault (in `WorkerManager::SetAutoAttach`; seen on Node 22 when the session was made after a pool's
 * first attempt, beside a force-stopped worker's teardown and its replacement's start). Hence `prepareStackCapture`,
 * before the first worker starts, when the list holds none of the runtime's workers.
 */
class WorkerInspector {
  readonly #session: Session;
  /** The attachments not yet used: session id by thread id, and back. */
  readonly #idle = new Map<number, string>();
  readonly #threadOf = new Map<string, number>();
  /** The attachments in use, by session id. */
  readonly #inUse = new Map<string, Attachment>();
  /** The captures waiting for their worker's attachment (a worker just started), by thread id. */
  readonly #waiting = new Map<number, (attachment: Attachment) => void>();

  constructor(session: Session) {
    this.#session = session;
    session.on('NodeWorker.attachedToWorker', ({ params }) => this.#attached(params.sessionId, threadIdOf(params.workerInfo.title)));
    session.on('NodeWorker.detachedFromWorker', ({ params }) => this.#detached(params.sessionId));
    session.on('NodeWorker.receivedMessageFromWorker', ({ params }) => this.#inUse.get(params.sessionId)?.receive(params.message));
    // Every worker running now is attached before this returns; each one started later, as it starts.
    post(session, 'NodeWorker.enable', { waitForDebuggerOnStart: false });
  }

  #attached(sessionId: string, threadId: number): void {
    if (threadId < 0) return; // a title this code cannot read: that worker is never captured
    const waiting = this.#waiting.get(threadId);
    if (waiting !== undefined) {
      this.#waiting.delete(threadId);
      waiting(this.#use(sessionId));
      return;
    }
    this.#idle.set(threadId, sessionId);
    this.#threadOf.set(sessionId, threadId);
  }

  #detached(sessionId: string): void {
    const threadId = this.#threadOf.get(sessionId);
    if (threadId !== undefined) {
      this.#threadOf.delete(sessionId);
      this.#idle.delete(threadId);
    }
    this.#inUse.get(sessionId)?.detached();
    this.#inUse.delete(sessionId);
  }

  #use(sessionId: string): Attachment {
    const attachment = new Attachment(this.#session, sessionId, () => this.#inUse.delete(sessionId));
    this.#inUse.set(sessionId, attachment);
    return attachment;
  }

  /**
   * Hands `use` the attachment to the worker whose thread is `threadId`: now, or once Node attaches to it (a worker
   * that has just started). Returns the cancel of that wait. An attachment is used once: a worker captured before
   * gets none.
   */
  attach(threadId: number, use: (attachment: Attachment) => void): () => void {
    const sessionId = this.#idle.get(threadId);
    if (sessionId !== undefined) {
      this.#idle.delete(threadId);
      this.#threadOf.delete(sessionId);
      use(this.#use(sessionId));
      return () => {};
    }
    this.#waiting.set(threadId, use);
    return () => {
      if (this.#waiting.get(threadId) === use) this.#waiting.delete(threadId);
    };
  }
}

/** The inspector, once made; or why this process has none. */
let made: WorkerInspector | string | undefined;

function theInspector(): WorkerInspector | string {
  if (made !== undefined) return made;
  if (!process.features.inspector) return (made = 'this Node is built without the inspector');
  try {
    // Loaded on first use: a Node built without the inspector throws on loading the module.
    const { Session } = createRequire(import.meta.url)('node:inspector') as typeof import('node:inspector');
    const session = new Session();
    session.connect();
    try {
      made = new WorkerInspector(session);
    } catch (error) {
      session.disconnect();
      throw error;
    }
  } catch (error) {
    made = `the inspector cannot be used (${messageOf(error)})`;
  }
  return made;
}

/**
 * Makes the process's inspector session now, if it can be (once per process), so that each worker started from now on
 * is attached as it starts. Call it before any worker starts: enabling the session beside workers that are starting
 * or ending can crash the process (see WorkerInspector). Without it, the first `captureStack` makes the session.
 */
export function prepareStackCapture(): void {
  theInspector();
}

/** The capture running for each worker: a second call meanwhile gets its result. */
const capturing = new WeakMap<Worker, Promise<string | undefined>>();
/** The workers captured (or being captured): each worker's attachment serves one capture. */
const captured = new WeakSet<Worker>();

/**
 * Where `worker`'s thread is now: its call stack, one `    at fn (url:line:column)` line per frame (line and column
 * 1-based, as in an error's stack; `    at url:line:column` for a module's top level or an anonymous function);
 * `undefined` when it cannot be had within `timeoutMs`. Meant for a worker about to be terminated: call
 * `worker.terminate()` once it settles.
 *
 * - **How.** The process's one `node:inspector` session (see `prepareStackCapture`) is attached to each worker from
 *   its start; the capture sends the worker a `Runtime.evaluate` of `CAPTURE_EXPRESSION`, which Node runs on the
 *   worker's thread at its next interrupt check (a tight loop has one on every turn), on top of what the thread runs,
 *   then detaches from it. It takes about a millisecond: the worker's debugger is never turned on, and the thread is
 *   never paused (a worker the debugger holds paused would not exit on terminate()).
 * - **Bounded, never rejects.** It resolves within `timeoutMs` of the call, whatever the worker does. Each reason
 *   for `undefined` is logged at debug level: the inspector is not available (a Node built without it, a permission
 *   model that denies it), the worker has exited (or exits meanwhile), it was captured before (a worker is captured
 *   once: its attachment is gone), it was not attached in time (started a moment ago), its thread did not answer in
 *   time (blocked), it answered from its event loop (idle), or the answer was not a stack (the application replaced
 *   `Error`).
 * - **The worker is always left detached,** on every path, and before the promise settles: the detach is on its way
 *   to the worker ahead of the caller's terminate(). A capture that has not run by then never runs.
 * - **A thread that runs no JavaScript** answers only when it next does. Blocked in a system call (a synchronous read
 *   of a pipe, `execSync`): not before the call returns, so `undefined`. Waiting for an event (an `await` that never
 *   resolves): it answers from its event loop, with nothing below the capture, so `undefined`. In `Atomics.wait`: it
 *   answers there, and the stack shows the function that waits.
 * - **Frames.** The stack as an error thrown there would have it: the synchronous frames, then the `async` functions
 *   awaiting them (`    at async fn (…)`), at most `MAX_CAPTURED_FRAMES` read. Native builtins (`Atomics.wait`) have no
 *   script and are left out. The runtime's frames below the application's outermost frame (Node's `node:` modules,
 *   piscina, this package's worker code) are left out; with no application frame, the stack is kept whole. At most
 *   `MAX_STACK_FRAMES` lines, then one that counts the rest.
 * - **Source maps.** A frame whose script file (a file: URL) ends with `//# sourceMappingURL=` (a file next to it, or
 *   an inline data: URL; nothing else is fetched) is mapped to its original source: a TypeScript processor compiled
 *   with source maps shows its `.ts` file and line. The comment is read from the file on disk: code a loader compiles in
 *   memory (tsx, ts-node) is shown where the compiled code is. Maps are read once per script and kept; a map not read
 *   before `timeoutMs` leaves that capture's frames unmapped.
 * - **Other sessions.** It works beside the application's own `inspector.Session` (with the NodeWorker and Debugger
 *   domains enabled, or not; a worker another debugger holds paused answers from its pause, and stays paused) and
 *   under `--inspect`, with or without a debugger client: each session attaches on its own. A call for a worker whose
 *   capture is running gets that capture's result.
 * - **Which workers.** Those started by this thread (the inspector lists a thread's own workers).
 * - **A limit of Node's.** Node 20, 22 and 24 can crash the process (abort, or a segmentation fault) when a message
 *   goes to a worker's inspector while that worker's thread is being torn down. A capture sends its messages to its
 *   worker only, before the caller terminates it; a worker whose thread ends by itself during the capture
 *   (`process.exit()`, out of memory) is the one case left.
 */
export function captureStack(worker: Worker, options: StackCaptureOptions): Promise<string | undefined> {
  const running = capturing.get(worker);
  if (running !== undefined) return running;
  const skip = (reason: string): Promise<undefined> => Promise.resolve(noStack(worker.threadId, options, reason));
  if (worker.threadId < 0) return skip('the worker has exited');
  if (captured.has(worker)) return skip('the worker was captured before (once only)');
  if (!(options.timeoutMs > 0)) return skip('the time allowed is 0');
  const inspector = theInspector();
  if (typeof inspector === 'string') return skip(inspector);
  const capture = captureOnce(worker, inspector, options);
  capturing.set(worker, capture);
  captured.add(worker);
  void capture.then(() => capturing.delete(worker));
  return capture;
}

/** Logs why there is no stack, at debug level. */
function noStack(threadId: number, { logger }: StackCaptureOptions, reason: string): undefined {
  logger?.debug({ threadId }, `no stack captured: ${reason}`);
  return undefined;
}

function captureOnce(worker: Worker, inspector: WorkerInspector, options: StackCaptureOptions): Promise<string | undefined> {
  const { threadId } = worker;
  const { timeoutMs } = options;
  return new Promise((resolve) => {
    let settled = false;
    let target: Attachment | undefined;
    let frames: PausedFrame[] | undefined;
    let cancelWait = (): void => {};
    const finish = (stack: string | undefined, reason?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cancelWait();
      worker.off('exit', onExit);
      target?.release(); // before the caller hears of it, so before its terminate()
      if (reason !== undefined) noStack(threadId, options, reason);
      resolve(stack);
    };
    const onExit = (): void => finish(undefined, 'the worker has exited');
    const timer = setTimeout(() => {
      if (frames !== undefined) finish(formatStack(frames)); // its source maps not read in time
      else if (target === undefined) finish(undefined, `the inspector has not attached to the worker within ${timeoutMs} ms`);
      else finish(undefined, `no answer from the worker's thread within ${timeoutMs} ms: it runs no JavaScript (it is blocked in a system call or in native code)`);
    }, Math.min(timeoutMs, MAX_TIMER_MS));
    worker.once('exit', onExit);
    cancelWait = inspector.attach(threadId, (attachment) => {
      target = attachment;
      attachment.onFailed = (reason) => finish(undefined, reason);
      attachment.onAnswer = (value) => {
        attachment.release();
        const all = framesOf(value);
        if (all === undefined) return finish(undefined, 'the capture gave an answer that is not a stack (the application changed Error)');
        // Nothing below the capture: it ran from the thread's event loop, which was waiting for an event.
        if (all.length === 0) return finish(undefined, 'the thread runs no JavaScript now (it waits for an event)');
        frames = [...ownFrames(all)];
        void mapFrames(frames).then((mapped) => finish(formatStack(mapped)));
      };
      attachment.capture();
    });
  });
}
