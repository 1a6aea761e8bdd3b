// Where a worker thread's JavaScript is now, read from the main thread just before the worker is terminated. The
// process's one node:inspector session is attached to each worker from its start; a capture turns that worker's
// debugger on, pauses it, reads its call frames, then resumes it and detaches from it on every path, before the caller
// can terminate it (a worker terminated while the debugger holds it paused never exits, and then neither does the
// process).
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

/**
 * How often the pause is asked for again while it has not come, once the worker's debugger is on (ms). A request can
 * be lost: on a loaded machine, an empty loop (`for (;;);`) was seen to run on past a single one.
 */
const PAUSE_AGAIN_MS = 50;

/** The parts of the inspector protocol's messages read here. */
interface WorkerMessage {
  readonly id?: number;
  readonly method?: string;
  readonly error?: { readonly message: string };
  readonly params?: {
    readonly scriptId?: string;
    readonly url?: string;
    readonly sourceMapURL?: string;
    readonly callFrames?: readonly {
      readonly functionName: string;
      readonly location: { readonly scriptId: string; readonly lineNumber: number; readonly columnNumber: number };
    }[];
  };
}

/** A script a worker has parsed: its URL and its source map's, as the frames that run in it need them. */
interface Script {
  readonly url: string;
  readonly sourceMapURL: string;
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

/** The session attached to one worker: what is sent to it, the scripts it has parsed, its first pause. */
class Attachment {
  readonly #session: Session;
  readonly #sessionId: string;
  readonly #forget: () => void;
  readonly #scripts = new Map<string, Script>();
  #nextId = 0;
  #released = false;
  /** The id of the command that enables the debugger, once sent. */
  #enableId = 0;
  /** Called once the worker's debugger is on: its thread has taken the command in (so it is not blocked). */
  onEnabled: (() => void) | undefined;
  /** Called with the frames of the worker's pause. */
  onPaused: ((frames: PausedFrame[]) => void) | undefined;
  /** Called when there will be no pause: a command failed, or the worker has exited. */
  onFailed: ((reason: string) => void) | undefined;

  constructor(session: Session, sessionId: string, forget: () => void) {
    this.#session = session;
    this.#sessionId = sessionId;
    this.#forget = forget;
  }

