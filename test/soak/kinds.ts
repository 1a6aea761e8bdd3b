// The kinds of instance the soak draws among, and what happens to each one's attempts. What each must end with is
// not written here: expectOutcome plays the attempts through decideOutcome. A kind may end more than one way (a stop
// at a random moment); `tolerated` ways are legitimate under CPU starvation only (an interrupt noticed later than
// the grace, e.g. an attempt still waiting for a replacement worker at its deadline).
import type { SubmitRequest } from 'light-task-tracker';
import { Ending } from '../../src/outcome.js';
import { containing, expectOutcome, own, type AttemptEnd, type AttemptPlan, type Expected, type Text } from './expected.js';
import type { Draws } from './random.js';

/** The processors, by registry name: their modules are test/fixtures/<file>.js. */
export const PROCESSOR_FILES = {
  succeed: 'succeed',
  fail: 'fail',
  throws: 'throws',
  returnsNull: 'returns-null',
  spinCooperative: 'spin-cooperative',
  spinRunaway: 'spin-runaway',
  sleep: 'sleep',
  exit: 'exit',
  uncaught: 'uncaught',
  heapBlowup: 'heap-blowup',
  loadThrows: 'load-throws',
  badExport: 'bad-export',
  soakUncloneable: 'soak-uncloneable',
  soakFlaky: 'soak-flaky',
  blockExec: 'block-exec',
  logFlood: 'log-flood',
  hostileValue: 'hostile-value',
  soakLeftover: 'soak-leftover',
} as const;
export type ProcessorName = keyof typeof PROCESSOR_FILES;

export const STOP_APIS = ['tracker.stop()', 'runtime.stop(id)', 'signal.abort()'] as const;
export type StopApi = (typeof STOP_APIS)[number];

/** A stop the driver sends: `delayMs` after the processor logs 'started', or after the submit. */
export interface StopPlan {
  readonly on: 'started' | 'submit';
  readonly delayMs: number;
  readonly api: StopApi;
}

/** A request as a kind makes it: the driver adds the instance id (and maybe a signal). */
export interface KindRequest extends Omit<SubmitRequest, 'instanceId' | 'processor'> {
  readonly processor: ProcessorName;
}

export interface Spec {
  readonly request: KindRequest;
  readonly stop?: StopPlan;
  /** Whether the driver stops the instance (a stop plan, or a signal aborted before submit). */
  readonly stopped: boolean;
  /** The ways it may end; at least one. */
  readonly expect: readonly Expected[];
}

export interface Kind {
  readonly name: string;
  readonly weight: number;
  /** Draws one instance of the kind; `i` is its index. */
  make(i: number, draw: Draws): Spec;
}

// SubmitRequest.maxRetries' default.
const DEFAULT_MAX_RETRIES = 0;

/** The outcome of `request` when its attempts end as `plan` says. */
const outcome = (request: KindRequest, plan: AttemptPlan, tolerated = false): Expected =>
  expectOutcome(request.processor, request.maxRetries ?? DEFAULT_MAX_RETRIES, plan, tolerated);
const always = (end: AttemptEnd): AttemptPlan => () => end;
const spec = (request: KindRequest, expect: readonly Expected[], stop?: StopPlan): Spec =>
  stop === undefined ? { request, stopped: false, expect } : { request, stop, stopped: true, expect };

// What a processor throws when it gives up on an interrupt (ctx.throwIfInterrupted(), ctx.sleep()).
const INTERRUPTED = /InterruptedError: [^]*/;
/** The attempt gives up on the interrupt that `cause` brought. */
const interrupted = (cause: 'timeout' | 'stop'): AttemptEnd => ({ ending: Ending.THREW, text: INTERRUPTED, cause });
/** The attempt goes on past its interrupt's grace: its worker is terminated. */
const forceStopped = (cause: 'timeout' | 'stop'): AttemptEnd => ({ ending: Ending.FORCE_STOPPED, text: '', cause });
/** A stop came while the instance was still queued. */
const neverStarted: AttemptEnd = { ending: Ending.NEVER_STARTED, text: '', cause: 'stop' };

// test/fixtures/soak-flaky.js: attempt n fails its way (jobParams.mode) until the retry numbered succeedOn.
type FlakyMode = 'fail' | 'throw' | 'null';
const FLAKY_MODES: readonly FlakyMode[] = ['fail', 'throw', 'null'];
const flaky = (succeedOn: number, mode: FlakyMode): AttemptPlan => (n) => {
  if (n >= succeedOn) return own(Ending.SUCCEEDED, `succeeded on retry ${n}`);
  if (mode === 'throw') return own(Ending.THREW, `Error: attempt ${n} threw`);
  if (mode === 'null') return own(Ending.RETURNED_NULL, '');
  return own(Ending.FAILED, `attempt ${n} failed`);
};

