// piscina's behaviours the pool relies on, each pinned against the installed piscina with bare `new Piscina()` pools
// and the fixture workers in fixtures/piscina-contract/ (no library code). package.json's range for piscina is what
// these tests prove: a piscina that fails one of them is not a version the pool can run on. A few pin what the pool
// no longer relies on, and say so: they show why it works as it does (an attempt never waits in piscina's queues).
import { once } from 'node:events';
import { Worker, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import {
  move,
  Piscina,
  queueOptionsSymbol,
  transferableSymbol,
  valueSymbol,
  type PiscinaTask,
  type TaskQueue,
} from 'piscina';

type Task = Parameters<TaskQueue['push']>[0];
type Balancer = NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer'];
type PiscinaWorker = ReturnType<NonNullable<Balancer>> & object;

const fixture = (name: string): string => new URL(`./fixtures/piscina-contract/${name}`, import.meta.url).href;
const TASK = fixture('task.cjs');
const BOOT = fixture('boot.cjs');
const HELLO = fixture('hello.cjs');

const pools: Piscina[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

/** A pool, destroyed after the test. */
function piscina(options: ConstructorParameters<typeof Piscina>[0]): Piscina {
  const pool = new Piscina({ filename: TASK, recordTiming: false, ...options });
  pools.push(pool);
  return pool;
}

/** The value a task carries for its queue and balancer (its tag here). */
const tagOf = (task: object): unknown => (task as Record<symbol, unknown>)[queueOptionsSymbol];
/** A task's payload with its tag under piscina's queue options symbol. */
const tagged = <T extends object>(tag: string, payload: T): T => Object.assign(payload, { [queueOptionsSymbol]: tag });

/** A 'hold' task's gate: the task blocks in its worker until release(). */
class Gate {
  readonly word = new Int32Array(new SharedArrayBuffer(4));
  release(): void {
    Atomics.store(this.word, 0, 1);
    Atomics.notify(this.word, 0);
  }
}

function hold(name: string, gate: Gate): { op: 'hold'; name: string; gate: Int32Array } {
  return tagged(name, { op: 'hold' as const, name, gate: gate.word });
}

/** Resolves with the first event `name` of `emitter` whose first argument passes `test`. */
function event<T = unknown>(emitter: NodeJS.EventEmitter, name: string, test: (value: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const listener = (value: T): void => {
      if (!test(value)) return;
      emitter.off(name, listener);
      resolve(value);
    };
    emitter.on(name, listener);
  });
}

/** Resolves once `worker` has exited (events.once would reject on the 'error' event that may come first). */
const exited = (worker: Worker): Promise<unknown> => new Promise((resolve) => worker.once('exit', resolve));

/** Resolves with the threadId of the worker that started 'hold' task `name`. */
const running = (pool: Piscina, name: string): Promise<number> =>
  event<{ running?: string; threadId: number }>(pool, 'message', (m) => m.running === name).then((m) => m.threadId);

/** One turn of the event loop: what piscina does on a message or a microtask has happened by then. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Whether `promise` has settled by the next turn. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  await turn();
  return done;
}

/** A FIFO queue that records which of its methods piscina calls, with which task. */
class RecordingQueue implements TaskQueue {
  readonly tasks: Task[] = [];
  readonly calls: Array<[method: string, tag: unknown]> = [];
  readonly removed: Task[] = [];
  get size(): number {
    return this.tasks.length;
  }
  push(task: Task): void {
    this.calls.push(['push', tagOf(task)]);
    this.tasks.push(task);
  }
  unshift(task: Task): void {
    this.calls.push(['unshift', tagOf(task)]);
    this.tasks.unshift(task);
  }
  shift(): Task | null {
    const task = this.tasks.shift() ?? null;
    this.calls.push(['shift', task === null ? null : tagOf(task)]);
    return task;
  }
  remove(task: Task): void {
    this.calls.push(['remove', tagOf(task)]);
    this.removed.push(task);
    const at = this.tasks.indexOf(task);
    if (at !== -1) this.tasks.splice(at, 1);
  }
}

/**
 * The pool's kind of balancer: an idle worker (currentUsage 0) it may use, else null. It records every call, and
 * refuses the tasks whose tag is in `refuse` (each refusal once), as the pool's balancer does for a worker it retires.
 */
class RecordingBalancer {
  readonly calls: Array<{ tag: unknown; ids: number[]; usage: number[]; task: PiscinaTask }> = [];
  readonly refuse = new Set<unknown>();
  usable: (worker: PiscinaWorker) => boolean = () => true;
  readonly balance = (task: PiscinaTask, workers: PiscinaWorker[]): PiscinaWorker | null => {
    const tag = tagOf(task);
    this.calls.push({ tag, ids: workers.map((w) => w.id), usage: workers.map((w) => w.currentUsage), task });
    if (this.refuse.delete(tag)) return null;
    return workers.find((w) => w.currentUsage === 0 && this.usable(w)) ?? null;
  };
  tags(): unknown[] {
    return this.calls.map((call) => call.tag);
  }
}

/**
 * A one-thread pool with a recording balancer and queue, whose worker runs 'hold' task `name` (started) until
 * `gate.release()`: what is run next waits.
 */
async function busyPool(name: string) {
  const balancer = new RecordingBalancer();
  const queue = new RecordingQueue();
  const pool = piscina({ minThreads: 1, maxThreads: 1, loadBalancer: balancer.balance, taskQueue: queue });
  const gate = new Gate();
  const held = pool.run(hold(name, gate));
  const threadId = await running(pool, name);
  return { pool, balancer, queue, gate, held, threadId };
}

describe('piscina contract: loadBalancer', () => {
  // The pool picks the worker for each attempt (an idle, booted one, while fewer than maxThreads run) and turns the
  // rest away to wait in the queue, in dispatch order.
  it('is called with the task and the workers; null leaves the task queued; a worker that answers brings a new call', async () => {
    const { pool, balancer, queue, gate, held: first, threadId } = await busyPool('A');
    const second = pool.run(tagged('B', { op: 'id' }));
    expect(await settled(second)).toBe(false);
    expect(queue.size).toBe(1);
    gate.release();
    expect(await first).toBe('A');
    // B ran on the one worker, which piscina offered again once it answered A.
    expect(await second).toBe(threadId);
    expect(balancer.calls.map(({ tag, ids, usage }) => ({ tag, ids, usage }))).toEqual([
      { tag: 'A', ids: [threadId], usage: [0] },
      { tag: 'B', ids: [threadId], usage: [1] },
      { tag: 'B', ids: [threadId], usage: [0] },
    ]);
    expect(balancer.calls[0]?.task).toMatchObject({ isAbortable: false });
  });

  // The pool names workers by the `id` its balancer sees and by the threadId of `threads` and of its workers'
  // messages, as one number.
  it("gives each worker's id as its Worker's threadId", async () => {
    const balancer = new RecordingBalancer();
    const pool = piscina({ minThreads: 2, maxThreads: 2, loadBalancer: balancer.balance });
    const gates = [new Gate(), new Gate()];
    const tasks = [pool.run(hold('A', gates[0] as Gate)), pool.run(hold('B', gates[1] as Gate))];
    const ids = await Promise.all([running(pool, 'A'), running(pool, 'B')]);
    const threadIds = pool.threads.map((worker) => worker.threadId);
    expect(new Set(balancer.calls.flatMap((call) => call.ids))).toEqual(new Set(threadIds));
    expect(new Set(ids)).toEqual(new Set(threadIds));
    for (const gate of gates) gate.release();
    await Promise.all(tasks);
  });

  // The pool hands a worker it started (ThreadWatch.grow) the next attempt once piscina has emitted its workerCreate:
  // by then the balancer is offered it. piscina's own call on its queue as the worker comes up is not relied on (the
  // queue is empty).
  it('is called again when a worker started on demand comes up, after its workerCreate', async () => {
    const balancer = new RecordingBalancer();
    const order: string[] = [];
    const pool = piscina({ minThreads: 0, maxThreads: 1, loadBalancer: (task, workers) => (order.push(`balance ${workers.length}`), balancer.balance(task, workers)) });
    pool.on('workerCreate', () => order.push('workerCreate'));
    expect(pool.threads).toHaveLength(0);
    const result = pool.run(tagged('A', { op: 'id' }));
    // Turned away (no worker), A makes piscina start one.
    expect(pool.threads).toHaveLength(1);
    expect(await result).toBe(pool.threads[0]?.threadId);
    expect(order).toEqual(['balance 0', 'workerCreate', 'balance 1']);
  });

  // Why the pool never leaves an attempt waiting in piscina's queue (it starts the workers it needs itself, see
  // ThreadWatch.grow): whenever a worker comes up or answers while a task the balancer turns away waits there, piscina
  // starts a worker for each refusal, up to maxThreads.
  it('starts workers up to maxThreads for a queued task the balancer keeps turning away, as soon as a worker comes up', async () => {
    const balancer = new RecordingBalancer();
    const pool = piscina({ minThreads: 1, maxThreads: 4, idleTimeout: Infinity, loadBalancer: balancer.balance });
    await event(pool, 'workerCreate');
    balancer.usable = () => false;
    const waiting = pool.run(tagged('B', { op: 'id' })); // turned away at run(): piscina starts a second worker for it
    expect(pool.threads).toHaveLength(2);
    await event(pool, 'workerCreate'); // the second comes up: B, offered and turned away again, brings two more
    expect(pool.threads).toHaveLength(4);
    balancer.usable = () => true;
    expect(pool.threads.map((worker) => worker.threadId)).toContain(await waiting);
  });

  // The pool's balancer only gives attempts to workers it has seen created: piscina also offers it workers that are
  // still booting whenever a worker answers (run() itself offers only the ready ones).
  it('is offered workers still booting when a worker answers', async () => {
    const control = new Int32Array(new SharedArrayBuffer(8));
    const created = new Set<number>();
    const balancer = new RecordingBalancer();
    balancer.usable = (worker) => created.has(worker.id);
    const pool = piscina({ filename: BOOT, workerData: { control }, minThreads: 1, maxThreads: 2, loadBalancer: balancer.balance });
    pool.on('workerCreate', (worker: PiscinaWorker) => created.add(worker.id));
    await event(pool, 'workerCreate'); // else A, turned away, would make piscina start a second worker at once
    const gate = new Gate();
    const first = pool.run(hold('A', gate));
    const one = await running(pool, 'A');
    Atomics.store(control, 0, 2); // boots from now on wait
    const booting = event<{ booting?: number }>(pool, 'message', (m) => m.booting !== undefined);
    const second = pool.run(tagged('B', { op: 'id' }));
    const two = (await booting).booting as number;
    gate.release();
    await first;
    expect(await second).toBe(one);
    expect(created.has(two)).toBe(false);
    // run() offered B the ready worker alone; A's answer offered it the booting one too.
    expect(balancer.calls.filter((call) => call.tag === 'B').map((call) => call.ids.toSorted())).toEqual([[one], [one, two].toSorted()]);
    Atomics.store(control, 0, 0);
    Atomics.notify(control, 0);
    await event<PiscinaWorker>(pool, 'workerCreate', (worker) => worker.id === two);
  });
});

describe('piscina contract: taskQueue', () => {
  // Not relied on since attempts wait only in the dispatcher's own queue (the pool gives piscina no taskQueue): a
  // custom queue could keep tasks in order only because every waiting task passes through it. piscina pushes a task
  // turned away at run() and every task run() while others wait, shifts them to offer them, and pushes one turned
  // away again at the back (stricterFIFO off: unshift is never called).
  it('is pushed every task that waits, shifted to offer them, and pushed again (at the back) what is turned away', async () => {
    const { pool, balancer, queue, gate, held: first } = await busyPool('A');
    const rest = [pool.run(tagged('B', { op: 'id' })), pool.run(tagged('C', { op: 'id' }))];
    expect(queue.calls).toEqual([['push', 'B'], ['push', 'C']]);
    gate.release();
    await Promise.all([first, ...rest]);
    // A answered: B goes, C is turned away (the worker is busy) and pushed back; B answered: C goes.
    expect(queue.calls).toEqual([['push', 'B'], ['push', 'C'], ['shift', 'B'], ['shift', 'C'], ['push', 'C'], ['shift', 'C']]);
    expect(balancer.tags()).toEqual(['A', 'B', 'B', 'C', 'C']);
  });

  // The pool's attempt rides on its request under queueOptionsSymbol: the queue and the balancer read it there, and
  // it never travels to the worker (it holds functions, which cannot be cloned).
  it("carries the run() argument's queueOptionsSymbol value on the queue's task and the balancer's, never to the worker", async () => {
    const { pool, balancer, queue, gate, held: first } = await busyPool('A');
    const attempt = { owner: () => 'not cloneable' };
    const second = pool.run(Object.assign({ op: 'symbols' }, { [queueOptionsSymbol]: attempt }));
    expect(tagOf(queue.tasks[0] as Task)).toBe(attempt);
    gate.release();
    await first;
    expect(await second).toBe(0);
    expect(balancer.calls.filter((call) => call.tag === attempt)).toHaveLength(2);
  });
});

describe('piscina contract: run() with a signal', () => {
  // An attempt cancelled while it waits leaves the queue through the queue's remove(), and its run() settles.
  it('rejects a queued task with an AbortError on abort and takes it out through the queue’s remove()', async () => {
    const { pool, balancer, queue, gate, held: first } = await busyPool('A');
    const waiting = pool.run(tagged('B', { op: 'id' }));
    const controller = new AbortController();
    const aborted = pool.run(tagged('C', { op: 'id' }), { signal: controller.signal });
    expect(queue.calls).toEqual([['push', 'B'], ['push', 'C']]);
    const pushed = queue.tasks[1];
    controller.abort('no longer wanted');
    const error = await aborted.then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ name: 'AbortError', cause: 'no longer wanted' });
    expect(queue.calls.at(-1)).toEqual(['remove', 'C']);
    expect(queue.removed).toEqual([pushed]);
    gate.release();
    await Promise.all([first, waiting]);
    expect(balancer.tags()).toEqual(['A', 'B', 'B']);
  });

  // Why the pool gives piscina no signal for an attempt that may wait: a signalled task the balancer turns away goes
  // to piscina's own queue (out of the custom queue's sight), which is offered before the custom queue, puts a task
  // turned away again at its back, and is skipped by run(), whose task is offered at once while they wait.
  it('keeps a turned-away task that has a signal in a queue of its own, and reorders those tasks', async () => {
    const { pool, balancer, queue, gate, held: first } = await busyPool('H');
    const { signal } = new AbortController();
    const ends: string[] = [];
    const run = (tag: string, withSignal: boolean): Promise<void> =>
      pool.run(tagged(tag, { op: 'id' }), withSignal ? { signal } : {}).then(() => void ends.push(tag));
    const waiting = [run('A', true), run('B', true)];
    expect(queue.calls).toEqual([]);
    expect(pool.queueSize).toBe(2);
    balancer.refuse.add('A'); // turned away once more, as a worker being retired makes the pool's balancer do
    gate.release();
    await first;
    expect(await settled(Promise.race(waiting))).toBe(false); // the worker is idle, and both wait
    const overtakes = run('C', false);
    await Promise.all([...waiting, overtakes]);
    expect(ends).toEqual(['C', 'B', 'A']);
    expect(queue.calls).toEqual([]);
    expect(balancer.calls.find((call) => call.tag === 'A')?.task).toMatchObject({ isAbortable: true });
  });

  // The contrast, not relied on (no attempt waits in piscina's queues): without a signal, a task turned away on a
  // re-offer waits in the custom queue until a worker answers or comes up, even beside an idle worker: run() only
  // pushes behind it.
  it('leaves tasks turned away on a re-offer waiting beside an idle worker until a worker answers or comes up', async () => {
    const { pool, balancer, queue, gate, held: first } = await busyPool('H');
    const waiting = [pool.run(tagged('A', { op: 'id' })), pool.run(tagged('B', { op: 'id' }))];
    balancer.refuse.add('A');
    gate.release();
    await first;
    const calls = balancer.calls.length;
    waiting.push(pool.run(tagged('C', { op: 'id' })));
    expect(await settled(Promise.race(waiting))).toBe(false);
    expect(balancer.calls.length).toBe(calls);
    expect(pool.idleThreads).toBe(1);
    expect(queue.tasks.map(tagOf)).toEqual(['B', 'A', 'C']);
  });

  // How the pool starts a worker of its own accord (the first worker's companions, a replacement): a task its
  // balancer turns away, aborted at once. piscina starts the worker, and the task leaves no trace but a remove() of a
  // task the custom queue never held.
  it('starts a worker for a signalled task turned away at run(), and forgets the task on its abort', async () => {
    const balancer = new RecordingBalancer();
    balancer.usable = () => false;
    const queue = new RecordingQueue();
    // (idleTimeout: a worker above minThreads with nothing to do would otherwise leave at once.)
    const pool = piscina({ minThreads: 1, maxThreads: 2, idleTimeout: Infinity, loadBalancer: balancer.balance, taskQueue: queue });
    const [first] = pool.threads as [Worker];
    const controller = new AbortController();
    const spawn = pool.run(tagged('spawn', { op: 'id' }), { signal: controller.signal });
    expect(pool.threads).toHaveLength(2);
    controller.abort();
    await expect(spawn).rejects.toMatchObject({ name: 'AbortError' });
    expect(queue.calls).toEqual([['remove', 'spawn']]);
    await event<PiscinaWorker>(pool, 'workerCreate', (worker) => worker.id !== first.threadId);
    expect(balancer.tags()).toEqual(['spawn']); // its coming up found nothing to offer
    expect(pool.threads).toHaveLength(2);
  });

  // The same while tasks wait: run() then queues the task (in the custom queue: it asks the balancer nothing) and
  // starts a worker all the same, below maxThreads; the abort takes the task out through remove().
  it('starts a worker for a task run() while others wait, below maxThreads, and takes it out of the queue on abort', async () => {
    const balancer = new RecordingBalancer();
    const queue = new RecordingQueue();
    const pool = piscina({ minThreads: 1, maxThreads: 2, loadBalancer: balancer.balance, taskQueue: queue });
    await event(pool, 'workerCreate');
    const gate = new Gate();
    const first = pool.run(hold('A', gate));
    await running(pool, 'A');
    balancer.usable = () => false;
    const waiting = pool.run(tagged('B', { op: 'id' })); // turned away: piscina starts a second worker for it
    const created = event(pool, 'workerCreate');
    expect(pool.threads).toHaveLength(2);
    balancer.refuse.add('B');
    await created; // B is offered the second worker, and refused once more
    const controller = new AbortController();
    const spawn = pool.run(tagged('spawn', { op: 'id' }), { signal: controller.signal });
    expect(pool.threads).toHaveLength(2); // at maxThreads: no third
    controller.abort();
    await expect(spawn).rejects.toMatchObject({ name: 'AbortError' });
    expect(queue.calls.slice(-2)).toEqual([['push', 'spawn'], ['remove', 'spawn']]);
    balancer.usable = () => true;
    gate.release();
    expect(await Promise.all([first, waiting])).toHaveLength(2);
  });

  // A worker running a task with a signal reads as fully used (Infinity) in the balancer; an abort then terminates
  // it, and piscina starts a replacement to keep minThreads.
  it('terminates the worker of a running task on abort, which counts as Infinity meanwhile', async () => {
    const balancer = new RecordingBalancer();
    const pool = piscina({ minThreads: 1, maxThreads: 1, loadBalancer: balancer.balance });
    const controller = new AbortController();
    const aborted = pool.run(hold('A', new Gate()), { signal: controller.signal });
    const threadId = await running(pool, 'A');
    const next = pool.run(tagged('B', { op: 'id' }));
    expect(balancer.calls.at(-1)).toMatchObject({ tag: 'B', usage: [Infinity] });
    const destroyed = event(pool, 'workerDestroy');
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    await destroyed;
    const replacement = await next;
    expect(replacement).not.toBe(threadId);
    expect(pool.threads.map((worker) => worker.threadId)).toEqual([replacement]);
  });
});

