// HttpReporter against a real node:http server on 127.0.0.1: delivery, retries, timeouts, aborts, validation,
// and a runtime whose final reports go over HTTP. Every wait is on a server-side event or a promise, never a sleep.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, test } from 'vitest';
import { HttpReporter, ReportDeliveryError, TaskTrackerError, type StatusReport } from 'light-task-tracker';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

/** What the server answers to its nth request (1-based): a status code, or 'hang' to never answer. */
type Answer = (n: number) => number | 'hang';

interface SeenRequest {
  readonly n: number;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  readonly body: Record<string, unknown>;
  /** performance.now() when the request arrived. */
  readonly at: number;
  /** Resolves when the exchange is over: the answer was sent, or the client tore the connection down. */
  readonly closed: Promise<{ answered: boolean }>;
}

class ReportServer {
  readonly requests: SeenRequest[] = [];
  readonly #server: Server;
  readonly #waiters: Array<{ n: number; resolve: (request: SeenRequest) => void }> = [];
  #url = '';

  constructor(answer: Answer) {
    this.#server = createServer((req, res) => {
      const at = performance.now();
      const closed = new Promise<{ answered: boolean }>((resolve) => res.on('close', () => resolve({ answered: res.writableFinished })));
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const n = this.requests.length + 1;
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          body = {};
        }
        const seen: SeenRequest = { n, method: req.method, path: req.url, headers: req.headers, text, body, at, closed };
        this.requests.push(seen);
        for (const waiter of this.#waiters.filter((w) => w.n === n)) waiter.resolve(seen);
        const status = answer(n);
        if (status === 'hang') return;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(`answer ${status}`);
      });
    });
  }

  get url(): string {
    return this.#url;
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = this.#server.address() as AddressInfo;
    this.#url = `http://127.0.0.1:${port}/reports`;
    return this;
  }

  /** Resolves when the nth request (1-based) has arrived in full. */
  nth(n: number): Promise<SeenRequest> {
    const seen = this.requests[n - 1];
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

const servers: ReportServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

function startServer(answer: Answer): Promise<ReportServer> {
  const server = new ReportServer(answer);
  servers.push(server);
  return server.listen();
}

/** Answers the statuses in order, then the last one again and again. */
function sequence(...statuses: Array<number | 'hang'>): Answer {
  return (n) => statuses[Math.min(n, statuses.length) - 1] as number | 'hang';
}

const REPORT_FIELDS = [
  'instanceId',
  'jobId',
  'wfInstanceId',
  'status',
  'result',
  'triggerTime',
  'startTime',
  'endTime',
  'reportTime',
  'sourceAddress',
  'totalTaskNum',
  'succeedTaskNum',
  'failedTaskNum',
  'appendedWfContext',
].sort();

function makeReport(overrides: Partial<StatusReport> = {}): StatusReport {
  return {
    instanceId: 'inst-1',
    jobId: 7,
    wfInstanceId: 'wf-9',
    status: 'SUCCEED',
    result: 'hello world',
    triggerTime: 1_700_000_000_000,
    startTime: 1_700_000_000_010,
    endTime: 1_700_000_000_020,
    reportTime: 1_700_000_000_021,
    sourceAddress: 'host-a:123',
    totalTaskNum: 1,
    succeedTaskNum: 1,
    failedTaskNum: 0,
    appendedWfContext: { key: 'value', nested: { n: 1 } },
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; cause?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; cause?: unknown };
  }
  throw new Error('expected the call to reject, but it resolved');
}

