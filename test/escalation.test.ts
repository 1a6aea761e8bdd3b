// The escalation machine as a table: every event, in every phase, cause and stage that matters, gives the move and
// the next state the docs promise (docs/lifecycle.md): a stop outranks a timeout, a second stop is ignored, a stop
// after the finish is ignored, the grace ends in a force-stop (or, with force-stop off, in running on unless close()
// came), a reply on its way wins once, and close() terminates an overdue instance at once.
import { describe, expect, it } from 'vitest';
import { escalate, initialEscalation, interruptsAttempt, Phase as P, Stage as St, type EscalationEvent, type EscalationState, type Move } from '../dist/src/escalation.js';

const state = (over: Partial<EscalationState>): EscalationState => ({ ...initialEscalation, ...over });
const running = (over: Partial<EscalationState> = {}): EscalationState => state({ phase: P.RUNNING, ...over });

type Row = readonly [
  what: string,
  from: EscalationState,
  event: EscalationEvent,
  facts: { allowForceStop?: boolean; attemptEnded?: boolean },
  move: Move,
  to: Partial<EscalationState>,
];

const rows: Row[] = [
  // Stops.
  ['a stop of a queued instance ends it unstarted', state({}), 'stop', {}, 'end-unstarted', { cause: 'stop' }],
  ['the caller\'s signal on a queued instance ends it unstarted, by the signal', state({}), 'signal', {}, 'end-unstarted', { cause: 'signal' }],
  ['a stop of a running instance interrupts it', running(), 'stop', {}, 'interrupt', { cause: 'stop', stage: St.INTERRUPTED }],
  ['a stop after a timeout interrupt takes over the cause, without a second interrupt', running({ cause: 'timeout', stage: St.INTERRUPTED }), 'stop', {}, 'already-interrupted', { cause: 'stop', stage: St.INTERRUPTED }],
  ['a second stop is ignored', running({ cause: 'stop', stage: St.INTERRUPTED }), 'signal', {}, 'ignore-stopping', { cause: 'stop' }],
  ['a stop after the finish is ignored', state({ phase: P.FINISHED }), 'stop', {}, 'ignore-finished', { phase: P.FINISHED, cause: 'none' }],
  ['a stop after the tracker is destroyed is ignored', state({ phase: P.DESTROYED }), 'stop', {}, 'ignore-finished', { phase: P.DESTROYED }],
  // Timeouts.
  ['a timeout interrupts a running instance', running(), 'timeout', {}, 'interrupt', { cause: 'timeout', stage: St.INTERRUPTED }],
  ['a timeout after a stop keeps the stop as the cause', running({ cause: 'stop', stage: St.INTERRUPTED }), 'timeout', {}, 'already-interrupted', { cause: 'stop' }],
  ['a timeout of a queued instance does nothing', state({}), 'timeout', {}, 'none', { phase: P.QUEUED, cause: 'none' }],
  ['a timeout after the finish does nothing', state({ phase: P.FINISHED }), 'timeout', {}, 'none', { phase: P.FINISHED }],
  // The grace.
  ['the grace runs out: force-stop', running({ cause: 'timeout', stage: St.INTERRUPTED }), 'grace-expired', { allowForceStop: true }, 'force-stop', { stage: St.FORCE_STOPPED }],
  ['the grace runs out with force-stop off: it runs on', running({ cause: 'timeout', stage: St.INTERRUPTED }), 'grace-expired', { allowForceStop: false }, 'run-on', { stage: St.OVERDUE }],
  ['the grace runs out with force-stop off, under close(): force-stop', running({ cause: 'close', stage: St.INTERRUPTED, closing: true }), 'grace-expired', { allowForceStop: false }, 'force-stop', { stage: St.FORCE_STOPPED }],
  ['the grace runs out while the reply is on its way: it is awaited, once', running({ cause: 'stop', stage: St.INTERRUPTED }), 'grace-expired', { allowForceStop: true, attemptEnded: true }, 'await-reply', { stage: St.INTERRUPTED, replyAwaited: true }],
  ['the awaited reply never came: force-stop', running({ cause: 'stop', stage: St.INTERRUPTED, replyAwaited: true }), 'grace-expired', { allowForceStop: true, attemptEnded: true }, 'force-stop', { stage: St.FORCE_STOPPED }],
  ['a grace timer after the force-stop does nothing', running({ cause: 'stop', stage: St.FORCE_STOPPED }), 'grace-expired', { allowForceStop: true }, 'none', { stage: St.FORCE_STOPPED }],
  ['a grace timer after the finish does nothing', state({ phase: P.FINISHED, stage: St.INTERRUPTED }), 'grace-expired', { allowForceStop: true }, 'none', { phase: P.FINISHED }],
  // Stalls (no heartbeat for heartbeatTimeoutMs): the attempt's own, retried.
  ['a stall interrupts a running instance', running(), 'stall', {}, 'interrupt', { cause: 'stall', stage: St.INTERRUPTED }],
  ['a stall while a timeout is ending it does nothing', running({ cause: 'timeout', stage: St.INTERRUPTED }), 'stall', {}, 'none', { cause: 'timeout' }],
  ['a stall of a queued instance does nothing', state({}), 'stall', {}, 'none', { cause: 'none' }],
  ['a timeout during a stall\'s grace takes over the cause', running({ cause: 'stall', stage: St.INTERRUPTED }), 'timeout', {}, 'already-interrupted', { cause: 'timeout' }],
  ['a stop during a stall\'s grace takes over the cause', running({ cause: 'stall', stage: St.INTERRUPTED }), 'stop', {}, 'already-interrupted', { cause: 'stop' }],
  ['the retry after a stall starts undisturbed', running({ cause: 'stall', stage: St.FORCE_STOPPED, replyAwaited: true }), 'retry', {}, 'none', { cause: 'none', stage: St.NONE, replyAwaited: false }],
  ['a retry after a plain failure changes nothing', running(), 'retry', {}, 'none', {}],
  // close().
  ['close() of a queued instance ends it unstarted, by close', state({}), 'close', {}, 'end-unstarted', { cause: 'close', closing: true }],
  ['close() of a running instance interrupts it, by close', running(), 'close', {}, 'interrupt', { cause: 'close', closing: true, stage: St.INTERRUPTED }],
  ['close() of an overdue instance terminates it at once', running({ cause: 'timeout', stage: St.OVERDUE }), 'close', {}, 'force-stop', { cause: 'close', closing: true, stage: St.FORCE_STOPPED }],
  ['close() of an instance already stopping only marks it closing', running({ cause: 'stop', stage: St.INTERRUPTED }), 'close', {}, 'none', { cause: 'stop', closing: true, stage: St.INTERRUPTED }],
  ['close() after the finish only marks it closing', state({ phase: P.FINISHED }), 'close', {}, 'none', { phase: P.FINISHED, closing: true }],
  ['a stop after close() is ignored: close() stopped it', running({ cause: 'close', stage: St.INTERRUPTED, closing: true }), 'stop', {}, 'ignore-stopping', { cause: 'close' }],
];

