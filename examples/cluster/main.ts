// The cluster example (`npm run example:cluster`): a local redis-server on a free port, two consumer processes
// (each a BullMQ worker over a one-thread TaskRuntime) and this process as the producer. It measures jobs/s with
// one consumer process and then two, runs a mix of jobs (quick, CPU-heavy, a runaway with a timeout, one stopped
// from here) and prints which process ran each and how it ended, then SIGKILLs a consumer in the middle of a job and
// times how long until that job has finished in the other. Then it shuts everything down and exits.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { stopJob } from 'light-task-tracker/bullmq';
import { startRedis } from './redis-server.js';

const QUEUE = 'cluster-example';
/** BullMQ's lock and stalled-check period for this example: what bounds the SIGKILL → elsewhere time. */
const LOCK_DURATION_MS = 2000;
const STALLED_INTERVAL_MS = 500;

interface Message { readonly pid: number; readonly event: 'ready' | 'started'; readonly instanceId?: string }

/** One consumer process, as this producer sees it. */
class ConsumerProcess {
  readonly label: string;
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
  readonly #messages: Message[] = [];
  #waiters: Array<{ match: (message: Message) => boolean; resolve: (message: Message) => void }> = [];

  constructor(label: string, port: number) {
    this.label = label;
    const settings = { queue: QUEUE, port, lockDuration: LOCK_DURATION_MS, stalledInterval: STALLED_INTERVAL_MS };
    this.child = fork(fileURLToPath(new URL('./consumer.js', import.meta.url)), [JSON.stringify(settings)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.exited = once(this.child, 'exit');
    this.child.on('message', (message: Message) => {
      this.#messages.push(message);
      this.#waiters = this.#waiters.filter((waiter) => (waiter.match(message) ? (waiter.resolve(message), false) : true));
    });
  }

  /** The BullMQ worker name it runs under (`job.processedBy`). */
  get name(): string {
    return `${hostname()}:${this.child.pid}`;
  }

  waitFor(match: (message: Message) => boolean): Promise<Message> {
    const seen = this.#messages.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  started(jobId: string): Promise<Message> {
    return this.waitFor((message) => message.event === 'started' && message.instanceId?.startsWith(`${QUEUE}:${jobId}:`) === true);
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.connected) this.child.send({ command: 'close', deadlineMs: 1000 });
    await this.exited;
  }
}

const redis = await startRedis();
const queue = new Queue(QUEUE, { connection: redis.connection });
const events = new QueueEvents(QUEUE, { connection: redis.connection });
const consumers: ConsumerProcess[] = [];

// Every job that has ended, from QueueEvents (a job may end before its add() has even returned).
const endedIds = new Set<string>();
let endWaiters: Array<{ ids: readonly string[]; resolve: () => void }> = [];
const onEnd = ({ jobId }: { jobId: string }): void => {
  endedIds.add(jobId);
  endWaiters = endWaiters.filter((waiter) => (waiter.ids.every((id) => endedIds.has(id)) ? (waiter.resolve(), false) : true));
};
events.on('completed', onEnd);
events.on('failed', onEnd);

/** Resolves once every job of `ids` has completed or failed. */
function allEnded(ids: readonly string[]): Promise<void> {
  if (ids.every((id) => endedIds.has(id))) return Promise.resolve();
  return new Promise((resolve) => endWaiters.push({ ids, resolve }));
}

/** Jobs per second for `count` jobs of one kind, from the add to the last end. */
async function throughput(processor: string, count: number, params: unknown): Promise<number> {
  const start = performance.now();
  const jobs = await queue.addBulk(Array.from({ length: count }, (_, i) => ({ name: `${processor}-${i}`, data: { processor, params: params ?? i } })));
  await allEnded(jobs.map((job) => job.id!));
  return count / ((performance.now() - start) / 1000);
}

async function start(label: string): Promise<ConsumerProcess> {
  const consumer = new ConsumerProcess(label, redis.port);
  consumers.push(consumer);
  await consumer.waitFor((message) => message.event === 'ready');
  return consumer;
}

async function howItEnded(job: Job): Promise<{ ran: string; ended: string }> {
  const done = await queue.getJob(job.id!);
  const ran = consumers.find((consumer) => consumer.name === done?.processedBy);
  const state = await done?.getState();
  const ended = state === 'completed' ? `completed: ${String(done?.returnvalue)}` : `${state}: ${done?.failedReason}`;
  return { ran: ran === undefined ? '?' : `${ran.label} (pid ${ran.child.pid})`, ended };
}

try {
  await events.waitUntilReady();
  console.log(`redis-server on 127.0.0.1:${redis.port}; queue "${QUEUE}"; each consumer: 1 thread, lockDuration ${LOCK_DURATION_MS} ms, stalledInterval ${STALLED_INTERVAL_MS} ms\n`);

  // 1. Throughput: one consumer process, then two.
  const a = await start('A');
  const oneCpu = await throughput('cpu', 40, { ms: 25 });
  const oneQuick = await throughput('quick', 500, undefined);
  const b = await start('B');
  const twoCpu = await throughput('cpu', 40, { ms: 25 });
  const twoQuick = await throughput('quick', 500, undefined);
  console.log('| jobs | 1 process, jobs/s | 2 processes, jobs/s | ratio |');
  console.log('| --- | --- | --- | --- |');
  console.log(`| 40 CPU-heavy (25 ms each) | ${oneCpu.toFixed(1)} | ${twoCpu.toFixed(1)} | ${(twoCpu / oneCpu).toFixed(2)} |`);
  console.log(`| 500 quick | ${oneQuick.toFixed(0)} | ${twoQuick.toFixed(0)} | ${(twoQuick / oneQuick).toFixed(2)} |\n`);

  // 2. A mix: quick, CPU-heavy, a runaway with a timeout, and one stopped from this process.
  const mix = await queue.addBulk([
    ...[1, 2, 3].map((n) => ({ name: `quick ${n}`, data: { processor: 'quick', params: n } })),
    ...[1, 2, 3].map((n) => ({ name: `cpu 300 ms ${n}`, data: { processor: 'cpu', params: { ms: 300 } } })),
    { name: 'runaway, timeout 400 ms', data: { processor: 'runaway', timeoutMs: 400 } },
    { name: 'wait a minute (stopped)', data: { processor: 'wait' } },
  ]);
  const toStop = mix.at(-1)!;
  await Promise.race([a.started(toStop.id!), b.started(toStop.id!)]);
  await stopJob({ queue: QUEUE, connection: redis.connection }, toStop.id!);
  await allEnded(mix.map((job) => job.id!));
  console.log('| job | ran in | how it ended |');
  console.log('| --- | --- | --- |');
  for (const job of mix) {
    const { ran, ended } = await howItEnded(job);
    console.log(`| ${job.id} ${job.name} | ${ran} | ${ended} |`);
  }

  // 3. A consumer dies (SIGKILL) in the middle of a job: BullMQ's stalled check hands the job to the other.
  const job = await queue.add('cpu 1000 ms, its consumer killed', { processor: 'cpu', params: { ms: 1000 } });
  const victim = await Promise.race([a, b].map((consumer) => consumer.started(job.id!).then(() => consumer)));
  const survivor = victim === a ? b : a;
  const ended = allEnded([job.id!]);
  const killedAt = performance.now();
  victim.child.kill('SIGKILL');
  await survivor.started(job.id!);
  const restartedMs = performance.now() - killedAt;
  await ended;
  const finishedMs = performance.now() - killedAt;
  const { ran, ended: how } = await howItEnded(job);
  console.log(`| ${job.id} ${job.name} | ${victim.label} killed, then ${ran} | ${how} |\n`);
  console.log(`SIGKILL of consumer ${victim.label} → its job started again in ${survivor.label}: ${restartedMs.toFixed(0)} ms; finished there: ${finishedMs.toFixed(0)} ms (the job itself takes 1000 ms)`);
} finally {
  await Promise.all(consumers.map((consumer) => consumer.close()));
  await Promise.all([queue.close(), events.close()]);
  await redis.stop();
}
