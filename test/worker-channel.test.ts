// The main thread's side of the workers' channels (src/worker-channel.ts), driven directly: a fake attempt, and a
// MessageChannel standing in for a worker's. What the runtime tests cannot bring about at will: an attempt's end taken
// the moment its lines are queued on its worker's channel, a second channel claimed for a thread, a malformed batch,
// more lines than the main thread holds.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Metrics } from '../dist/src/metrics.js';
import { BATCH_MESSAGE, CHANNEL_MESSAGE, Item, SETTINGS_MESSAGE, type WorkerBatch } from '../dist/src/messages.js';
import type { PooledAttempt } from '../dist/src/attempt.js';
import { WorkerChannels } from '../dist/src/worker-channel.js';
import { LogCapture } from './support/logs.js';

const SLOT = 2;
const TICKET = 41;

/** An instance's first attempt, holding SLOT with TICKET, whose listener records the progress and chunks it is handed. */
function fakeAttempt(): { attempt: PooledAttempt; progress: unknown[]; chunks: unknown[] } {
  const progress: unknown[] = [];
  const chunks: unknown[] = [];
  const attempt = {
    instanceId: 'i-1',
    number: 0,
    listener: {
      attemptStarted: () => undefined,
      attemptProgress: (_attempt: unknown, value: unknown) => progress.push(value),
      attemptEnded: () => undefined,
      attemptChunk: (_attempt: unknown, chunk: unknown) => chunks.push(chunk),
    },
  } as unknown as PooledAttempt;
  return { attempt, progress, chunks };
}

function batch(items: unknown[], ticket = TICKET): WorkerBatch {
  return { type: BATCH_MESSAGE, slot: SLOT, ticket, items };
}

const lines = (n: number, from = 0): unknown[] => Array.from({ length: n }, (_, i) => [Item.INFO, 'line', { i: from + i }]).flat();

const open: Array<{ channels: WorkerChannels; ports: MessagePort[] }> = [];
afterEach(() => {
  for (const { channels, ports } of open.splice(0)) {
    channels.close();
    for (const port of ports) port.close();
  }
});

function setUp(options: { burst?: number } = {}) {
  const logs = new LogCapture();
  const metrics = new Metrics(60_000);
  const tracker = fakeAttempt();
  const channels = new WorkerChannels({
    logger: logs.logger, onProcessorLog: undefined, rate: 1000, burst: options.burst ?? 2000, metrics,
    attemptAt: (slot, ticket) => (slot === SLOT && ticket === TICKET ? tracker.attempt : undefined),
  });
  const { port1: worker, port2: main } = new MessageChannel();
  open.push({ channels, ports: [worker, main] });
  return { logs, metrics, tracker, channels, worker, main };
}

