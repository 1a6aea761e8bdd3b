// Shared by the throughput and memory benchmarks: keep a bounded number of tasks in flight.

/** Runs `total` tasks with at most `window` in flight; resolves with the number that did not succeed. */
export function drive(total: number, window: number, startOne: () => Promise<boolean>): Promise<number> {
  return new Promise((resolve, reject) => {
    let submitted = 0;
    let settled = 0;
    let failures = 0;
    const launch = (): void => {
      submitted++;
      try {
        startOne().then(onSettled, reject);
      } catch (error) {
        reject(error);
      }
    };
    const onSettled = (ok: boolean): void => {
      settled++;
      if (!ok) failures++;
      if (submitted < total) launch();
      else if (settled === total) resolve(failures);
    };
    for (let i = 0; i < Math.min(window, total); i++) launch();
  });
}
