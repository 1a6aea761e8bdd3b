// Tables of requests for one runtime over the probe (see probe.ts): each case is refused with its typed error, or
// accepted with what the probe saw checked, and the runtime serves on afterwards either way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidRequestError,
  InvalidRetriesError,
  InvalidTimeoutError,
  ParamsNotCloneableError,
  ParamsTooLargeError,
  TaskTrackerError,
  UnknownProcessorError,
  type SubmitRequest,
  type TaskRuntime,
} from 'light-task-tracker';
import { expectStillServing, probe, serve, submitError, type Seen, type Served } from './probe.js';

export const MiB = 1024 * 1024;

type ErrorClass = abstract new (...args: never[]) => TaskTrackerError;
export interface Refusal {
  readonly error: ErrorClass;
  readonly code: string;
  /** Expected own fields of the error (`field`, `bytes`, `limit`…). */
  readonly fields?: Record<string, unknown>;
  /** The error's `cause`: an instance of this class, or (true) any defined value. */
  readonly cause?: (new (...args: never[]) => unknown) | true;
}
export interface Acceptance {
  /** Checks what the probe processor saw. */
  readonly seen: (seen: Seen) => void;
}
export interface Case {
  readonly what: string;
  /** Built lazily: some are 100 MB. */
  readonly request: () => unknown;
  readonly expect: Refusal | Acceptance;
}

export const unknown = (what: string, processor: unknown): Case => ({
  what: `processor ${what}`,
  request: () => ({ processor }),
  expect: { error: UnknownProcessorError, code: 'ERR_UNKNOWN_PROCESSOR' },
});
export const badTimeout = (what: string, timeoutMs: unknown): Case => ({
  what: `timeoutMs ${what}`,
  request: () => ({ processor: 'succeed', timeoutMs }),
  expect: { error: InvalidTimeoutError, code: 'ERR_INVALID_TIMEOUT' },
});
export const badRetries = (what: string, maxRetries: unknown): Case => ({
  what: `maxRetries ${what}`,
  request: () => ({ processor: 'succeed', maxRetries }),
  expect: { error: InvalidRetriesError, code: 'ERR_INVALID_RETRIES' },
});
export const badField = (field: string, what: string, value: unknown): Case => ({
  what: `${field} ${what}`,
  request: () => ({ processor: 'succeed', [field]: value }),
  expect: { error: InvalidRequestError, code: 'ERR_INVALID_REQUEST', fields: { field } },
});
export const notCloneable = (what: string, field: 'jobParams' | 'instanceParams', params: () => unknown, cause: Refusal['cause'] = Error): Case => ({
  what: `${field} ${what}`,
  request: () => ({ processor: 'probe', [field]: params() }),
  expect: { error: ParamsNotCloneableError, code: 'ERR_PARAMS_NOT_CLONEABLE', fields: { field }, cause },
});
export const tooLarge = (what: string, field: 'jobParams' | 'instanceParams', params: () => unknown, bytes: (n: number) => boolean): Case => ({
  what: `${field} ${what}`,
  request: () => ({ processor: 'probe', [field]: params() }),
  expect: {
    error: ParamsTooLargeError,
    code: 'ERR_PARAMS_TOO_LARGE',
    fields: { field, limit: 16 * MiB, bytes: expect.toSatisfy((n: number) => Number.isSafeInteger(n) && bytes(n)) },
  },
});
export const accepted = (what: string, request: () => Record<string, unknown>, seen: (seen: Seen) => void): Case => ({
  what,
  request: () => ({ processor: 'probe', ...request() }),
  expect: { seen },
});

export function caseTitle({ what, expect: expected }: Case): string {
  return 'error' in expected ? `refuses ${what} with ${expected.error.name} (${expected.code})` : `accepts ${what}`;
}

/** Submits the case's request to `runtime` and checks its refusal or acceptance, then that the runtime serves on. */
export async function checkCase(runtime: TaskRuntime, { request, expect: expected }: Case): Promise<void> {
  if ('error' in expected) {
    const error = submitError(runtime, request());
    expect(error).toBeInstanceOf(expected.error);
    expect(error).toBeInstanceOf(TaskTrackerError);
    expect(error).toMatchObject({ name: expected.error.name, code: expected.code, ...expected.fields });
    // The message stays short whatever the value (a 1 MB name, a 100 MB string…), and never throws to build.
    expect((error as Error).message.length).toBeLessThan(600);
    if (expected.cause === true) expect((error as Error).cause).toBeDefined();
    else if (expected.cause !== undefined) expect((error as Error).cause).toBeInstanceOf(expected.cause);
  } else {
    const built = request() as Partial<SubmitRequest>;
    const { seen } = await probe(runtime, built);
    expect(seen.polluted).toBe('undefined');
    expect(seen.objectPrototypeKeys).toEqual([]);
    expected.seen(seen);
  }
  await expectStillServing(runtime);
}

/**
 * A describe block that runs every case against one runtime over the probe (made before, closed after), one test
 * per case; `more` adds further tests that use the same runtime.
 */
export function describeCases(title: string, cases: readonly Case[], more?: (served: () => Served) => void): void {
  describe(title, () => {
    let served: Served;
    beforeAll(async () => {
      served = serve();
      await served.runtime.ready();
    });
    afterAll(() => served.runtime.close());

    for (const testCase of cases) {
      it(caseTitle(testCase), () => checkCase(served.runtime, testCase));
    }
    more?.(() => served);
  });
}
