// Processor modules' first imports in the workers, each bounded by loadTimeoutMs: a worker announces the import its
// attempt waits for (LOADING) and its end (LOADED); an import that overruns costs its worker (stuck in the module's
// top level, or holding an import that never settles) and its attempt, and its module is not loaded again in this
// runtime.
import type { Logger } from 'pino';
import type { PooledAttempt } from './attempt.js';
import type { LoadingMessage } from './messages.js';
import type { SharedSlots } from './slots.js';

/** A processor module's first import in a worker, for the attempt in `slot` with `ticket`. */
export interface Load {
  readonly slot: number;
  readonly ticket: number;
  /** The module's index in the registry. */
  readonly index: number;
  /** The attempt waiting for it, while it is the slot's. */
  readonly attempt: PooledAttempt | undefined;
  timer: NodeJS.Timeout;
  /** The overdue check has found the attempt moved on once, and looks again one period later. */
  lookedAgain: boolean;
}

/** What the pool does with an import that overran. */
export type OnLoadOverdue = (threadId: number, load: Load, startedHere: boolean, text: string) => void;

export class ModuleLoads {
  readonly #urls: readonly string[];
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #slots: SharedSlots;
  readonly #onOverdue: OnLoadOverdue;
  // Per registry module: why it cannot be loaded in this runtime (its import hung a worker), else undefined.
  readonly #failures: Array<string | undefined>;
  // First imports under way, per worker (threadId).
  readonly #loads = new Map<number, Load>();

  constructor(urls: readonly string[], timeoutMs: number, logger: Logger, slots: SharedSlots, onOverdue: OnLoadOverdue) {
    this.#urls = urls;
    this.#timeoutMs = timeoutMs;
    this.#logger = logger;
    this.#slots = slots;
    this.#onOverdue = onOverdue;
    this.#failures = urls.map(() => undefined);
  }

  /** Why the module at `index` cannot be loaded in this runtime, else undefined. */
  failureOf(index: number): string | undefined {
    return this.#failures[index];
  }

  /** The module's URL, for the texts. */
  urlOf(index: number): string {
    return this.#urls[index] as string;
  }

  /** The import under way in worker `threadId`, if any. */
  get(threadId: number): Load | undefined {
    return this.#loads.get(threadId);
  }

  /** A worker's attempt waits for its module's first import there: the wait gets `loadTimeoutMs`. */
  begin(message: LoadingMessage, attempt: PooledAttempt | undefined): void {
    this.end(message.threadId);
    this.#logger.debug({ threadId: message.threadId, module: this.#urls[message.processorIndex] }, 'a processor module is loading');
    this.#loads.set(message.threadId, {
      slot: message.slot,
      ticket: message.ticket,
      index: message.processorIndex,
      attempt,
      timer: setTimeout(() => this.#overdue(message.threadId), this.#timeoutMs),
      lookedAgain: false,
    });
  }

  end(threadId: number): void {
    const load = this.#loads.get(threadId);
    if (load === undefined) return;
    clearTimeout(load.timer);
    this.#loads.delete(threadId);
  }

  /** Every import is forgotten (the pool is destroyed). */
  clear(): void {
    for (const threadId of [...this.#loads.keys()]) this.end(threadId);
  }

  /**
   * An import has run for `loadTimeoutMs`: its attempt is started here and fails (unless its worker started it, or it
   * was cancelled, meanwhile), and the pool terminates the worker; the module is not tried again.
   */
  #overdue(threadId: number): void {
    const load = this.#loads.get(threadId);
    if (load === undefined) return;
    const was = this.#slots.startHere(load.slot, load.ticket);
    if (was === 'other' && !load.lookedAgain) {
      // Started just now (the import's end is on its way), or cancelled and its slot taken by another attempt: the
      // end of a load that did finish arrives well within another period.
      load.lookedAgain = true;
      load.timer = setTimeout(() => this.#overdue(threadId), this.#timeoutMs);
      return;
    }
    this.end(threadId);
    const url = this.#urls[load.index];
    const text = `${url}: did not finish loading within ${this.#timeoutMs} ms`;
    this.#failures[load.index] = text;
    this.#logger.error(
      { threadId, module: url, loadTimeoutMs: this.#timeoutMs },
      'a processor module did not finish loading: its worker is terminated, and the module is not loaded again',
    );
    this.#onOverdue(threadId, load, was === 'waiting', text);
  }
}