describe('the workers\' channels on the main thread', () => {
  it('takes the lines an attempt posted on its worker\'s channel, then its reply\'s own, before its end: read at once, in order', async () => {
    const { logs, tracker, channels, worker, main } = setUp();
    channels.onParentMessage({ type: CHANNEL_MESSAGE, threadId: 7, port: main });
    worker.postMessage(batch(lines(3)));
    const order: string[] = [];
    // Taken within a slice of the event loop (at once, on a machine that is not busy): no channel to wait for.
    await new Promise<void>((resolve) => {
      if (channels.settle(7, true, batch([Item.PROGRESS, 'last']), resolve)) resolve();
    });
    order.push(...logs.lines.filter((l) => l.msg === 'line').map((l) => `line ${String(l.i)}`), 'end');
    expect(order).toEqual(['line 0', 'line 1', 'line 2', 'end']);
    expect(tracker.progress).toEqual(['last']);
    // The worker gets the runtime's settings on its channel.
    const settings = await new Promise((resolve) => worker.once('message', resolve));
    expect(settings).toMatchObject({ type: SETTINGS_MESSAGE, rate: 1000, burst: 2000 });
  });

  it('refuses, and logs, a second channel claimed for a thread, and anything with its tag it does not take', () => {
    const { logs, metrics, channels, main } = setUp();
    channels.onParentMessage({ type: CHANNEL_MESSAGE, threadId: 9, port: main });
    const { port1, port2 } = new MessageChannel();
    open.push({ channels: setUp().channels, ports: [port1, port2] });
    channels.onParentMessage({ type: CHANNEL_MESSAGE, threadId: 9, port: port2 });
    channels.onParentMessage({ type: 'light-task-tracker:log', instanceId: 42, level: 'info', msg: 'forged' });
    channels.onParentMessage({ type: 'a processor\'s own', n: 1 });
    expect(metrics.malformedMessages).toBe(2);
    expect(logs.withMessage('a worker posted a message the runtime refuses: ignored')).toHaveLength(1);
  });

  it('refuses the rest of a malformed batch, and drops (and counts) what a finished attempt posted', () => {
    const { logs, metrics, channels, worker, main } = setUp();
    channels.onParentMessage({ type: CHANNEL_MESSAGE, threadId: 3, port: main });
    worker.postMessage(batch([...lines(1), Item.INFO, 42, undefined, ...lines(1, 1)]));
    worker.postMessage(batch([...lines(2), Item.PROGRESS, 'old'], TICKET - 1));
    expect(channels.settle(3, true, undefined, () => undefined)).toBe(true);
    expect(logs.lines.filter((l) => l.msg === 'line').map((l) => l.i)).toEqual([0]);
    expect(metrics.malformedMessages).toBe(1);
    expect(metrics.lateMessagesDropped).toBe(3);
  });

  it('hands a stream\'s chunks on in their place among the lines, and refuses the rest of a batch at a chunk that is no cargo', async () => {
    const { logs, metrics, tracker, channels, worker, main } = setUp();
    channels.onParentMessage({ type: CHANNEL_MESSAGE, threadId: 5, port: main });
    worker.postMessage(batch([...lines(1), Item.CHUNK, { value: 'a' }, ...lines(1, 1), Item.CHUNK, { value: 'b' }]));
    worker.postMessage(batch([Item.CHUNK, { value: 'c' }, Item.CHUNK, 'no cargo', Item.CHUNK, { value: 'never' }]));
    await new Promise<void>((resolve) => {
      if (channels.settle(5, true, undefined, resolve)) resolve();
    });
    expect(tracker.chunks).toEqual([{ value: 'a' }, { value: 'b' }, { value: 'c' }]);
    expect(logs.lines.filter((l) => l.msg === 'line').map((l) => l.i)).toEqual([0, 1]);
    expect(metrics.malformedMessages).toBe(1);
  });

  it('keeps at most its bound of lines waiting: the lines of the batches past it are dropped and counted, their progress kept', async () => {
    const { logs, metrics, tracker, channels, worker, main } = setUp({ burst: 100 });
    channels.onParentMessage({ type: CHANNEL_MESSAGE, threadId: 4, port: main });
    // 100 batches of 128 lines, read at once: 10,000 lines may wait (the floor of the bound), the rest cannot.
    for (let b = 0; b < 100; b++) worker.postMessage(batch([...lines(128, b * 128), Item.PROGRESS, b]));
    const ended = new Promise<void>((resolve) => {
      if (channels.settle(4, true, undefined, resolve)) resolve();
    });
    await ended;
    const written = logs.lines.filter((l) => l.msg === 'line').length;
    expect(written + metrics.processorLogLinesDropped).toBe(12_800);
    expect(written).toBeGreaterThanOrEqual(10_000 - 128);
    expect(written).toBeLessThanOrEqual(10_000);
    expect(tracker.progress).toEqual(Array.from({ length: 100 }, (_, b) => b));
    expect(logs.withMessage('processor log lines dropped: the main thread is behind')).not.toHaveLength(0);
  });
});
