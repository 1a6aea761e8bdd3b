// What runtime.map() takes and gives: its items, what a settled map yields for each, its counts, and what it needs of
// its runtime.
import type { TaskTrackerError } from './errors.js';
import type { Outcome } from './outcome.js';
import type { SubmitRequest } from './request.js';
import type { Tracker } from './tracker.js';

/** What `map()` takes as items: any iterable or async iterable of params, each one instance's `jobParams`. */
export type MapItems<P> = Iterable<P> | AsyncIterable<P>;

/**
 * What a map with `settle: true` yields for each item: its instance's outcome, or, for an item whose request was
 * refused for its params, the refusal. `index` is the item's position in the items (0 for the first).
 */
export type MapSettled<V> =
  | { readonly index: number; readonly outcome: Outcome<V>; readonly refusal?: undefined }
  | { readonly index: number; readonly outcome?: undefined; readonly refusal: TaskTrackerError };

/** A snapshot of a map's counts (`results.progress`). */
export interface MapProgress {
  /** Items taken from the iterable. */
  readonly pulled: number;
  /** Items whose instance is submitted and not yet ended. */
  readonly inFlight: number;
  /** Items whose instance succeeded. */
  readonly succeeded: number;
  /** Items whose instance ended FAILED, or whose request was refused. */
  readonly failed: number;
  /** Items whose instance ended STOPPED: by the map (a break, another item's failure), its signal, a stop, close(). */
  readonly stopped: number;
  /** Results handed to the loop. */
  readonly yielded: number;
}

/** What map() needs of its runtime: its public API. */
export interface MapRuntime {
  submit(request: SubmitRequest): Tracker;
  readonly maxThreads: number;
}