  /** Sends a command to the worker's inspector; a worker that has gone makes it a no-op. */
  send(method: string): void {
    if (this.#released) return;
    const id = ++this.#nextId;
    if (method === 'Debugger.enable') this.#enableId = id;
    const message = JSON.stringify({ id, method });
    try {
      post(this.#session, 'NodeWorker.sendMessageToWorker', { sessionId: this.#sessionId, message });
    } catch {
      // The worker has exited: its detachedFromWorker event says so.
    }
  }

  /** A message from the worker's inspector: a script parsed, the pause, or a command's error. */
  receive(text: string): void {
    let message: WorkerMessage;
    try {
      message = JSON.parse(text) as WorkerMessage;
    } catch {
      return;
    }
    const { method, params } = message;
    if (method === 'Debugger.scriptParsed' && params?.scriptId !== undefined) {
      this.#scripts.set(params.scriptId, { url: params.url ?? '', sourceMapURL: params.sourceMapURL ?? '' });
    } else if (method === 'Debugger.paused' && params?.callFrames !== undefined) {
      // The frames' own `url` is deprecated and empty: each names its script by id.
      const frames = params.callFrames.map(({ functionName, location }): PausedFrame => {
        const script = this.#scripts.get(location.scriptId);
        const { lineNumber: line, columnNumber: column } = location;
        return { functionName, url: script?.url ?? '', sourceMapURL: script?.sourceMapURL ?? '', line, column };
      });
      this.onPaused?.(frames);
    } else if (message.error !== undefined) {
      this.onFailed?.(`the worker's inspector refused a command: ${message.error.message}`);
    } else if (message.id === this.#enableId) {
      this.onEnabled?.();
    }
  }

  /** The worker has exited. */
  detached(): void {
    this.#released = true;
    this.onFailed?.('the worker has exited');
  }

  /**
   * Resumes the worker and detaches from it (which turns its debugger off: a pause asked for and not yet taken is
   * then never taken): both on their way to the worker, in this order, when this returns, so ahead of a terminate()
   * that follows. Once only.
   */
  release(): void {
    if (this.#released) return;
    this.send('Debugger.resume');
    this.#released = true;
    this.#forget();
    try {
      post(this.#session, 'NodeWorker.detach', { sessionId: this.#sessionId });
    } catch {
      // Detached already: the worker has exited.
    }
  }
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
 *   its start; the capture enables the worker's debugger through it and pauses the worker, reads the pause's frames,
 *   then resumes the worker and detaches from it. A thread running JavaScript pauses within milliseconds (the request
 *   interrupts a tight loop); enabling the debugger costs the worker some tens of milliseconds.
 * - **Bounded, never rejects.** It resolves within `timeoutMs` of the call, whatever the worker does. Each reason
 *   for `undefined` is logged at debug level: the inspector is not available (a Node built without it, a permission
 *   model that denies it), the worker has exited (or exits meanwhile), it was captured before (a worker is captured
 *   once: its attachment is gone), it was not attached in time (started a moment ago), its thread did not answer in
 *   time (blocked), or it answered and did not pause (idle). The pause is asked for again every `PAUSE_AGAIN_MS`
 *   until it comes.
 * - **The worker is always left resumed and detached,** on every path, and before the promise settles: the commands
 *   that resume it and detach from it (which turns its debugger off, so that a pause asked for and not yet taken is
 *   never taken) are on their way to the worker, ahead of the caller's terminate(). This matters: `terminate()` on a
 *   worker that the debugger holds paused never settles, and the process can no longer exit. A worker paused at a
 *   breakpoint of another debugger is resumed too.
 * - **A thread that runs no JavaScript** pauses only when it next does. Blocked in a system call (a synchronous read
 *   of a pipe, `execSync`): not before the call returns, so `undefined`. Waiting for an event (an `await` that never
 *   resolves): `undefined`, unless an event comes in time, in which case the stack is where that event's JavaScript
 *   begins, often in Node's own code (`processTimers`). In `Atomics.wait`: it pauses there, and the stack shows the
 *   function that waits.
 * - **Frames.** The synchronous stack only: the functions an `await` suspended are not on it (for a loop after an
 *   `await`, the stack ends at the async function that runs it). The runtime's frames below the application's
 *   outermost frame (Node's `node:` modules, piscina, this package's worker code) are left out; with no application
 *   frame, the stack is kept whole. At most `MAX_STACK_FRAMES` lines, then one that counts the rest.
 * - **Source maps.** A frame whose script ends with `//# sourceMappingURL=` (a file next to it, or an inline data:
 *   URL; nothing else is fetched) is mapped to its original source: a TypeScript processor compiled with source maps
 *   shows its `.ts` file and line. Maps are read once per script and kept; a map not read before `timeoutMs` leaves
 *   that capture's frames unmapped.
 * - **Other sessions.** It works beside the application's own `inspector.Session` (with the NodeWorker and Debugger
 *   domains enabled, or not) and under `--inspect`, with or without a debugger client: each session attaches on its
 *   own. A call for a worker whose capture is running gets that capture's result.
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
    /** Asks for the pause again until it comes (see PAUSE_AGAIN_MS); set once the worker's debugger is on. */
    let repeat: NodeJS.Timeout | undefined;
    const finish = (stack: string | undefined, reason?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(repeat);
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
      else if (repeat === undefined) finish(undefined, `no answer from the worker's thread within ${timeoutMs} ms: it runs no JavaScript (it is blocked in a system call or in native code)`);
      else finish(undefined, `no pause within ${timeoutMs} ms: the thread runs no JavaScript now (it waits for an event)`);
    }, Math.min(timeoutMs, MAX_TIMER_MS));
    worker.once('exit', onExit);
    cancelWait = inspector.attach(threadId, (attachment) => {
      target = attachment;
      attachment.onFailed = (reason) => finish(undefined, reason);
      attachment.onPaused = (paused) => {
        attachment.release();
        if (paused.length === 0) return finish(undefined, 'the pause had no frames');
        frames = [...ownFrames(paused)];
        void mapFrames(frames).then((mapped) => finish(formatStack(mapped)));
      };
      attachment.onEnabled = () => {
        if (!settled) repeat = setInterval(() => attachment.send('Debugger.pause'), PAUSE_AGAIN_MS);
      };
      attachment.send('Debugger.enable');
      attachment.send('Debugger.pause');
    });
  });
}