describe('piscina contract: transfers', () => {
  // The pool moves the caller's buffers with an attempt: they must be gone once run() returns, which piscina does
  // only when it posts the task at once (a task that waits keeps them until it is posted).
  it('moves the transferList when it posts the task: at once, or once the task leaves the queue', async () => {
    const pool = piscina({ minThreads: 1, maxThreads: 1 });
    const now = new ArrayBuffer(16);
    const posted = pool.run({ op: 'bytes', buffer: now }, { transferList: [now] });
    expect(now.byteLength).toBe(0);
    expect(await posted).toBe(16);
    const gate = new Gate();
    const first = pool.run(hold('A', gate));
    await running(pool, 'A');
    const later = new ArrayBuffer(16);
    const queued = pool.run({ op: 'bytes', buffer: later }, { transferList: [later] });
    expect(later.byteLength).toBe(16);
    gate.release();
    await first;
    expect(await queued).toBe(16);
    expect(later.byteLength).toBe(0);
  });

  // A worker's reply moves its buffers with piscina's move() over a Transferable ({ [transferableSymbol]: list,
  // [valueSymbol]: value }): the caller gets the value, the buffers leave the worker.
  it('transfers what a worker returns with move() of a Transferable, and resolves with its value', async () => {
    expect([Piscina.move, Piscina.transferableSymbol, Piscina.valueSymbol, Piscina.queueOptionsSymbol]).toEqual([move, transferableSymbol, valueSymbol, queueOptionsSymbol]);
    const pool = piscina({ minThreads: 1, maxThreads: 1 });
    const value = (await pool.run({ op: 'move' })) as { bytes: Uint8Array; label: string };
    expect(value.label).toBe('moved');
    expect([...value.bytes]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await pool.run({ op: 'kept' })).toBe(0); // detached in the worker: moved, not copied
  });
});