export const KINDS: readonly Kind[] = [
  {
    name: 'success', weight: 12,
    make: (i, { between }) => {
      const request = { processor: 'succeed', jobParams: `p${i}`, maxRetries: between(0, 2) } as const;
      return spec(request, [outcome(request, always(own(Ending.SUCCEEDED, `hello p${i}`)))]);
    },
  },
  {
    name: 'slow success', weight: 6,
    make: (_, { between }) => {
      const request = { processor: 'sleep', jobParams: { ms: between(1, 80) }, timeoutMs: 10_000 } as const;
      return spec(request, [outcome(request, always(own(Ending.SUCCEEDED, 'slept')))]);
    },
  },
  {
    name: 'failed result', weight: 7,
    make: (_, { between }) => {
      const request = { processor: 'fail', maxRetries: between(0, 2) } as const;
      return spec(request, [outcome(request, always(own(Ending.FAILED, 'the job said no')))]);
    },
  },
  {
    name: 'throw', weight: 7,
    make: (_, { between }) => {
      const request = { processor: 'throws', maxRetries: between(0, 2) } as const;
      return spec(request, [outcome(request, always(own(Ending.THREW, 'RangeError: boom')))]);
    },
  },
  {
    name: 'missing result', weight: 6,
    make: (_, { between }) => {
      const request = { processor: 'returnsNull', maxRetries: between(0, 2) } as const;
      return spec(request, [outcome(request, always(own(Ending.RETURNED_NULL, '')))]);
    },
  },
  {
    // The loop gives up on the timeout's interrupt; seen late, it is force-stopped instead.
    name: 'cooperative timeout', weight: 8,
    make: (_, { between }) => {
      const request = { processor: 'spinCooperative', timeoutMs: between(5, 40), maxRetries: between(0, 1) } as const;
      return spec(request, [outcome(request, always(interrupted('timeout'))), outcome(request, always(forceStopped('timeout')), true)]);
    },
  },
  {
    name: 'runaway timeout', weight: 3,
    make: (_, { between }) => {
      const request = { processor: 'spinRunaway', timeoutMs: between(5, 30), maxRetries: between(0, 1) } as const;
      return spec(request, [outcome(request, always(forceStopped('timeout')))]);
    },
  },
  {
    // Blocked in a system call for 2 s, past its timeout: terminate() cannot end the thread, which is let go of a
    // second after the terminate and said still blocked (or, under starvation, seen to exit by then). The terminate
    // comes after the stack capture has waited out its bound (stackCaptureMs, 250 ms: a blocked thread never answers);
    // with a 1.4 s block, a loaded machine's late timers left the thread time to exit before it was let go of.
    name: 'blocked in a system call', weight: 1,
    make: () => {
      const request = { processor: 'blockExec', jobParams: { ms: 2000 }, timeoutMs: 20 } as const;
      const stuck: AttemptEnd = { ending: Ending.FORCE_STOP_STUCK, text: '', cause: 'timeout' };
      return spec(request, [outcome(request, always(stuck)), outcome(request, always(forceStopped('timeout')), true)]);
    },
  },
  {
    // A minute's sleep, stopped once it has started: its sleep rejects on the interrupt (or, seen late, it is
    // force-stopped).
    name: 'stop after start', weight: 6,
    make: (_, { between, pick }) => {
      const request = { processor: 'sleep' } as const;
      const stop: StopPlan = { on: 'started', delayMs: between(0, 10), api: pick(STOP_APIS) };
      return spec(request, [outcome(request, always(interrupted('stop'))), outcome(request, always(forceStopped('stop')), true)], stop);
    },
  },
  {
    // A minute's sleep, stopped at any moment: still queued, running, or its worker being dispatched.
    name: 'stop at random', weight: 5,
    make: (_, { between, pick }) => {
      const request = { processor: 'sleep' } as const;
      const stop: StopPlan = { on: 'submit', delayMs: between(0, 300), api: pick(STOP_APIS) };
      return spec(request, [neverStarted, interrupted('stop'), forceStopped('stop')].map((end) => outcome(request, always(end))), stop);
    },
  },
  {
    name: 'stop before start', weight: 5,
    make: () => {
      const request = { processor: 'succeed', signal: AbortSignal.abort() } as const;
      return { request, stopped: true, expect: [outcome(request, always(neverStarted))] };
    },
  },
  {
    name: 'worker exits', weight: 3,
    make: (_, { between }) => {
      const request = { processor: 'exit', maxRetries: between(0, 1) } as const;
      return spec(request, [outcome(request, always(own(Ending.WORKER_DIED, 'Error: worker exited with code: 3')))]);
    },
  },
  {
    name: 'uncaught in worker', weight: 1,
    make: () => {
      const request = { processor: 'uncaught' } as const;
      return spec(request, [outcome(request, always(own(Ending.WORKER_DIED, containing(/TypeError: thrown outside the attempt/))))]);
    },
  },
  {
    name: 'heap blow-up', weight: 1,
    make: () => {
      const request = { processor: 'heapBlowup' } as const;
      return spec(request, [outcome(request, always(own(Ending.WORKER_DIED, containing(/ERR_WORKER_OUT_OF_MEMORY|out of memory/i))))]);
    },
  },
  {
    // The worker turns msg into text before it replies: the reply always clones, and the instance ends with the text.
    name: 'uncloneable result', weight: 7,
    make: (_, { pick }) => {
      const [variant, ending, text] = pick<readonly [string, Ending, string]>([
        ['function-field', Ending.SUCCEEDED, '[object Object]'],
        ['own-toString', Ending.SUCCEEDED, 'custom text'],
        ['null-prototype', Ending.SUCCEEDED, '[object Object]'],
        ['symbol', Ending.SUCCEEDED, 'Symbol(soak)'],
        ['extra-field', Ending.SUCCEEDED, 'plain text'],
        ['throw-object', Ending.THREW, 'thrown object'],
      ]);
      const request = { processor: 'soakUncloneable', jobParams: { variant } } as const;
      return spec(request, [outcome(request, always(own(ending, text)))]);
    },
  },
  {
    // Logs far past processorLogRate in a loop that never yields: the lines past the bound are dropped in the
    // worker and counted (the soak checks the counts), or, at debug, never leave it.
    name: 'log flood', weight: 3,
    make: (_, { between, pick }) => {
      const count = between(2_000, 30_000);
      const request = { processor: 'logFlood', jobParams: { count, level: pick(['debug', 'info'] as const) } } as const;
      return spec(request, [outcome(request, always(own(Ending.SUCCEEDED, `logged ${count}`)))]);
    },
  },
  {
    // A value that looks like plain data and cannot be cloned (a Proxy, nested or not, a detached buffer): never
    // retried, and the worker lives on.
    name: 'uncloneable value', weight: 3,
    make: (_, { between, pick }) => {
      const variant = pick(['proxy', 'throwing-traps', 'revoked', 'in-map', 'in-set', 'in-array', 'in-object', 'detached', 'detached-view'] as const);
      const request = { processor: 'hostileValue', jobParams: { variant }, maxRetries: between(0, 2) } as const;
      return spec(request, [outcome(request, always(own(Ending.VALUE_NOT_CLONEABLE, /.*could not be cloned\./)))]);
    },
  },
  {
    // Leaves a timer behind on its worker (progress and log lines, an error thrown, a rejection left unhandled),
    // which runs while other instances run there: it succeeds, and must reach, or fail, no other instance.
    name: 'leftover code', weight: 4,
    make: (_, { between, pick }) => {
      const leave = pick(['ticks', 'ticks', 'throw', 'reject'] as const);
      const request = { processor: 'soakLeftover', jobParams: { leave, ticks: between(1, 20), ms: between(1, 30) } } as const;
      return spec(request, [outcome(request, always(own(Ending.SUCCEEDED, `left ${leave}`)))]);
    },
  },
  {
    // Every attempt would fail to load the same way.
    name: 'load failure', weight: 4,
    make: (_, { between, pick }) => {
      const [processor, text] = pick<readonly [ProcessorName, Text]>([
        // The module's URL, then the error with its stack.
        ['loadThrows', /file:\S*load-throws\.js: Error: this module cannot be loaded\n    at connect [^]*/],
        ['badExport', /file:\S*bad-export\.js: TypeError: file:\S*bad-export\.js does not default-export a processor made with defineProcessor\(\)[^]*/],
      ]);
      const request: KindRequest = { processor, maxRetries: between(0, 2) };
      return spec(request, [outcome(request, always(own(Ending.LOAD_FAILED, text)))]);
    },
  },
  {
    name: 'late retry success', weight: 9,
    make: (_, { between, pick }) => {
      const succeedOn = between(1, 3);
      const mode = pick(FLAKY_MODES);
      const jobParams = { succeedOn, mode, ms: pick([0, 0, between(1, 20)]) };
      const request = { processor: 'soakFlaky', jobParams, maxRetries: succeedOn + between(0, 1) } as const;
      return spec(request, [outcome(request, flaky(succeedOn, mode))]);
    },
  },
  {
    name: 'retries exhausted', weight: 3,
    make: (_, { between, pick }) => {
      const maxRetries = between(0, 2);
      const mode = pick(FLAKY_MODES);
      const jobParams = { succeedOn: maxRetries + 1, mode, ms: pick([0, between(1, 10)]) };
      const request = { processor: 'soakFlaky', jobParams, maxRetries } as const;
      return spec(request, [outcome(request, flaky(maxRetries + 1, mode))]);
    },
  },
];