describe('HttpReporter: delivery', () => {
  test('POSTs the report as JSON with content-type application/json and the custom headers', async () => {
    const server = await startServer(() => 200);
    const reporter = new HttpReporter({ url: server.url, headers: { authorization: 'Bearer s3cret', 'X-Tracker': 'tt-1' } });
    const report = makeReport();

    await reporter.report(report);

    expect(server.requests).toHaveLength(1);
    const [seen] = server.requests as [SeenRequest];
    expect(seen.method).toBe('POST');
    expect(seen.path).toBe('/reports');
    expect(seen.headers['content-type']).toBe('application/json');
    expect(seen.headers.authorization).toBe('Bearer s3cret');
    expect(seen.headers['x-tracker']).toBe('tt-1');
    expect(Object.keys(seen.body).sort()).toEqual(REPORT_FIELDS);
    expect(seen.body).toEqual(report);
  });

  test('undefined report fields are left out of the JSON, as JSON.stringify does', async () => {
    const server = await startServer(() => 200);
    const report = makeReport({ jobId: undefined, wfInstanceId: undefined, appendedWfContext: undefined, status: 'RUNNING', result: '', endTime: null });

    await new HttpReporter({ url: server.url }).report(report);

    const seen = await server.nth(1);
    expect(seen.body).toEqual(JSON.parse(JSON.stringify(report)));
    expect(Object.keys(seen.body).sort()).toEqual(REPORT_FIELDS.filter((key) => !['jobId', 'wfInstanceId', 'appendedWfContext'].includes(key)));
    expect(seen.body.endTime).toBeNull();
  });

  test("a caller's Content-Type header of another case is replaced by application/json, not joined to it", async () => {
    const server = await startServer(() => 200);
    await new HttpReporter({ url: server.url, headers: { 'Content-Type': 'text/plain' } }).report(makeReport());
    const seen = await server.nth(1);
    expect(seen.headers['content-type']).toBe('application/json');
  });

  test('accepts the url as a URL object', async () => {
    const server = await startServer(() => 204);
    const reporter = new HttpReporter({ url: new URL(server.url) });
    expect(reporter.url.href).toBe(server.url);
    await reporter.report(makeReport());
    expect(server.requests).toHaveLength(1);
  });
});

describe('HttpReporter: retries', () => {
  test('500 then 503 are retried with growing pauses; the call resolves once the server answers 200', async () => {
    const server = await startServer(sequence(500, 503, 200));
    const backoffMs = 40;
    const reporter = new HttpReporter({ url: server.url, retries: 5, backoffMs, backoffMaxMs: 1000, timeoutMs: 5000 });
    const report = makeReport();

    await reporter.report(report);

    // The call resolved on the 200: exactly three requests, none after it.
    expect(server.requests).toHaveLength(3);
    for (const seen of server.requests) expect(seen.body).toEqual(report);
    const [first, second, third] = server.requests as [SeenRequest, SeenRequest, SeenRequest];
    // Equal jitter: the pause before retry k is at least half of backoffMs * 2^(k-1). Allow 2 ms of timer slack.
    expect(second.at - first.at).toBeGreaterThanOrEqual(backoffMs / 2 - 2);
    expect(third.at - second.at).toBeGreaterThanOrEqual(backoffMs - 2);
  });

  test.each([408, 429, 502])('%i is retried', async (status) => {
    const server = await startServer(sequence(status, 200));
    await new HttpReporter({ url: server.url, retries: 3, backoffMs: 1 }).report(makeReport());
    expect(server.requests).toHaveLength(2);
  });

  test('gives up after `retries` retries of 5xx answers and rejects with the last answer', async () => {
    const server = await startServer(() => 500);
    const error = await rejection(new HttpReporter({ url: server.url, retries: 2, backoffMs: 1 }).report(makeReport()));
    expect(error).toBeInstanceOf(ReportDeliveryError);
    expect(error.code).toBe('ERR_REPORT_DELIVERY');
    expect(error.message).toMatch(/answered 500/);
    expect(server.requests).toHaveLength(3);
  });

  test.each([400, 404, 422])('%i is not retried: the call rejects with a ReportDeliveryError after one request', async (status) => {
    const server = await startServer(sequence(status, 200));
    const reporter = new HttpReporter({ url: server.url, retries: 5, backoffMs: 1 });

    const error = await rejection(reporter.report(makeReport()));

    expect(error).toBeInstanceOf(ReportDeliveryError);
    expect(error).toBeInstanceOf(TaskTrackerError);
    expect(error.code).toBe('ERR_REPORT_DELIVERY');
    expect(error.message).toContain(`answered ${status}`);
    // The call has settled, so the retry loop is over: no request can follow.
    expect(server.requests).toHaveLength(1);
  });

  test('a network error (nothing listening) is retried, then rejects with a ReportDeliveryError', async () => {
    const server = await startServer(() => 200);
    const url = server.url;
    await server.close();
    const error = await rejection(new HttpReporter({ url, retries: 1, backoffMs: 1, timeoutMs: 2000 }).report(makeReport()));
    expect(error).toBeInstanceOf(ReportDeliveryError);
    expect(error.message).toContain(`POST ${url} failed`);
  });
});