describe('piscina contract: events', () => {
  // The pool takes its workers' own messages (boot, module loads, log lines) from the pool's 'message' event.
  it("re-emits a worker's parentPort messages as 'message', and none of its own", async () => {
    const pool = piscina({ minThreads: 1, maxThreads: 1 });
    const messages: unknown[] = [];
    pool.on('message', (message: unknown) => messages.push(message));
    const message = event(pool, 'message');
    expect(await pool.run({ op: 'post', message: { hello: 'pool' } })).toBe('posted');
    expect(await message).toEqual({ hello: 'pool' });
    // piscina's own "ready", which the worker posted on the same port before, was not re-emitted.
    expect(messages).toEqual([{ hello: 'pool' }]);
  });

  // The pool logs, as the cause of a boot failure, the error piscina reports of a worker with no task.
  it("emits 'error' with the error of a worker that fails while it has no task", async () => {
    const control = new Int32Array(new SharedArrayBuffer(8));
    control[0] = 1; // boots throw
    const pool = piscina({ filename: BOOT, workerData: { control }, minThreads: 1, maxThreads: 1 });
    pool.on('error', () => undefined); // its replacement fails too, after the test may be over
    const error = await event<Error>(pool, 'error');
    expect(error.message).toMatch(/^boot failed in thread \d+$/);
  });

  // The pool learns of a worker's departure on workerDestroy, and looks at `threads` one turn later: piscina emits it
  // while the worker is still listed (its threadId -1 once it has exited), then lets go of it, starts the
  // replacement, and only then fails the worker's task.
  it('emits workerDestroy while the worker is still in threads, before its task fails; the replacement is in by then', async () => {
    const pool = piscina({ minThreads: 1, maxThreads: 1 });
    const task = pool.run(hold('A', new Gate()));
    await running(pool, 'A');
    const [worker] = pool.threads as [Worker];
    const seen: Array<{ id: number; listed: boolean }> = [];
    pool.on('workerDestroy', (destroyed: PiscinaWorker) => seen.push({ id: destroyed.id, listed: pool.threads.includes(worker) }));
    const failed = task.then(
      () => undefined,
      (error: unknown) => ({ error, seen: [...seen], listed: pool.threads.includes(worker), threads: pool.threads.length }),
    );
    await worker.terminate();
    expect(await failed).toMatchObject({ seen: [{ id: -1, listed: true }], listed: false, threads: 1 });
  });
});

