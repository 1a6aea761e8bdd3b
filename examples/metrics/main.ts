// The metrics example (`npm run example:metrics`): a TaskRuntime whose metrics are registered in a prom-client
// registry, served on /metrics by an HTTP server on a free loopback port. It runs a mixed load — quick successes, a
// job its timeout interrupts, a runaway it force-stops, a job that kills its worker — then scrapes /metrics over
// HTTP as Prometheus would, prints a few of the lines, and closes everything, so the process exits by itself.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { TaskRuntime } from 'light-task-tracker';
import { registerMetrics } from 'light-task-tracker/prometheus';

const processor = (name: string): URL => new URL(`./processors/${name}.js`, import.meta.url);

// Resolves when the runaway says it has started: it is stopped then, and not while still queued.
let runawayStarted!: () => void;
const started = new Promise<void>((resolve) => (runawayStarted = resolve));

const runtime = new TaskRuntime({
  processors: { quick: processor('quick'), slow: processor('slow'), runaway: processor('runaway'), crash: processor('crash') },
  maxThreads: 2,
  // The runaway ignores its interrupt: its worker is terminated this long after it.
  forceStopGraceMs: 100,
  // Timeouts, force-stops and worker deaths are logged as warnings and errors; here the scrape tells of them.
  logger: pino({ level: 'silent' }),
  onProcessorLog: (line) => {
    if (line.msg === 'started') runawayStarted();
  },
});

const registry = new Registry();
const registration = registerMetrics(runtime, { registry });

const server = createServer((request, response) => {
  if (request.method !== 'GET' || request.url !== '/metrics') {
    response.writeHead(404).end();
    return;
  }
  registry.metrics().then(
    (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
    (error: unknown) => response.writeHead(500).end(String(error)),
  );
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
console.log(`serving ${url}`);

await runtime.ready();
const trackers = [
  ...Array.from({ length: 6 }, (_, index) => runtime.submit({ processor: 'quick', jobParams: index })),
  runtime.submit({ processor: 'slow', timeoutMs: 200 }),
  runtime.submit({ processor: 'runaway' }),
  runtime.submit({ processor: 'crash' }),
];
const runaway = trackers[7]!;
await started;
runaway.stop();

const outcomes = await Promise.all(trackers.map((tracker) => tracker.done));
const counts = new Map<string, number>();
for (const outcome of outcomes) counts.set(outcome.reason, (counts.get(outcome.reason) ?? 0) + 1);
console.log(`ran ${outcomes.length} instances: ${[...counts].map(([reason, count]) => `${count} ${reason}`).join(', ')}`);
// The terminated worker and the dead one are replaced before the scrape.
await runtime.ready();

const response = await fetch(url);
const text = await response.text();
const SHOWN = /^light_task_tracker_(instances_(live|running|queued)|threads(_idle)?|force_stops_total|worker_deaths_total|outcomes_total\{reason="(SUCCEEDED|TIMEOUT_INTERRUPTED|STOP_FORCE_STOPPED|WORKER_DIED)"\}|(wait|run)_seconds_(count|sum)\{processor="(quick|runaway)"\}|run_seconds_bucket\{le="0\.1",processor="quick"\}) /;
console.log(`GET /metrics: ${response.status}, ${text.split('\n').length} lines; among them:`);
for (const line of text.split('\n')) if (SHOWN.test(line)) console.log(`  ${line}`);

registration.unregister();
server.close();
await runtime.close();
