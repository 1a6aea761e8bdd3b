// The shared memory between the main thread and the workers, in one place: what each shared array holds, and the
// name of every value its words take, and how a start is stamped. Free of package dependencies: every worker loads it
// as it starts.
//
// Per dispatch slot (one attempt's place: the attempt request's `slot` is its index in every one of these):
// - `flags` (WorkerBootData), one Int32: the FLAG_* bits of the slot's attempt.
// - `stamps` (WorkerBootData), one BigInt64: the waiting attempt's ticket (1 to MAX_TICKET), 0 once it is
//   cancelled, or the epoch microseconds its worker started it at.
// - `beats` (WorkerBootData), one Int32: the slot's attempt's heartbeats, counted (`ctx.heartbeat()`, and each
//   `ctx.progress()` and `ctx.checkpoint()`); 0 when the attempt is handed over. The main thread only looks whether it
//   has moved: a heartbeat is one Atomics.add, no message.
// - `heaps` (WorkerBootData, with `recycleWorkers.heapUsedMb` only), one Int32: the used heap (MB, rounded up) the
//   worker left as it ended the slot's attempt, before it replied.
// - `consumed` (WorkerBootData), one Int32: the chunks of the slot's stream attempt its caller has consumed (0 as the
//   slot is armed; the main thread adds to it and notifies it, the worker waits on it for room: workers/stream.ts).
// Per registry module (the attempt request's `processorIndex` is its index):
// - `verified` (WorkerBootData), one Int32: MODULE_UNTRIED, or MODULE_VERIFIED once any worker has imported it.
// One for the runtime:
// - `levels` (ChannelSettings), one Int32: the lowest log level whose lines are sent (its index in LOG_LEVELS),
//   LOG_LEVELS.length for none; it follows the logger's level.
import { epochNow } from './clock.js';
import { MAX_INT32 } from './limits.js';

/**
 * A slot's flags while its attempt runs undisturbed. Then bits are set with Atomics.or, so that neither side's bit
 * hides the other's.
 */
export const FLAG_RUNNING = 0;
/** Set by the main thread: the attempt is interrupted. */
export const FLAG_INTERRUPTED = 1;
/** Set by the worker the moment before it answers: the attempt has ended, and its reply is on its way. */
export const FLAG_ENDED = 2;

/**
 * The largest attempt ticket. A slot's stamp holds its waiting attempt's ticket (1 to MAX_TICKET), 0 once that
 * attempt is cancelled, or the epoch microseconds its worker started it at (far above MAX_TICKET): one word, so that
 * starting and cancelling are each one compare-and-swap.
 */
export const MAX_TICKET = MAX_INT32;

/** A ticket no stamp ever holds: an attempt given it can never start (a worker's rehearsal of the attempt path). */
export const REHEARSAL_TICKET = -1;

/**
 * A slot's stamp for an attempt starting now: the epoch microseconds, as its worker writes it (or the main thread, for
 * an attempt that fails before its processor can run).
 */
export function startStamp(): bigint {
  return BigInt(Math.round(epochNow() * 1000));
}

/** A registry module no worker has imported yet. */
export const MODULE_UNTRIED = 0;
/** A worker has imported the module: workers that boot later import it as they boot. */
export const MODULE_VERIFIED = 1;
