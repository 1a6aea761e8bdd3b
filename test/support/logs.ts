// A logger whose lines a test can read, and wait for.
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly instanceId?: string;
  readonly [field: string]: unknown;
}

/** A pino logger (at debug level unless told another) that keeps every line, and lets a test wait for one. */
export class LogCapture {
  readonly lines: LogLine[] = [];
  readonly logger: Logger;
  #waiters: Array<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];

  constructor(level: 'debug' | 'info' = 'debug') {
    const stream = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        for (const text of chunk.toString().split('\n')) if (text !== '') this.#add(JSON.parse(text) as LogLine);
        callback();
      },
    });
    this.logger = pino({ level }, stream);
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
