// Sends every status report of a runtime: the ticker that asks for due RUNNING reports, the RUNNING sends (one try
// each), the final ones (retried with backoff until delivered, given up, or cut off by close()'s deadline), and the
// counters of all of it.
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { isPromiseLike } from './async.js';
import { ReportDeliveryError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { Reporter, StatusReport } from './report.js';
import { retry, SignalPool, type RetryOptions, type RetryPolicy } from './retry.js';

/** Report counters since the runtime was made. */
export interface ReportCounters {
  /** Final reports delivered (on their first try or a retry). */
  reportsDelivered: number;
  /** Tries of a final report that failed and were retried. */
  reportsRetried: number;
  /** Final reports given up after `finalReportRetries` retries, or at close()'s deadline (each also logged as an error). */
  reportsLost: number;
  /** RUNNING reports whose delivery failed (logged as warnings; the next period sends a fresher one). */
  runningReportsFailed: number;
}

export class ReportSender {
  readonly counters: ReportCounters = { reportsDelivered: 0, reportsRetried: 0, reportsLost: 0, runningReportsFailed: 0 };
  readonly #reporter: Reporter;
  readonly #logger: Logger;
  readonly #policy: RetryPolicy;
  // How a RUNNING report is sent: one try, given up with the final ones.
  readonly #running: RetryOptions;
  readonly #tickMs: number;
  #ticker: NodeJS.Timeout | undefined;
  // Aborted when close()'s reportDeadlineMs passes: every final report still being delivered is given up.
  readonly #giveUp = new AbortController();
  readonly #signals = new SignalPool();

  constructor(options: ResolvedOptions, logger: Logger) {
    this.#logger = logger;
    this.#reporter = options.reporter ?? { report: (report) => logger.debug({ report }, 'status report') };
    this.#policy = {
      retries: options.finalReportRetries,
      timeoutMs: options.reportTimeoutMs,
      backoffMs: options.reportBackoffMs,
      backoffMaxMs: options.reportBackoffMaxMs,
    };
    // Every report being delivered listens to it (one listener each, removed when its try or pause ends):
    // as many as there are live instances, not a leak, so no listener-count warning.
    setMaxListeners(0, this.#giveUp.signal);
    this.#running = { policy: { ...this.#policy, retries: 0 }, signal: this.#giveUp.signal, signals: this.#signals };
    this.#tickMs = Math.min(1000, Math.max(5, options.statusReportIntervalMs / 20));
  }

  /**
   * Calls `visit(Date.now())` every period/20 (within 5–1000 ms) until `stopTicker()`: the visitor sends the RUNNING
   * reports that are due. One timer for every instance (a timer per instance would cost on every dispatch), unref'd:
   * it alone is no reason to keep the process alive.
   */
  startTicker(visit: (now: number) => void): void {
    this.#ticker = setInterval(() => visit(Date.now()), this.#tickMs).unref();
  }

  stopTicker(): void {
    clearInterval(this.#ticker);
  }

  /**
   * Sends a RUNNING report, one try within `reportTimeoutMs`: a failure is logged and counted, not retried (the next
   * period sends a fresher one). Never rejects.
   */
  running(report: StatusReport): void {
    const failed = (error: unknown): void => {
      this.counters.runningReportsFailed++;
      this.#logger.warn({ instanceId: report.instanceId, err: error }, 'RUNNING report failed');
    };
    try {
      const answer = retry((signal) => this.#reporter.report(report, signal), this.#running);
      if (isPromiseLike(answer)) Promise.resolve(answer).catch(failed);
    } catch (error) {
      failed(error);
    }
  }

  /**
   * Delivers a final report, retrying with backoff. Never rejects: a report given up is logged as an error and
   * counted. Returns undefined when the reporter took it synchronously (its tracker may then go at once).
   */
  final(report: StatusReport): Promise<void> | undefined {
    const onRetry = (error: unknown, tryNumber: number, delayMs: number): void => {
      this.counters.reportsRetried++;
      this.#logger.warn(
        { instanceId: report.instanceId, status: report.status, err: error, try: tryNumber + 1, retryInMs: delayMs },
        'final report failed: retrying',
      );
    };
    const answer = retry((signal) => this.#reporter.report(report, signal), {
      policy: this.#policy,
      onRetry,
      signal: this.#giveUp.signal,
      signals: this.#signals,
    });
    if (!isPromiseLike(answer)) {
      this.counters.reportsDelivered++;
      return undefined;
    }
    return Promise.resolve(answer).then(
      () => {
        this.counters.reportsDelivered++;
      },
      (error: unknown) => {
        this.counters.reportsLost++;
        const gaveUp = this.#giveUp.signal.aborted;
        this.#logger.error(
          { instanceId: report.instanceId, err: error, report, tries: gaveUp ? undefined : this.#policy.retries + 1 },
          gaveUp ? "final report lost: close()'s reportDeadlineMs passed" : 'final report lost: every try failed',
        );
      },
    );
  }

  /**
   * Gives up every final report still being delivered `deadlineMs` from now (their tries aborted, each logged as
   * lost), unless `until` settles first. The timer is unref'd: what keeps the process alive until then is the
   * reports themselves.
   */
  giveUpAfter(deadlineMs: number, until: Promise<unknown>): void {
    const timer = setTimeout(() => this.#giveUp.abort(new ReportDeliveryError(`runtime closed: its reportDeadlineMs (${deadlineMs} ms) has passed`)), deadlineMs).unref();
    const clear = (): void => clearTimeout(timer);
    until.then(clear, clear);
  }
}
