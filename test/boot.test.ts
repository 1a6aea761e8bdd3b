// Workers that are still booting: piscina must never be handed an attempt for one, because terminating a booting
// worker (a force-stop of that attempt) makes piscina stop replacing dead workers for the rest of the pool's life.
import { readdirSync, readFileSync } from 'node:fs';
import { transformSync } from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, processors } from './support/fixtures.js';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

/** The test's side of boot-gate.js: sees each booting worker, and lets it finish now or later. */
class BootGate {
  readonly #channel = new BroadcastChannel('light-task-tracker-boot-gate');
  readonly held: number[] = [];
  #holding = false;
  #waiters: Array<{ count: number; resolve: () => void }> = [];

  constructor() {
    this.#channel.onmessage = ({ data }: { data: { booting: number } }) => {
      if (!this.#holding) return this.#channel.postMessage(data.booting);
      this.held.push(data.booting);
      this.#waiters = this.#waiters.filter((waiter) => {
        if (this.held.length < waiter.count) return true;
        waiter.resolve();
        return false;
      });
    };
  }

  hold(): void {
    this.#holding = true;
  }

  /** Resolves once `count` workers are held in their boot. */
  heldCount(count: number): Promise<void> {
    if (this.held.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  release(threadId: number): void {
    this.#channel.postMessage(threadId);
  }

  open(): void {
    this.#holding = false;
    this.held.length = 0;
    this.#channel.postMessage('open');
  }

  close(): void {
    this.#channel.close();
  }
}

const gates: BootGate[] = [];
afterEach(() => {
  for (const gate of gates.splice(0)) gate.close();
});

describe('workers still booting', () => {
  it('are never given an attempt, so force-stopping it costs no worker and the pool keeps replacing dead ones', { timeout: 10_000 }, async () => {
    const gate = new BootGate();
    gates.push(gate);
    const { runtime, logs } = runtimes.make({
      processors: { ...processors, gate: fixture('boot-gate') },
      maxThreads: 2,
      spareThreads: 0,
      forceStopGraceMs: 0,
    });
    await runtime.ready();
    // Once the gate module has loaded in one worker, every worker that boots later imports it as it boots.
    await runtime.run('gate');

    // Both workers spin; two more instances wait for a slot.
    const a1 = runtime.submit({ processor: 'spinRunaway', instanceId: 'a1' });
    const a2 = runtime.submit({ processor: 'spinRunaway', instanceId: 'a2' });
    await Promise.all([logs.waitForProcessor('a1', 'started'), logs.waitForProcessor('a2', 'started')]);
    const b1 = runtime.submit({ processor: 'spinRunaway', instanceId: 'b1' });
    const b2 = runtime.submit({ processor: 'spinRunaway', instanceId: 'b2' });

    // Force-stop both: their workers are terminated, b1 and b2 go to the pool, and both replacements stay booting.
    gate.hold();
    runtime.stop('a1');
    runtime.stop('a2');
    await Promise.all([a1.done, a2.done, gate.heldCount(2)]);

    // One replacement finishes booting and takes one of b1, b2; the other is still booting and must not be given
    // the second, which waits for it instead.
    gate.release(gate.held[0] as number);
    const first = await logs.waitFor((line) => line.source === 'processor' && line.msg === 'started' && (line.instanceId === 'b1' || line.instanceId === 'b2'));
    const [running, waiting] = first.instanceId === 'b1' ? [b1, b2] : [b2, b1];
    runtime.stop(waiting.instanceId);
    expect((await waiting.done).status).toBe('STOPPED');
    expect(logs.withMessage('started', waiting.instanceId)).toEqual([]);
    // Opened only after the turn on which a force-stop reaches piscina (one turn after the instance settles): had
    // the waiting attempt been given to the booting worker, that worker is terminated before it can finish booting.
    await new Promise((resolve) => setImmediate(resolve));
    gate.open();
    runtime.stop(running.instanceId);
    expect((await running.done).status).toBe('STOPPED');
    await runtime.ready();
    expect(runtime.threads).toBe(2);

    // A worker that dies under its attempt is still replaced.
    const dies = runtime.submit({ processor: 'exit' });
    expect((await dies.done).reason).toBe('WORKER_DIED');
    await runtime.ready();
    expect(runtime.threads).toBe(2);
    const after = runtime.submit({ processor: 'succeed' });
    expect((await after.done).status).toBe('SUCCEED');
  });
});

// V8 runs a module with a top-level await through its own call (SourceTextModule::ExecuteAsyncModule), and Node 22's
// V8 aborted the whole process there as a worker was terminated while its module was evaluated. The worker's own
// modules must not have one (a processor's may: that is the processor's own). esbuild refuses a top-level await in
// CommonJS output, which is the check.
describe('the worker\'s own modules', () => {
  const hasTopLevelAwait = (code: string): boolean => {
    try {
      transformSync(code, { format: 'cjs', logLevel: 'silent' });
      return false;
    } catch {
      return true;
    }
  };

  it('terminated-mid-evaluation-aborted-node-22: none has a top-level await', () => {
    expect(hasTopLevelAwait('const a = 1;\nawait Promise.resolve(a);\nexport default a;')).toBe(true); // the check works
    const folder = new URL('../dist/workers/', import.meta.url);
    const names = readdirSync(folder).filter((name) => name.endsWith('.js'));
    expect(names).toContain('attempt.js');
    for (const name of names) {
      const code = readFileSync(new URL(name, folder), 'utf8');
      expect(hasTopLevelAwait(code), name).toBe(false);
    }
  });
});