describe('HttpReporter: timeouts', () => {
  test('a server that never answers: every request times out after timeoutMs, retries are spent, the call rejects', async () => {
    const server = await startServer(() => 'hang');
    const timeoutMs = 150;
    const retries = 2;
    const reporter = new HttpReporter({ url: server.url, timeoutMs, retries, backoffMs: 1, backoffMaxMs: 1 });
    const started = performance.now();

    const [error] = await Promise.all([rejection(reporter.report(makeReport())), server.nth(retries + 1)]);
    const elapsed = performance.now() - started;

    expect(error).toBeInstanceOf(ReportDeliveryError);
    expect(error.code).toBe('ERR_REPORT_DELIVERY');
    expect(error.message).toContain(`no answer within ${timeoutMs} ms`);
    expect(error.cause).toMatchObject({ name: 'TimeoutError', code: 'ERR_TIMEOUT' });
    expect(server.requests).toHaveLength(retries + 1);
    // Each request was torn down by the client, unanswered…
    const closes = await Promise.all(server.requests.map((seen) => seen.closed));
    expect(closes).toEqual(Array.from({ length: retries + 1 }, () => ({ answered: false })));
    // …and only after its full timeout (timers never fire early; allow 2 ms of clock slack per try).
    expect(elapsed).toBeGreaterThanOrEqual((retries + 1) * (timeoutMs - 2));
  });

  test('a server that answers after a timed-out request is retried and delivers', async () => {
    const server = await startServer(sequence('hang', 200));
    await new HttpReporter({ url: server.url, timeoutMs: 150, retries: 2, backoffMs: 1 }).report(makeReport());
    expect(server.requests).toHaveLength(2);
    expect(await server.requests[0]!.closed).toEqual({ answered: false });
    expect(await server.requests[1]!.closed).toEqual({ answered: true });
  });
});

describe("HttpReporter: the caller's AbortSignal", () => {
  test('aborts the in-flight request and stops further retries', async () => {
    const server = await startServer(() => 'hang');
    // Were the abort ignored, this call would go on for minutes and the test would time out.
    const reporter = new HttpReporter({ url: server.url, timeoutMs: 60_000, retries: 5, backoffMs: 0 });
    const controller = new AbortController();
    const call = rejection(reporter.report(makeReport(), controller.signal));

    const first = await server.nth(1);
    const reason = new Error('the runtime gave up');
    controller.abort(reason);
    const error = await call;

    expect(error).toBeInstanceOf(ReportDeliveryError);
    expect(error.cause).toBe(reason);
    // The server saw the client tear the request down, unanswered.
    expect(await first.closed).toEqual({ answered: false });
    expect(server.requests).toHaveLength(1);
  });

  test('an abort during the pause before a retry ends the call at once, with no further request', async () => {
    const server = await startServer(() => 'hang');
    // The first try times out; then comes a pause of at least 30 s: only an abort that cuts it short lets this
    // test finish in time.
    const reporter = new HttpReporter({ url: server.url, timeoutMs: 100, retries: 5, backoffMs: 60_000, backoffMaxMs: 60_000 });
    const controller = new AbortController();
    const call = rejection(reporter.report(makeReport(), controller.signal));

    const first = await server.nth(1);
    // The client tore the timed-out request down. Client and server share this thread, and the timeout's
    // microtasks (abort, reject, enter the pause) all run before the server hears of the closed socket:
    // by now the reporter is in its pause.
    expect(await first.closed).toEqual({ answered: false });
    const reason = new Error('the runtime gave up');
    controller.abort(reason);
    const error = await call;

    expect(error).toBeInstanceOf(ReportDeliveryError);
    expect(error.cause).toBe(reason);
    expect(server.requests).toHaveLength(1);
  });

  test('an already aborted signal sends nothing', async () => {
    const server = await startServer(() => 200);
    const reason = new Error('too late');
    const error = await rejection(new HttpReporter({ url: server.url }).report(makeReport(), AbortSignal.abort(reason)));
    expect(error).toBeInstanceOf(ReportDeliveryError);
    expect(error.cause).toBe(reason);
    expect(server.requests).toHaveLength(0);
  });
});

