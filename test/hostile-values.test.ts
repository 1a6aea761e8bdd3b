// Issue "Hostile processors": a value that cannot cross to the main thread fails its instance with
// VALUE_NOT_CLONEABLE, whatever it is — a Proxy (Vue's reactive(), MobX, immer drafts), one whose traps throw, one
// nested in a Map, a Set, an array or an object, a detached buffer — never retried, and the worker lives on. Before the
// fix each of these went to postMessage as plain data: the clone error killed the worker on every attempt (WORKER_DIED
// "[object Object]", retried, a worker killed each time).
import { describe, expect, it } from 'vitest';
import { MemoryReporter, OutcomeReason } from 'light-task-tracker';
import { fixture, processors } from './support/fixtures.js';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();
const registry = { ...processors, hostileValue: fixture('hostile-value') };

describe('a value that cannot cross becomes VALUE_NOT_CLONEABLE, whatever it is', () => {
  const variants = ['proxy', 'throwing-traps', 'revoked', 'in-map', 'in-set', 'in-array', 'in-object', 'detached', 'detached-view'] as const;

  it.each(variants)('a %s value: FAILED VALUE_NOT_CLONEABLE, not retried, on the same worker, which lives on', async (variant) => {
    const { runtime } = runtimes.make({ processors: registry, maxThreads: 1, spareThreads: 0 });
    const thread = await runtime.run('hostileValue', { variant: 'thread' });
    const started = runtime.metrics().workersStarted;
    const outcome = await runtime.submit({ processor: 'hostileValue', jobParams: { variant }, maxRetries: 2 }).done;
    expect(outcome).toMatchObject({ status: 'FAILED', reason: OutcomeReason.VALUE_NOT_CLONEABLE, attempts: 1, value: undefined });
    expect(outcome.result).toMatch(/^processor "hostileValue" returned a value that cannot be cloned: .*could not be cloned\.$/);
    // The same worker takes the next instance: none died, none started.
    expect(await runtime.run('hostileValue', { variant: 'thread' })).toBe(thread);
    expect(runtime.metrics()).toMatchObject({ workersStarted: started, workerDeaths: 0 });
  });

  it('a workflow value changed after it was appended travels as it was when appended, and the worker lives on', async () => {
    const reporter = new MemoryReporter();
    const { runtime } = runtimes.make({ processors: registry, maxThreads: 1, spareThreads: 0, reporter });
    const thread = await runtime.run('hostileValue', { variant: 'thread' });
    const tracker = runtime.submit({ processor: 'hostileValue', jobParams: { variant: 'mutated-workflow' }, wfInstanceId: 'wf-1' });
    expect(await tracker.done).toMatchObject({ status: 'SUCCEED', value: 'done' });
    const report = await reporter.waitFor((r) => r.instanceId === tracker.instanceId);
    expect(report.appendedWfContext).toEqual({ entry: { n: 1 } });
    expect(await runtime.run('hostileValue', { variant: 'thread' })).toBe(thread);
    expect(runtime.metrics().workerDeaths).toBe(0);
  });
});