describe('piscina contract: threads', () => {
  // The pool force-stops an attempt with a real terminate() of the Worker that `threads` lists for it.
  it('lists the live Workers; terminate() of one fails its task, drops it, and starts a replacement below minThreads', async () => {
    const pool = piscina({ minThreads: 1, maxThreads: 1 });
    const task = pool.run(hold('A', new Gate()));
    const threadId = await running(pool, 'A');
    const [worker] = pool.threads;
    expect(worker).toBeInstanceOf(Worker);
    expect(worker?.threadId).toBe(threadId);
    const created = event<PiscinaWorker>(pool, 'workerCreate');
    await worker?.terminate();
    await expect(task).rejects.toThrow('worker exited with code: 1');
    expect(pool.threads).not.toContain(worker);
    const replacement = await created;
    expect(pool.threads.map((w) => w.threadId)).toEqual([replacement.id]);
    expect(await pool.run({ op: 'id' })).toBe(replacement.id);
  });

  // A thread stuck in a system call ignores terminate() for as long as the call lasts: the pool then emits 'exit' on
  // the Worker itself, so that piscina lets go of it. Its real exit, later, must change nothing.
  it("takes a worker out on a synthetic 'exit' event, and ignores its real exit after", async () => {
    const pool = piscina({ minThreads: 1, maxThreads: 1 });
    const task = pool.run(hold('A', new Gate()));
    await running(pool, 'A');
    const [worker] = pool.threads as [Worker];
    const destroys: PiscinaWorker[] = [];
    const errors: unknown[] = [];
    pool.on('workerDestroy', (w: PiscinaWorker) => destroys.push(w));
    pool.on('error', (error: unknown) => errors.push(error));
    const created = event<PiscinaWorker>(pool, 'workerCreate');
    worker.emit('exit', -1);
    expect(pool.threads).not.toContain(worker);
    expect(pool.threads).toHaveLength(1); // its replacement, booting
    await expect(task).rejects.toThrow('worker exited with code: -1');
    await exited(worker); // the real exit: piscina terminated the thread as it let go of it
    const replacement = await created;
    await turn();
    expect(destroys).toHaveLength(1);
    expect(errors).toEqual([]);
    expect(pool.threads.map((w) => w.threadId)).toEqual([replacement.id]);
  });
});

