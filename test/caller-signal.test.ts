// Issue "Hostile processors": one AbortSignal shared by more than 10 instances printed a MaxListenersExceededWarning:
// each tracker added its own listener to the caller's signal. The runtime now listens to a signal once, however
// many instances share it.
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { useRuntimes } from './support/runtime.js';

const runtimes = useRuntimes();
const warnings: Error[] = [];
const onWarning = (warning: Error): void => {
  warnings.push(warning);
};
afterEach(() => {
  process.off('warning', onWarning);
  warnings.length = 0;
});

describe("a caller's AbortSignal shared by many instances", () => {
  it('is listened to once, whatever the number of instances: no MaxListenersExceededWarning, and each instance stops', async () => {
    process.on('warning', onWarning);
    const { runtime } = runtimes.make();
    const controller = new AbortController();
    const trackers = Array.from({ length: 20 }, () => runtime.submit({ processor: 'sleep', signal: controller.signal }));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    const outcomes = await Promise.all(trackers.map((tracker) => tracker.done));
    expect(outcomes.every((outcome) => outcome.status === 'STOPPED')).toBe(true);
    expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('lets go of the signal once the last instance sharing it has ended, and stops only the live ones', async () => {
    const { runtime } = runtimes.make();
    const controller = new AbortController();
    const first = runtime.submit({ processor: 'succeed', jobParams: 1, signal: controller.signal });
    const sleeper = runtime.submit({ processor: 'sleep', signal: controller.signal });
    expect(await first.done).toMatchObject({ status: 'SUCCEED' });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    expect(await sleeper.done).toMatchObject({ status: 'STOPPED' });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
