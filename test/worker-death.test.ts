// A worker that dies under its task fails that instance with the cause, is reported FAILED, and the pool recovers.
import { describe, expect, it } from 'vitest';
import { OutcomeReason } from 'light-task-tracker';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();

describe('a worker dying under its attempt', () => {
  const cases = [
    { processor: 'exit', cause: /worker exited with code: 3/ },
    { processor: 'uncaught', cause: /TypeError: thrown outside the attempt/ },
    { processor: 'heapBlowup', cause: /ERR_WORKER_OUT_OF_MEMORY|out of memory/i },
  ] as const;

  for (const { processor, cause } of cases) {
    it(`${processor}: fails the instance with the cause, reports it, and the next instance runs`, async () => {
      const { runtime, reporter } = runtimes.make({ maxThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } });
      const dying = runtime.submit({ processor });
      const next = runtime.submit({ processor: 'succeed', jobParams: 'after' });
      const outcome = await dying.done;
      expect(outcome).toMatchObject({ status: 'FAILED', reason: OutcomeReason.WORKER_DIED });
      expect(outcome.result).toMatch(cause);
      const report = await reporter.waitFor((r) => r.instanceId === dying.instanceId);
      expect(report.status).toBe('FAILED');
      expect(report.result).toMatch(cause);
      expect(await next.done).toMatchObject({ status: 'SUCCEED', result: 'hello after' });
      expect(runtime.threads).toBe(2); // maxThreads + the default spare
    });
  }

  it('retries an attempt whose worker died, on a fresh worker', async () => {
    const { runtime } = runtimes.make({ maxThreads: 1 });
    const outcome = await runtime.submit({ processor: 'exit', maxRetries: 1 }).done;
    expect(outcome).toMatchObject({ status: 'FAILED', reason: OutcomeReason.WORKER_DIED, attempts: 2 });
  });
});
