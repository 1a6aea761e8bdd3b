// The fixture processor modules (test/fixtures/*.js), and the registry most tests run under.
import { fileURLToPath } from 'node:url';

/** Absolute path of a fixture processor module. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}.js`, import.meta.url));
}

export const processors = {
  succeed: fixture('succeed'),
  fail: fixture('fail'),
  throws: fixture('throws'),
  returnsNull: fixture('returns-null'),
  spinCooperative: fixture('spin-cooperative'),
  spinRunaway: fixture('spin-runaway'),
  timedSpin: fixture('timed-spin'),
  sleep: fixture('sleep'),
  awaitSignal: fixture('await-signal'),
  exit: fixture('exit'),
  exitOnce: fixture('exit-once'),
  uncaught: fixture('uncaught'),
  heapBlowup: fixture('heap-blowup'),
  leak: fixture('leak'),
  flaky: fixture('flaky'),
  workflow: fixture('workflow'),
  logMany: fixture('log-many'),
  longResult: fixture('long-result'),
  badExport: fixture('bad-export'),
  loadThrows: fixture('load-throws'),
  slowFail: fixture('slow-fail'),
  sharedWrite: fixture('shared-write'),
  data: fixture('data'),
  longJob: fixture('long-job'),
  runawayMapped: fixture('runaway-mapped'),
  stream: fixture('stream'),
  checkpointValues: fixture('checkpoint-values'),
} as const;
