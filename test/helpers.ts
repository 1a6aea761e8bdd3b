// Shared test plumbing: runtimes closed after each test, a logger whose lines a test can wait for.
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { afterEach } from 'vitest';
import { MemoryReporter, TaskRuntime, type TaskRuntimeOptions } from 'light-task-tracker';

/** Absolute path of a fixture processor module. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}.js`, import.meta.url));
}

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly instanceId?: string;
  readonly [field: string]: unknown;
}

/** A pino logger at debug level that keeps every line, and lets a test wait for one. */
export class LogCapture {
  readonly lines: LogLine[] = [];
  readonly logger: Logger;
  #waiters: Array<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];

  constructor() {
    const stream = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        for (const text of chunk.toString().split('\n')) if (text !== '') this.#add(JSON.parse(text) as LogLine);
        callback();
      },
    });
    this.logger = pino({ level: 'debug' }, stream);
  }

  #add(line: LogLine): void {
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.match(line)) return true;
      waiter.resolve(line);
      return false;
    });
  }

  /** Resolves with the first line, logged already or later, that `match` accepts. */
  waitFor(match: (line: LogLine) => boolean): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** Waits for the processor of `instanceId` to log `msg`. */
  waitForProcessor(instanceId: string, msg: string): Promise<LogLine> {
    return this.waitFor((line) => line.instanceId === instanceId && line.source === 'processor' && line.msg === msg);
  }

  withMessage(msg: string, instanceId?: string): LogLine[] {
    return this.lines.filter((line) => line.msg === msg && (instanceId === undefined || line.instanceId === instanceId));
  }
}

const open: TaskRuntime[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((runtime) => runtime.close()));
});

export const processors = {
  succeed: fixture('succeed'),
  fail: fixture('fail'),
  throws: fixture('throws'),
  returnsNull: fixture('returns-null'),
  spinCooperative: fixture('spin-cooperative'),
  spinRunaway: fixture('spin-runaway'),
  sleep: fixture('sleep'),
  awaitSignal: fixture('await-signal'),
  exit: fixture('exit'),
  uncaught: fixture('uncaught'),
  heapBlowup: fixture('heap-blowup'),
  flaky: fixture('flaky'),
  workflow: fixture('workflow'),
  logMany: fixture('log-many'),
  longResult: fixture('long-result'),
  badExport: fixture('bad-export'),
  loadThrows: fixture('load-throws'),
  slowFail: fixture('slow-fail'),
  sharedWrite: fixture('shared-write'),
} as const;

export interface TestRuntime {
  readonly runtime: TaskRuntime;
  readonly reporter: MemoryReporter;
  readonly logs: LogCapture;
}

/** A runtime over the fixture processors, closed after the test. */
export function makeRuntime(options: Partial<TaskRuntimeOptions> = {}): TestRuntime {
  const reporter = new MemoryReporter();
  const logs = new LogCapture();
  const runtime = new TaskRuntime({ processors, maxThreads: 2, reporter, logger: logs.logger, ...options });
  open.push(runtime);
  return { runtime, reporter, logs };
}
