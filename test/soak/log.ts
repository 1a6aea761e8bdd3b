// The logger: a pino logger at info whose destination reads the few lines the checks need, without keeping any.
import { pino, type Logger } from 'pino';
import { bump, inc, type SoakState } from './state.js';

const msgOf = (line: string): string | undefined => /"msg":"((?:[^"\\]|\\.)*)"/.exec(line)?.[1];
/** A whole-number field of a line. */
const numberOf = (line: string, field: string): number => Number(new RegExp(`"${field}":(\\d+)`).exec(line)?.[1] ?? NaN);

export function soakLogger(state: SoakState): Logger {
  const { counts, violation } = state;
  const instanceOfLine = (line: string): number => {
    const id = /"instanceId":"(soak-\d+)"/.exec(line)?.[1];
    return id === undefined ? -1 : state.indexOf(id);
  };
  const destination = {
    write(line: string): void {
      const level = Number(/"level":(\d+)/.exec(line)?.[1]);
      const msg = msgOf(line);
      if (level >= 50) {
        const i = instanceOfLine(line);
        if (msg === 'final report lost: every try failed' && i >= 0) inc(state.finalLostLines, i);
        else if (msg === 'the worker died under the attempt' && i >= 0) inc(state.diedLines, i);
        // A thread blocked in a system call (the 'blocked in a system call' kind), let go of after its terminate.
        else if (msg?.startsWith('a terminated thread has not exited') === true) bump(counts.warnings, 'a terminated thread has not exited (error)');
        else if (msg === 'an error was thrown outside any running attempt: no instance fails') counts.strayErrors += numberOf(line, 'count');
        else violation(`an unexpected error line: ${line.slice(0, 400)}`);
        return;
      }
      if (level === 40) {
        if (msg === 'final report failed: retrying') counts.retryLines++;
        else if (msg === 'RUNNING report failed') counts.runningFailLines++;
        else if (msg === 'stop ignored: the instance has finished') counts.stopIgnoredLines++;
        else if (msg === 'processor log lines dropped: over the rate bound (processorLogRate)') counts.droppedLines += numberOf(line, 'dropped');
        else if (msg === 'processor log lines dropped: the main thread is behind') counts.droppedLines += numberOf(line, 'count');
        else if (msg?.startsWith('messages from attempts that had ended were dropped') === true) counts.lateMessages += numberOf(line, 'count');
        else if (msg === 'a worker posted a message the runtime refuses: ignored') violation(`a refused message: ${line.slice(0, 400)}`);
        else if (msg?.startsWith('destroy ignored') === true) violation(`a tracker destroyed twice: ${line.slice(0, 400)}`);
        else bump(counts.warnings, String(msg));
        return;
      }
      if (msg === 'saw interrupt') {
        const i = instanceOfLine(line);
        if (i >= 0) inc(state.sawInterruptLines, i);
      } else if (msg === 'started' && line.includes('"source":"processor"')) {
        const i = instanceOfLine(line);
        if (i >= 0) inc(state.startedLines, i);
        const stop = state.stopOnStart.get(i);
        if (stop !== undefined) {
          state.stopOnStart.delete(i);
          stop();
        }
      } else if (msg === 'left behind') {
        violation(`a line of code an instance left behind was written: ${line.slice(0, 400)}`);
      } else if (msg === 'instance finished') {
        const i = instanceOfLine(line);
        if (i >= 0) inc(state.finishedLines, i);
      } else if (msg === 'tracker destroyed') {
        const i = instanceOfLine(line);
        if (i >= 0) inc(state.destroyedLines, i);
      }
    },
  };
  return pino({ level: 'info', base: null, timestamp: false }, destination);
}
