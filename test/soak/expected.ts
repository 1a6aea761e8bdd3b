// What an instance must end with, worked out by the library's own decideOutcome: a kind says what happens to each
// of its attempts (how it ends, with what text, under which cause), and the attempts are played through
// decideOutcome as the tracker plays them (another attempt while the decision says retry). The driver keeps no
// table of statuses, reasons or result texts of its own.
import type { OutcomeReason, OutcomeStatus } from 'light-task-tracker';
import { decideOutcome, Ending, type Cause } from '../../src/outcome.js';

/** A text known exactly, or a pattern the whole text must match. */
export type Text = string | RegExp;

/** How one attempt ends, as the driver makes it happen. */
export interface AttemptEnd {
  readonly ending: Ending;
  /** The attempt's own text: the processor's message, the thrown error's, the load failure's, the worker's death's. */
  readonly text: Text;
  /** Why the instance is being ended from outside when the attempt ends. */
  readonly cause: Cause;
}

/** How attempt `n` (its currentRetryTimes: 0, 1, …) of an instance ends. */
export type AttemptPlan = (n: number) => AttemptEnd;

/** One way an instance may end. */
export interface Expected {
  readonly status: OutcomeStatus;
  readonly reason: OutcomeReason;
  readonly result: Text;
  /** Attempts started (an instance stopped before it started has none). */
  readonly attempts: number;
  /** Whether the processor's own attempt succeeded: the final report counts one succeeded task, else one failed. */
  readonly succeeded: boolean;
  /** Attempts whose worker died: each is logged as an error. */
  readonly deaths: number;
  /**
   * Legitimate only under CPU starvation (an interrupt noticed later than the grace): counted, and a violation only
   * past the soak's tolerated share.
   */
  readonly tolerated: boolean;
}

/** The attempt ends on its own: no timeout, no stop. */
export const own = (ending: Ending, text: Text): AttemptEnd => ({ ending, text, cause: 'none' });
/** A text that contains a match of `pattern` (with its flags). */
export const containing = (pattern: RegExp): RegExp => new RegExp(`[^]*(?:${pattern.source})[^]*`, pattern.flags);

// Stands in for a text known only by its pattern while decideOutcome builds the outcome's text around it.
const PLACEHOLDER = '\u0000the attempt text\u0000';
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** The outcome's text as a Text: decideOutcome's own words, or the pattern of the attempt's text inside them. */
function resultOf(decided: string, own: Text): Text {
  if (typeof own === 'string') return decided;
  const at = decided.indexOf(PLACEHOLDER);
  if (at < 0) return decided; // the text is the tracker's own: the attempt's is not in it
  const before = decided.slice(0, at);
  const after = decided.slice(at + PLACEHOLDER.length);
  return new RegExp(`^${escape(before)}(?:${own.source})${escape(after)}$`, own.flags);
}

/**
 * Plays an instance's attempts through decideOutcome: the outcome it ends with when each attempt ends as `plan`
 * says. `processor` and `maxRetries` are the request's.
 */
export function expectOutcome(processor: string, maxRetries: number, plan: AttemptPlan, tolerated = false): Expected {
  let started = 0;
  let deaths = 0;
  for (let n = 0; n <= maxRetries; n++) {
    const end = plan(n);
    if (end.ending !== Ending.NEVER_STARTED) started++;
    if (end.ending === Ending.WORKER_DIED) deaths++;
    const decision = decideOutcome({
      ending: end.ending,
      text: typeof end.text === 'string' ? end.text : PLACEHOLDER,
      cause: end.cause,
      retriesLeft: maxRetries - n,
      processorName: processor,
      chunksDelivered: false,
    });
    if (decision.retry) continue;
    return { status: decision.status, reason: decision.reason, result: resultOf(decision.text, end.text), attempts: started, succeeded: decision.succeeded, deaths, tolerated };
  }
  throw new Error(`decideOutcome asked for a retry after the last of ${maxRetries + 1} attempts (processor ${processor})`);
}

/** Whether `text` is what `want` says. */
export function textMatches(want: Text, text: string): boolean {
  return typeof want === 'string' ? want === text : want.test(text);
}
