// POSTs each report as JSON to a URL, with a per-request timeout and retries with backoff.
import { checkNumber } from '../checks.js';
import { ReportDeliveryError, TimeoutError } from '../errors.js';
import { keySet, refuseUnknownOptions } from '../keys.js';
import { textOf } from '../text.js';
import type { Reporter, StatusReport } from '../report.js';
import { retry, type RetryPolicy } from '../retry.js';

export interface HttpReporterOptions {
  /** Where to POST the reports (http: or https:). */
  readonly url: string | URL;
  /**
   * The longest one request may take, connection to response (ms).
   * @default 5000
   */
  readonly timeoutMs?: number;
  /**
   * Further requests after one fails (network error, timeout, 5xx, 408 or 429). Other 4xx answers are not retried.
   * @default 2
   */
  readonly retries?: number;
  /**
   * The pause before the first retry (ms); each next pause doubles, with jitter.
   * @default 100
   */
  readonly backoffMs?: number;
  /**
   * The longest pause between two requests (ms).
   * @default 2000
   */
  readonly backoffMaxMs?: number;
  /**
   * Extra request headers, such as an authorization token.
   * @default {}
   */
  readonly headers?: Readonly<Record<string, string>>;
}

const defaults = { timeoutMs: 5000, retries: 2, backoffMs: 100, backoffMaxMs: 2000 } as const;

const OPTION_KEYS = keySet({
  url: true,
  timeoutMs: true,
  retries: true,
  backoffMs: true,
  backoffMaxMs: true,
  headers: true,
} satisfies Record<keyof HttpReporterOptions, true>);

export class HttpReporter implements Reporter {
  readonly url: URL;
  // The URL as error messages show it: without its query, which may hold a token.
  readonly #where: string;
  readonly #policy: RetryPolicy;
  readonly #headers: Headers;

  constructor(options: HttpReporterOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('HttpReporter: options must be an object');
    refuseUnknownOptions('HttpReporter', options, OPTION_KEYS);
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new TypeError(`HttpReporter: options.url must be an absolute http(s) URL, got ${String(options.url)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`HttpReporter: options.url must use http: or https:, got ${url.protocol}`);
    }
    if (url.username !== '' || url.password !== '') {
      // fetch() refuses such URLs, and error messages would carry the secret: credentials belong in `headers`.
      throw new TypeError('HttpReporter: options.url must not hold credentials; send them in options.headers');
    }
    this.url = url;
    this.#where = `${url.origin}${url.pathname}`;
    this.#policy = {
      timeoutMs: checkNumber('HttpReporter: options.timeoutMs', options.timeoutMs ?? defaults.timeoutMs, { min: 0, exclusiveMin: true, unit: 'ms' }),
      retries: checkNumber('HttpReporter: options.retries', options.retries ?? defaults.retries, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true }),
      backoffMs: checkNumber('HttpReporter: options.backoffMs', options.backoffMs ?? defaults.backoffMs, { min: 0, integer: true, unit: 'ms' }),
      backoffMaxMs: checkNumber('HttpReporter: options.backoffMaxMs', options.backoffMaxMs ?? defaults.backoffMaxMs, { min: 0, integer: true, unit: 'ms' }),
    };
    // Header names are case-insensitive: a caller's "Content-Type" must be replaced, not joined to ours.
    try {
      this.#headers = new Headers(options.headers);
    } catch (cause) {
      throw new TypeError(`HttpReporter: options.headers must map header names to values: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    this.#headers.set('content-type', 'application/json');
  }

  async report(report: StatusReport, signal?: AbortSignal): Promise<void> {
    const body = JSON.stringify(report);
    try {
      await this.#post(body, signal);
    } catch (error) {
      // Every failure, a timed-out try or the caller's abort included, reaches the caller as a ReportDeliveryError.
      if (error instanceof ReportDeliveryError) throw error;
      const why = error instanceof TimeoutError ? error.message : signal?.aborted === true ? 'aborted by the caller' : textOf(error);
      throw new ReportDeliveryError(`POST ${this.#where} failed: ${why}`, { cause: error });
    }
  }

  async #post(body: string, signal: AbortSignal | undefined): Promise<void> {
    await retry(async (trySignal) => {
      if (signal?.aborted) throw signal.reason;
      const response = await fetch(this.url, {
        method: 'POST',
        headers: this.#headers,
        body,
        // The try's own signal aborts too when the caller's does (retry() links them, and unlinks them once the
        // try ends: AbortSignal.any would leave an entry on the caller's long-lived signal for every request).
        signal: trySignal,
      }).catch((cause: unknown) => {
        throw new ReportDeliveryError(`POST ${this.#where} failed: ${cause instanceof Error ? cause.message : textOf(cause)}`, { cause });
      });
      // Drain the body so the connection can be reused.
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return;
      const error = new ReportDeliveryError(`POST ${this.#where} answered ${response.status}`);
      if (!isRetryable(response.status)) throw Object.assign(error, { retryable: false });
      throw error;
    }, { policy: this.#policy, shouldRetry: (error) => signal?.aborted !== true && isRetryableError(error), signal });
  }
}

function isRetryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

function isRetryableError(error: unknown): boolean {
  return (error as { retryable?: boolean }).retryable !== false;
}