describe('HttpReporter: constructor validation', () => {
  const url = 'http://127.0.0.1:9/reports';

  test.each([
    ['not a URL', 'not a url'],
    ['a relative path', '/reports'],
    ['ftp:', 'ftp://127.0.0.1/reports'],
    ['file:', 'file:///tmp/reports'],
    ['with credentials', 'http://user:secret@127.0.0.1/reports'],
    ['undefined', undefined],
  ])('url %s → TypeError naming options.url', (_, bad) => {
    expect(() => new HttpReporter({ url: bad as unknown as string })).toThrow(TypeError);
    expect(() => new HttpReporter({ url: bad as unknown as string })).toThrow(/options\.url/);
  });

  test.each([null, undefined, 'http://127.0.0.1/'])('options %s → TypeError', (bad) => {
    expect(() => new HttpReporter(bad as never)).toThrow(TypeError);
  });

  test.each([
    ['timeoutMs', -1],
    ['timeoutMs', 0],
    ['timeoutMs', Number.POSITIVE_INFINITY],
    // Node clamps a timer delay above 2^31-1 to 1 ms: such a timeout would fail every request at once.
    ['timeoutMs', 2 ** 31],
    ['retries', -1],
    ['backoffMs', -1],
    ['backoffMaxMs', 2 ** 31],
  ])('%s: %s → RangeError naming the option', (name, value) => {
    const make = (): HttpReporter => new HttpReporter({ url, [name]: value } as never);
    expect(make).toThrow(RangeError);
    expect(make).toThrow(new RegExp(`options\\.${name}\\b`));
  });

  // Not a number of the kind asked for (NaN, a fraction where a whole number is due): a TypeError, as for every
  // other option of the package.
  test.each([
    ['timeoutMs', Number.NaN],
    ['retries', 1.5],
    ['retries', Number.NaN],
    ['backoffMs', 0.5],
    ['backoffMaxMs', Number.NaN],
  ])('%s: %s → TypeError naming the option', (name, value) => {
    const make = (): HttpReporter => new HttpReporter({ url, [name]: value } as never);
    expect(make).toThrow(TypeError);
    expect(make).toThrow(new RegExp(`options\\.${name}\\b`));
  });

  test('a timeoutMs that is no number → TypeError or RangeError naming options.timeoutMs', () => {
    let error: unknown;
    try {
      new HttpReporter({ url, timeoutMs: '100' as unknown as number });
    } catch (caught) {
      error = caught;
    }
    expect(error instanceof TypeError || error instanceof RangeError).toBe(true);
    expect((error as Error).message).toMatch(/options\.timeoutMs/);
  });

  test('bad header names → TypeError naming options.headers', () => {
    expect(() => new HttpReporter({ url, headers: { 'bad header': 'x' } })).toThrow(TypeError);
    expect(() => new HttpReporter({ url, headers: { 'bad header': 'x' } })).toThrow(/options\.headers/);
  });

  test('accepts the edge values', () => {
    expect(() => new HttpReporter({ url, timeoutMs: 0.5, retries: 0, backoffMs: 0, backoffMaxMs: 0 })).not.toThrow();
    expect(() => new HttpReporter({ url: 'https://127.0.0.1/x', timeoutMs: 2 ** 31 - 1, backoffMaxMs: 2 ** 31 - 1 })).not.toThrow();
  });
});