describe('piscina contract: boot order', () => {
  // The pool registers a worker's own MessagePort, posted as the worker boots, before it gives that worker a task:
  // a worker started after the pool's construction speaks on parentPort before piscina takes it for ready.
  it("emits a later worker's boot message (with a transferred port) before its workerCreate and its first task", async () => {
    const order: string[] = [];
    const ran = new Map<number, Promise<unknown>>();
    const pool = piscina({
      filename: HELLO,
      minThreads: 0,
      maxThreads: 1,
      loadBalancer: (_task, workers) => {
        order.push(`balance [${workers.map((w) => (ran.has(w.id) ? 'known' : 'unknown')).join()}]`);
        return workers[0] ?? null;
      },
    });
    pool.on('message', ({ hello, port }: { hello: number; port: MessagePort }) => {
      order.push('hello');
      ran.set(hello, once(port, 'message'));
    });
    pool.on('workerCreate', () => order.push('workerCreate'));
    const threadId = await pool.run({ name: 'A' });
    expect(order).toEqual(['balance []', 'hello', 'workerCreate', 'balance [known]']);
    expect(await ran.get(threadId)).toEqual([{ ran: 'A', threadId }]);
  });

  // The pool's first workers are another matter: piscina takes them for ready at once, so its balancer is offered
  // them (and workerCreate emitted) before they boot, and their boot's end asks the balancer nothing.
  it('takes the workers it starts with for ready at once, and does not offer the queue again when they boot', async () => {
    const order: string[] = [];
    const pool = piscina({
      filename: HELLO,
      minThreads: 1,
      maxThreads: 1,
      loadBalancer: (_task, _workers) => (order.push('balance'), null),
    });
    pool.on('workerCreate', () => order.push('workerCreate'));
    pool.on('message', () => order.push('hello'));
    const [worker] = pool.threads as [Worker];
    const task = pool.run({ name: 'A' });
    // The worker's second message to the pool is piscina's own "ready": by its event, piscina has handled it.
    let messages = 0;
    await new Promise<void>((resolve) => worker.on('message', () => ++messages === 2 && resolve()));
    await turn();
    // run() offered it the task, and the microtask that announced it offered the task again: both before its boot.
    expect(order).toEqual(['balance', 'workerCreate', 'balance', 'hello']);
    expect(await settled(task)).toBe(false);
  });
});

