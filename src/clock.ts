// The one clock the main thread and the workers stamp times with: epoch milliseconds at microsecond precision,
// performance.timeOrigin plus performance.now(), which agree across the threads of a process.

/** performance.timeOrigin, read once: it is a getter, and times are taken on every attempt's way. */
export const TIME_ORIGIN = performance.timeOrigin;

/** The time now (epoch ms, µs precision). */
export function epochNow(): number {
  return TIME_ORIGIN + performance.now();
}
