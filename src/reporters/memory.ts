// Keeps every report in memory: for tests, demos, and applications that read reports themselves.
import type { Reporter, StatusReport } from '../report.js';

type Waiter = { readonly match: (report: StatusReport) => boolean; readonly resolve: (report: StatusReport) => void };

export class MemoryReporter implements Reporter {
  readonly #reports: StatusReport[] = [];
  #waiters: Waiter[] = [];

  report(report: StatusReport): void {
    this.#reports.push(report);
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.match(report)) waiter.resolve(report);
      else still.push(waiter);
    }
    this.#waiters = still;
  }

  /** Every report received, oldest first. */
  get reports(): readonly StatusReport[] {
    return this.#reports;
  }

  /** The reports of one instance, oldest first. */
  reportsOf(instanceId: string): StatusReport[] {
    return this.#reports.filter((report) => report.instanceId === instanceId);
  }

  /** Resolves with the first report, received already or later, that `match` accepts. */
  waitFor(match: (report: StatusReport) => boolean): Promise<StatusReport> {
    const seen = this.#reports.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** Forgets every report received so far. */
  clear(): void {
    this.#reports.length = 0;
  }
}
