// The package's internal handles: symbols it does not export to users, so that what one part calls on another stays
// off the public API (as piscina's symbols.ts does).

/** Runtime → tracker: the instance is dispatched; its first attempt goes to the pool. */
export const kStart = Symbol('start');
/** Runtime → tracker: close() stops the instance, and terminates it after the grace even with force-stop off. */
export const kStopForClose = Symbol('stopForClose');
/** Runtime → tracker: the report ticker asks whether a RUNNING report is due. */
export const kReportTick = Symbol('reportTick');
/** Runtime → tracker: the request's signal has aborted. */
export const kCallerAbort = Symbol('callerAbort');
/** Stream → tracker: the caller has consumed chunks of the instance's stream. */
export const kConsumed = Symbol('consumed');
/** Prometheus → runtime: listens to each wait and run sample the metrics record. */
export const kListenMetrics = Symbol('listenMetrics');
