// Two consumer processes on one queue, each a real child process over a real redis-server: jobs spread over both,
// a runaway job dies at its timeout while its consumer goes on, a consumer SIGKILLed mid-job loses nothing (BullMQ's
// stalled check hands the job to the other), a stop from this process ends a job running in a consumer, and a closed
// consumer exits by itself. Synchronised on the children's IPC messages and BullMQ's events, never on sleeps.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import type { Job, Queue } from 'bullmq';
import { beforeEach, describe, expect, test, vi } from 'vitest';
import { stopJob } from 'light-task-tracker/bullmq';
import { fixture } from './support/fixtures.js';
import { useQueue } from './support/bullmq-queue.js';
import { skipRedisTests } from './support/redis.js';

interface ChildMessage {
  readonly pid: number;
  readonly event: 'ready' | 'active' | 'started' | 'line' | 'completed' | 'failed' | 'closed';
  readonly jobId?: string;
  readonly instanceId?: string;
  /** A processor log line's message and fields ('started', 'line'). */
  readonly msg?: string;
  readonly fields?: Record<string, unknown>;
  readonly result?: string;
  readonly reason?: string;
}

const processors = {
  sleep: fixture('sleep'),
  succeed: fixture('succeed'),
  spinRunaway: fixture('spin-runaway'),
  spinFor: fixture('bullmq-spin-for'),
  checkpointSum: fixture('bullmq-checkpoint'),
};

/** 0 + 1 + … + (n - 1). */
const sumBelow = (n: number): number => (n * (n - 1)) / 2;