describe('piscina contract: workers that die while they boot', () => {
  // The pool takes a departure that no booted worker accounts for as a worker that died while it booted: piscina
  // then keeps its worker count up no more, for the rest of the pool's life (a run() still starts a worker on demand).
  it('replaces no worker once one died while it booted, not even a booted one; run() still starts one on demand', async () => {
    const control = new Int32Array(new SharedArrayBuffer(8));
    const pool = piscina({ filename: BOOT, workerData: { control }, minThreads: 1, maxThreads: 1 });
    const errors: Error[] = [];
    pool.on('error', (error: Error) => errors.push(error));
    await pool.run({ op: 'id' });
    Atomics.store(control, 0, 1); // boots throw from now on
    const [booted] = pool.threads as [Worker];
    await booted.terminate();
    // A booted worker's death is replaced; the replacement dies as it boots, and is not.
    const [replacement] = pool.threads as [Worker];
    const replacementId = replacement.threadId;
    await exited(replacement);
    await turn();
    expect(errors.map((error) => error.message)).toEqual([`boot failed in thread ${replacementId}`]);
    expect(pool.threads).toHaveLength(0);
    expect(Atomics.load(control, 1)).toBe(2);
    Atomics.store(control, 0, 0);
    const onDemand = await pool.run({ op: 'id' });
    expect(Atomics.load(control, 1)).toBe(3);
    const [third] = pool.threads as [Worker];
    expect(third.threadId).toBe(onDemand);
    await third.terminate();
    await turn();
    expect(pool.threads).toHaveLength(0);
    expect(Atomics.load(control, 1)).toBe(3);
  });

  // What the pool settles itself when its workers cannot boot: piscina fails a task it gave the dying worker (with
  // the worker's error, and no 'error' event), and leaves a task that waits in its queue waiting.
  it('fails the task given to a worker that dies as it boots, and leaves the queued one waiting', async () => {
    const control = new Int32Array(new SharedArrayBuffer(8));
    control[0] = 1; // boots throw
    const pool = piscina({ filename: BOOT, workerData: { control }, minThreads: 1, maxThreads: 1 });
    const errors: Error[] = [];
    pool.on('error', (error: Error) => errors.push(error));
    const given = pool.run({ op: 'id' }); // the first worker is taken for ready at once: the task is posted to it
    const waiting = pool.run({ op: 'id' });
    await expect(given).rejects.toThrow(/^boot failed in thread \d+$/);
    expect(errors).toEqual([]);
    const [replacement] = pool.threads as [Worker];
    await exited(replacement);
    expect(await settled(waiting)).toBe(false);
    expect(errors).toHaveLength(1);
    expect(pool.threads).toHaveLength(0);
    expect(pool.queueSize).toBe(1);
  });
});

