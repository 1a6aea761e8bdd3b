// ThreadWatch against a scripted piscina: the order of a worker's boot message and piscina's workerCreate, which a
// real pool gives only in a race (test/piscina-contract.test.ts pins that a later worker speaks before it).
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ThreadWatch } from '../dist/src/threads.js';

class ScriptedWorker extends EventEmitter {
  constructor(readonly threadId: number) {
    super();
  }
}

/** The part of piscina ThreadWatch uses: `threads`, its events, and a `run()` that starts a worker. */
class ScriptedPiscina extends EventEmitter {
  readonly threads: ScriptedWorker[] = [];

  run(): Promise<never> {
    this.threads.push(new ScriptedWorker(this.threads.length + 1));
    return Promise.reject(new Error('aborted'));
  }

  /** piscina marks worker `id` ready: its balancer is offered it from now on. */
  markReady(id: number): void {
    this.emit('workerCreate', { id });
  }
}

const events = { onBooted: () => undefined, onBroken: () => undefined, onGone: () => undefined };

function watch(maxTotal: number): { piscina: ScriptedPiscina; threads: ThreadWatch } {
  const piscina = new ScriptedPiscina();
  piscina.threads.push(new ScriptedWorker(1));
  const threads = new ThreadWatch(piscina as never, 1, maxTotal, pino({ level: 'silent' }), events);
  piscina.markReady(1); // piscina marks the workers it starts with at once
  threads.booted(1);
  threads.startRest(); // the first attempt's head start is over
  return { piscina, threads };
}

describe('ThreadWatch.grow', () => {
  it('grew-one-too-many-for-a-booted-worker-not-yet-marked-ready', () => {
    const { piscina, threads } = watch(4);
    threads.grow(1);
    expect(piscina.threads).toHaveLength(2);
    // Worker 2 says it has booted; piscina has not marked it ready yet. Two attempts wait (worker 1 is busy):
    // worker 2 takes one of them once marked, so one more worker is all they need.
    threads.booted(2);
    expect(threads.isBooted(2)).toBe(false);
    threads.grow(2);
    expect(piscina.threads.map((worker) => worker.threadId)).toEqual([1, 2, 3]);
  });

  it('counts a worker marked ready and booted as able to take an attempt, and one still booting as coming', () => {
    const { piscina, threads } = watch(4);
    threads.grow(1);
    threads.grow(1); // worker 2 still boots: nothing more
    expect(piscina.threads).toHaveLength(2);
    piscina.markReady(2);
    threads.booted(2);
    expect(threads.isBooted(2)).toBe(true);
    threads.grow(1); // worker 2 is ready but busy by now (the dispatcher grows only while none is idle)
    expect(piscina.threads).toHaveLength(3);
  });

  it('starts no worker past maxThreads + spares', () => {
    const { piscina, threads } = watch(3);
    threads.grow(5);
    expect(piscina.threads).toHaveLength(3);
  });
});