describe('the escalation machine', () => {
  it.each(rows)('%s', (_what, from, event, facts, move, to) => {
    const result = escalate(from, event, { allowForceStop: facts.allowForceStop ?? true, attemptEnded: facts.attemptEnded ?? false });
    expect(result.move).toBe(move);
    expect(result.state).toEqual({ ...from, ...to });
  });

  it('never changes the state it is given (a pure function)', () => {
    const from = Object.freeze(running({ cause: 'timeout', stage: St.INTERRUPTED }));
    expect(() => escalate(from, 'grace-expired', { allowForceStop: true, attemptEnded: false })).not.toThrow();
    expect(from.stage).toBe(St.INTERRUPTED);
  });

  // The tracker sets the attempt's flag when interruptsAttempt says so, before it asks for the move: exactly when the
  // move is to interrupt. Every state the machine reaches (from a queued instance, and from the start the tracker
  // makes; a grace runs out only after an interrupt, and only an attempt ended with no cause or a stall is retried) is
  // tried with every event and fact.
  it('interruptsAttempt says yes exactly when the move is to interrupt, in every state the machine reaches', () => {
    const events: EscalationEvent[] = ['stop', 'signal', 'timeout', 'stall', 'grace-expired', 'close', 'retry'];
    const factsOf = [
      { allowForceStop: true, attemptEnded: false },
      { allowForceStop: false, attemptEnded: false },
      { allowForceStop: true, attemptEnded: true },
    ];
    const seen = new Map<string, EscalationState>();
    const queue: EscalationState[] = [initialEscalation, running()];
    while (queue.length > 0) {
      const from = queue.shift() as EscalationState;
      const key = JSON.stringify(from);
      if (seen.has(key)) continue;
      seen.set(key, from);
      const happens = (event: EscalationEvent): boolean =>
        (event !== 'grace-expired' || from.stage !== St.NONE) && (event !== 'retry' || from.cause === 'none' || from.cause === 'stall');
      for (const event of events.filter(happens)) for (const facts of factsOf) queue.push(escalate(from, event, facts).state);
    }
    let interrupts = 0;
    for (const from of seen.values()) {
      for (const event of events) {
        for (const facts of factsOf) {
          const { move } = escalate(from, event, facts);
          expect(interruptsAttempt(from, event), `${JSON.stringify(from)} ${event} ${JSON.stringify(facts)}: ${move}`).toBe(move === 'interrupt');
          if (move === 'interrupt') interrupts++;
        }
      }
    }
    expect(seen.size).toBeGreaterThan(20);
    expect(interrupts).toBeGreaterThan(0);
  });
});
