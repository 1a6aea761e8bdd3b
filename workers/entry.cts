// The module piscina loads in every worker. piscina tries require() before import(), and Node 20's require() of an
// ES module can abort the whole process (V8 fatal error "IsGraphAsync must be used on an instantiated module") when
// the module graph fails to instantiate, e.g. as the worker is terminated at boot. This CommonJS entry keeps
// require() off ES modules: the attempt runner is an ES module loaded with import().
// piscina awaits the default export, so the worker is reported ready only once attempt.ts, its processors
// imported, hands over its task function. Should attempt.js itself fail to load (a broken install), piscina would
// swallow the error: every attempt then fails with it instead.
export default import('./attempt.js').then(
  (module) => module.default,
  (error: unknown) => (): never => {
    throw error;
  },
);
