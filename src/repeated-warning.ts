// A warning that may come often (messages dropped, refused, late): logged at once, then at most once a period, with
// the count of what came meanwhile.
import type { Logger } from 'pino';

/** How often a warning that repeats is logged, at most (ms): the counts of what was left unsaid are in it. */
const WARN_PERIOD_MS = 1000;

/** One warning, said at most once a `WARN_PERIOD_MS`, with the count of its occurrences since it was last said. */
export class RepeatedWarning {
  #count = 0;
  #fields: Record<string, unknown> = {};
  #saidAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly logger: Logger,
    readonly level: 'warn' | 'error',
    readonly msg: string,
  ) {}

  add(count: number, fields: Record<string, unknown>): void {
    this.#count += count;
    this.#fields = fields;
    const wait = this.#saidAt + WARN_PERIOD_MS - performance.now();
    if (wait <= 0) this.#say();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#say(), wait);
      this.#timer.unref();
    }
  }

  #say(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#count === 0) return;
    this.logger[this.level]({ ...this.#fields, count: this.#count }, this.msg);
    this.#count = 0;
    this.#saidAt = performance.now();
  }

  /** Logs what is still counted, now. */
  close(): void {
    this.#say();
  }
}