describe('piscina contract: destroy', () => {
  // runtime.close() ends with the pool's destroy(): no worker may outlive it, and no task may be left unsettled.
  it('fails running and queued tasks, and resolves once every worker has exited', async () => {
    const pool = piscina({ minThreads: 2, maxThreads: 2 });
    const tasks = [pool.run(hold('A', new Gate())), pool.run(hold('B', new Gate()))];
    await Promise.all([running(pool, 'A'), running(pool, 'B')]);
    tasks.push(pool.run({ op: 'id' }));
    const order: string[] = [];
    for (const worker of pool.threads) void exited(worker).then(() => order.push('exit'));
    const results = Promise.allSettled(tasks);
    await pool.destroy();
    order.push('destroyed');
    expect(order).toEqual(['exit', 'exit', 'destroyed']);
    expect(pool.threads).toEqual([]);
    expect((await results).map((result) => result.status === 'rejected' && (result.reason as Error).message)).toEqual([
      'Terminating worker thread',
      'Terminating worker thread',
      'Terminating worker thread',
    ]);
  });
});

describe('piscina contract: options', () => {
  // The pool's balancer keeps one attempt per worker itself: concurrentTasksPerWorker does not bind a custom balancer.
  it('posts to whatever worker the balancer returns, busy or not, whatever concurrentTasksPerWorker says', async () => {
    const usage: number[] = [];
    const pool = piscina({
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: 1,
      loadBalancer: (_task, workers) => (usage.push(workers[0]?.currentUsage ?? -1), workers[0] ?? null),
    });
    const gate = new Gate();
    const first = pool.run(hold('A', gate));
    const threadId = await running(pool, 'A');
    const rest = [pool.run({ op: 'id' }), pool.run({ op: 'id' })];
    expect(usage).toEqual([0, 1, 2]);
    gate.release();
    expect(await Promise.all([first, ...rest])).toEqual(['A', threadId, threadId]);
  });

  // The pool starts minThreads + spares with the pool, and runs at most maxThreads + spares: piscina starts a worker
  // for a task turned away while it has fewer than maxThreads, and never more.
  it('starts minThreads workers with the pool, and one for a turned-away task up to maxThreads', async () => {
    const pool = piscina({ minThreads: 1, maxThreads: 2, loadBalancer: (_task, _workers) => null });
    expect(pool.threads).toHaveLength(1);
    const [first] = pool.threads as [Worker];
    const created = event<PiscinaWorker>(pool, 'workerCreate', (worker) => worker.id !== first.threadId);
    const tasks = [pool.run({ op: 'id' })];
    expect(pool.threads).toHaveLength(2);
    tasks.push(pool.run({ op: 'id' }));
    await created; // its coming up offers it both tasks: turned away, and no third worker
    expect(pool.threads).toHaveLength(2);
    expect(await settled(Promise.race(tasks))).toBe(false);
  });

  // Workers above minThreads (a burst's) stay idle a while before piscina lets them go; minThreads stay.
  it('keeps a worker above minThreads while it is idle, lets it go after idleTimeout, and keeps minThreads', async () => {
    const pool = piscina({ minThreads: 1, maxThreads: 2, idleTimeout: 20 });
    const gate = new Gate();
    const first = pool.run(hold('A', gate));
    const one = await running(pool, 'A');
    const gone = event<PiscinaWorker>(pool, 'workerDestroy');
    const two = await pool.run({ op: 'id' }); // started on demand: the first worker is busy
    expect(two).not.toBe(one);
    expect(pool.threads).toHaveLength(2);
    expect((await gone).id).toBe(two);
    expect(pool.threads.map((worker) => worker.threadId)).toEqual([one]);
    gate.release();
    await first;
  });

  // The pool hands its workers their shared memory (flags, stamps) in workerData and caps their heaps with
  // resourceLimits.
  it('starts every worker with resourceLimits and a clone of workerData whose shared memory is shared', async () => {
    const seen = new Int32Array(new SharedArrayBuffer(4));
    const pool = piscina({ minThreads: 2, maxThreads: 2, resourceLimits: { maxOldGenerationSizeMb: 64 }, workerData: { seen, label: 'data' } });
    const results = await Promise.all([pool.run({ op: 'boot' }), pool.run({ op: 'boot' })]);
    expect(results).toEqual([
      { maxOldGenerationSizeMb: 64, label: 'data', threadId: pool.threads[0]?.threadId },
      { maxOldGenerationSizeMb: 64, label: 'data', threadId: pool.threads[1]?.threadId },
    ]);
    expect(Atomics.load(seen, 0)).toBe(2);
  });
});
