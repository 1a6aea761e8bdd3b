// One consumer process of the cluster example (forked by main.js): a BullMQ worker over a TaskRuntime with one
// thread. It tells its parent over IPC when it is ready and when a processor starts, and closes on { command: 'close' }.
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startConsumer } from 'light-task-tracker/bullmq';

interface Settings {
  readonly queue: string;
  readonly port: number;
  readonly lockDuration: number;
  readonly stalledInterval: number;
}

const settings = JSON.parse(process.argv[2] ?? '{}') as Settings;
const processor = (name: string): string => fileURLToPath(new URL(`./processors/${name}.js`, import.meta.url));
const send = (message: Record<string, unknown>): void => void process.send?.({ pid: process.pid, ...message });

const consumer = await startConsumer({
  queue: settings.queue,
  connection: { host: '127.0.0.1', port: settings.port, maxRetriesPerRequest: null },
  runtime: {
    processors: { quick: processor('quick'), cpu: processor('cpu'), runaway: processor('runaway'), wait: processor('wait') },
    maxThreads: 1,
    forceStopGraceMs: 100,
    logger: pino({ level: 'error' }),
    onProcessorLog: (line) => {
      if (line.msg === 'started') send({ event: 'started', instanceId: line.instanceId });
    },
  },
  worker: { lockDuration: settings.lockDuration, stalledInterval: settings.stalledInterval },
});
process.on('message', (message: { command?: string; deadlineMs?: number }) => {
  if (message.command !== 'close') return;
  void consumer.close({ deadlineMs: message.deadlineMs ?? 1000 }).then(() => process.disconnect());
});
send({ event: 'ready' });
