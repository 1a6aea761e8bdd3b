// What runtime.map() and runtime.stream() share as async iterators over instances: the end result, a next() waiting
// for its result, and the stop of an instance the loop has left.
import { InstanceStatus } from './status.js';

/** The iteration's end: one frozen result for every `next()` and `return()` that ends it. */
export const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/** A `next()` (or `return()`) waiting for its result. */
export interface Waiter<T> {
  resolve(result: IteratorResult<T, undefined>): void;
  reject(error: unknown): void;
}

/** Stops an instance whose outcome is not yet decided (one decided, whose done has not reached the loop, is left alone). */
export function stopIfRunning(tracker: { runningStatus(): { readonly status: InstanceStatus }; stop(): unknown }): void {
  if (tracker.runningStatus().status === InstanceStatus.RUNNING) tracker.stop();
}