describe('HttpReporter in a TaskRuntime', () => {
  test("an instance's final report reaches the server", async () => {
    const server = await startServer(() => 200);
    const { runtime } = runtimes.make({ reporter: new HttpReporter({ url: server.url }), address: 'tracker-7:4242', statusReportIntervalMs: 600_000 });

    const tracker = runtime.submit({ processor: 'succeed', instanceId: 'http-e2e-ok', jobId: 42, jobParams: 'world' });
    const seen = await server.nth(1);

    expect(seen.headers['content-type']).toBe('application/json');
    expect(seen.body).toMatchObject({
      instanceId: 'http-e2e-ok',
      jobId: 42,
      status: 'SUCCEED',
      result: 'hello world',
      sourceAddress: 'tracker-7:4242',
      totalTaskNum: 1,
      succeedTaskNum: 1,
      failedTaskNum: 0,
    });
    expect(seen.body.endTime).toEqual(expect.any(Number));
    expect((await tracker.done).status).toBe('SUCCEED');
    // close() waits for the final report to settle.
    await runtime.close();
    expect(runtime.stats).toMatchObject({ reportsDelivered: 1, reportsRetried: 0, reportsLost: 0 });
    expect(server.requests).toHaveLength(1);
  });

  test.each([
    { by: "the runtime's final-report retry", reporterRetries: 0, finalReportRetries: 2, runtimeRetries: 2 },
    { by: "the reporter's own retry", reporterRetries: 2, finalReportRetries: 0, runtimeRetries: 0 },
  ])('a final report whose first 2 POSTs get 500 is delivered by $by', async ({ reporterRetries, finalReportRetries, runtimeRetries }) => {
    const server = await startServer(sequence(500, 500, 200));
    const reporter = new HttpReporter({ url: server.url, retries: reporterRetries, backoffMs: 1, backoffMaxMs: 5 });
    const { runtime, logs } = runtimes.make({ reporter, finalReportRetries, reportBackoffMs: 1, reportBackoffMaxMs: 5, statusReportIntervalMs: 600_000 });

    runtime.submit({ processor: 'succeed', instanceId: 'http-e2e-flaky', jobParams: 'again' });
    await server.nth(3);
    await runtime.close();

    expect(server.requests).toHaveLength(3);
    for (const seen of server.requests) expect(seen.body).toMatchObject({ instanceId: 'http-e2e-flaky', status: 'SUCCEED', result: 'hello again' });
    expect(runtime.stats).toMatchObject({ reportsDelivered: 1, reportsRetried: runtimeRetries, reportsLost: 0 });
    expect(logs.withMessage('final report failed: retrying', 'http-e2e-flaky')).toHaveLength(runtimeRetries);
    expect(logs.withMessage('final report lost: every try failed')).toHaveLength(0);
  });

  test('a final report the server always refuses with 500 is lost after finalReportRetries, and logged as an error', async () => {
    const server = await startServer(() => 500);
    const reporter = new HttpReporter({ url: server.url, retries: 0 });
    const { runtime, logs } = runtimes.make({ reporter, finalReportRetries: 1, reportBackoffMs: 1, reportBackoffMaxMs: 5, statusReportIntervalMs: 600_000 });

    runtime.submit({ processor: 'succeed', instanceId: 'http-e2e-lost', jobParams: 'nobody' });
    await server.nth(2);
    await runtime.close();

    expect(server.requests).toHaveLength(2);
    expect(runtime.stats).toMatchObject({ reportsDelivered: 0, reportsRetried: 1, reportsLost: 1 });
    const lost = logs.withMessage('final report lost: every try failed', 'http-e2e-lost');
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ level: 50, tries: 2, report: { instanceId: 'http-e2e-lost', status: 'SUCCEED' } });
    expect(lost[0]!.err).toMatchObject({ code: 'ERR_REPORT_DELIVERY', message: expect.stringContaining('answered 500') });
  });
});
