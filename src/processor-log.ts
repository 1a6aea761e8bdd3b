// A processor's log lines, as they arrive from its worker: written to the runtime's logger, then handed to the
// application's onProcessorLog.
import type { Logger } from 'pino';
import type { ProcessorLogLine } from './options.js';
import { isWorkerLogMessage, LOG_LEVELS, type LogLevel } from './protocol.js';

const levels: ReadonlySet<string> = new Set(LOG_LEVELS);

/**
 * Writes a worker's message if it is a processor's log line, and returns it as `onProcessorLog` gets it; returns
 * undefined for anything else. The message was cloned from another thread: its fields are checked, never trusted.
 */
export function writeProcessorLine(message: unknown, logger: Logger, onProcessorLog: ((line: ProcessorLogLine) => void) | undefined): ProcessorLogLine | undefined {
  if (!isWorkerLogMessage(message) || !levels.has(message.level)) return undefined;
  const fields = typeof message.fields === 'object' && message.fields !== null ? message.fields : undefined;
  const level: LogLevel = message.level;
  logger[level]({ ...fields, instanceId: message.instanceId, source: 'processor' }, message.msg);
  const line: ProcessorLogLine = {
    instanceId: message.instanceId,
    attempt: typeof message.attempt === 'number' ? message.attempt : -1,
    level,
    msg: message.msg,
    fields,
  };
  if (onProcessorLog !== undefined) {
    try {
      onProcessorLog(line);
    } catch (error) {
      logger.warn({ instanceId: message.instanceId, err: error }, 'onProcessorLog threw');
    }
  }
  return line;
}
