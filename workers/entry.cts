// The module piscina loads in every worker. piscina tries require() before import(), and Node 20's require() of an
// ES module can abort the whole process (V8 fatal error "IsGraphAsync must be used on an instantiated module") when
// the module graph fails to instantiate, e.g. as the worker is terminated at boot. This CommonJS entry keeps
// require() off ES modules: the attempt runner is an ES module loaded with import().
// piscina awaits the default export, so the worker is reported ready only once attempt.ts has booted and its task
// function is handed over. Should attempt.js itself fail to load or boot (a broken install), the main thread is told,
// with the error, so that the pool fails what waits for it instead of waiting for a worker that can never run anything.
import { parentPort } from 'node:worker_threads';
// A type-only import: a CommonJS module must not require() the ES modules (see above); `satisfies` keeps the tag right.
import type { BootFailedMessage } from '../src/messages.js';

export default import('./attempt.js')
  .then(async (module) => {
    await module.booted;
    return module.default;
  })
  .catch((error: unknown) => {
    const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
    parentPort?.postMessage({ type: 'light-task-tracker:boot-failed', error: text } satisfies BootFailedMessage);
    return (): never => {
      throw error;
    };
  });