/** One consumer process and everything it has told us. */
class ConsumerProcess {
  readonly child: ChildProcess;
  readonly messages: ChildMessage[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: Array<{ match: (message: ChildMessage) => boolean; resolve: (message: ChildMessage) => void }> = [];

  constructor(settings: Record<string, unknown>) {
    this.child = fork(fixture('bullmq-consumer'), [JSON.stringify(settings)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.exited = once(this.child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
    this.child.on('message', (message: ChildMessage) => {
      this.messages.push(message);
      this.#waiters = this.#waiters.filter((waiter) => (waiter.match(message) ? (waiter.resolve(message), false) : true));
    });
  }

  get name(): string {
    return `${hostname()}:${this.child.pid}`;
  }

  waitFor(match: (message: ChildMessage) => boolean): Promise<ChildMessage> {
    const seen = this.messages.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** Resolves when this consumer's processor has started the job. */
  started(jobId: string, queue: string): Promise<ChildMessage> {
    return this.waitFor((message) => message.event === 'started' && message.instanceId?.startsWith(`${queue}:${jobId}:`) === true);
  }

  async close(deadlineMs = 0): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.connected) this.child.send({ command: 'close', deadlineMs });
    return this.exited;
  }
}

describe.skipIf(skipRedisTests)('BullMQ consumers in two processes', () => {
  const children: ConsumerProcess[] = [];
  const ctx = useQueue('cluster', async () => {
    for (const child of children.splice(0)) {
      if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
      await child.exited;
    }
  });
  let queue: Queue;
  let queueName: string;
  const ending = (job: Job): ReturnType<typeof ctx.ending> => ctx.ending(job);

  beforeEach(() => {
    ({ queue, name: queueName } = ctx);
  });

  async function consumers(n: number, worker: Record<string, unknown> = {}): Promise<ConsumerProcess[]> {
    const started = Array.from({ length: n }, () => new ConsumerProcess({
      queue: queueName, connection: ctx.redis.connection, processors, maxThreads: 1, forceStopGraceMs: 50, worker,
    }));
    children.push(...started);
    await Promise.all(started.map((child) => child.waitFor((message) => message.event === 'ready')));
    return started;
  }

  test('jobs spread over both consumers; a runaway job dies at its timeout and its consumer goes on', { timeout: 30_000 }, async () => {
    const [a, b] = await consumers(2);
    const runaway = await queue.add('runaway', { processor: 'spinRunaway', timeoutMs: 300 });
    const jobs = await queue.addBulk(Array.from({ length: 8 }, (_, i) => ({ name: `sleep${i}`, data: { processor: 'sleep', params: { ms: 100 } } })));
    const endings = await Promise.all(jobs.map(ending));
    expect(endings.map((end) => end.result)).toEqual(jobs.map(() => 'slept'));
    expect(new Set(endings.map((end) => end.by))).toEqual(new Set([a!.name, b!.name]));
    const runawayEnd = await ending(runaway);
    expect(runawayEnd.failed!.split('\n')[0]).toBe('instance execute timeout,force stop success');
    expect(runawayEnd.failed!.split('\n')[1]).toMatch(/^ {4}at .*spin-runaway\.js:7:\d+\)?$/);
    // The consumer whose thread was terminated takes the next jobs as before.
    const after = await queue.addBulk(Array.from({ length: 4 }, (_, i) => ({ name: `after${i}`, data: { processor: 'succeed', params: i } })));
    expect((await Promise.all(after.map(ending))).map((end) => end.result)).toEqual(['hello 0', 'hello 1', 'hello 2', 'hello 3']);
    expect([a!.child.exitCode, b!.child.exitCode]).toEqual([null, null]);
  });

  test('a consumer SIGKILLed mid-job: the stalled check hands the job to the other, which completes it', { timeout: 30_000 }, async () => {
    const both = await consumers(2, { lockDuration: 1000, stalledInterval: 250 });
    const job = await queue.add('cpu', { processor: 'spinFor', params: { ms: 500 } });
    const first = await Promise.race(both.map((child) => child.started(job.id!, queueName).then(() => child)));
    const other = both.find((child) => child !== first)!;
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const end = await ending(job);
    expect(end).toEqual({ result: 'spun 500 ms', by: other.name });
    await other.started(job.id!, queueName);
    const after = await queue.getJob(job.id!);
    expect(after?.attemptsStarted).toBe(2);
    expect(after?.stalledCounter).toBe(1);
    console.log(`SIGKILL → job finished in the other consumer: ${Date.now() - killedAt} ms (lockDuration 1000, stalledInterval 250, job 500 ms)`);
  });

  test('a consumer SIGKILLed after a checkpoint: the job resumes from that checkpoint in the next consumer', { timeout: 30_000 }, async () => {
    const worker = { lockDuration: 1000, stalledInterval: 250 };
    const [first] = await consumers(1, worker);
    const job = await queue.add('sum', { processor: 'checkpointSum', params: { rows: 1000, every: 100, stopAt: 500, then: 'hold' } });
    await first!.waitFor((message) => message.event === 'line' && message.msg === 'holding');
    // Its checkpoint at row 500 has reached Redis, in the job's data.
    await vi.waitFor(async () => expect((await queue.getJob(job.id!))?.data.checkpoint).toEqual({ row: 500, sum: sumBelow(500) }), { timeout: 10_000, interval: 20 });
    first!.child.kill('SIGKILL');
    expect((await first!.exited).signal).toBe('SIGKILL');
    const killedAt = Date.now();
    const [second] = await consumers(1, worker);
    const end = await ending(job);
    expect(end).toEqual({ result: { resumedFrom: 500, sum: sumBelow(1000) }, by: second!.name });
    const resumed = await second!.started(job.id!, queueName);
    expect(resumed.fields).toEqual({ from: 500 });
    console.log(`SIGKILL after the checkpoint at row 500 → the next consumer resumed from row ${String(resumed.fields?.from)} and returned ${JSON.stringify(end.result)} in ${Date.now() - killedAt} ms (lockDuration 1000, stalledInterval 250)`);
  });

  test('a stop from this process ends a job running in a consumer; a closed consumer exits by itself', { timeout: 30_000 }, async () => {
    const [only] = await consumers(1);
    const job = await queue.add('long', { processor: 'sleep', params: { ms: 60_000 } }, { attempts: 3 });
    await only!.started(job.id!, queueName);
    expect(await stopJob({ queue: queueName, connection: ctx.redis.connection }, job.id!)).toBe(1);
    expect(await ending(job)).toEqual({ failed: 'ERR_JOB_STOPPED: user stop instance,interrupted success', by: only!.name });
    expect((await queue.getJob(job.id!))?.attemptsMade).toBe(1);
    expect(await ending(await queue.add('next', { processor: 'succeed', params: 'next' }))).toEqual({ result: 'hello next', by: only!.name });
    expect(await only!.close(1000)).toEqual({ code: 0, signal: null });
  });
});
