// Fills in and checks a runtime's options: every default taken from `defaultOptions`, every value checked, and a
// `TypeError` or `RangeError` that names the option and the value it got.
import { availableParallelism, hostname } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { checkNumber } from './checks.js';
import { describeValue } from './errors.js';
import { MAX_INT32 } from './limits.js';
import { defaultOptions, refuseUnknownRuntimeOptions, type RecycleWorkers, type ResolvedOptions, type TaskRuntimeOptions } from './options.js';

/** The options as the runtime uses them, from those given to `new TaskRuntime()`: throws for a bad one. */
export function resolveOptions(options: TaskRuntimeOptions<unknown>): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`TaskRuntime: options must be an object, got ${describeValue(options)}`);
  }
  refuseUnknownRuntimeOptions('TaskRuntime', options);
  const maxThreads = integer('maxThreads', options.maxThreads ?? availableParallelism(), 1, 1024);
  const minThreads = integer('minThreads', options.minThreads ?? maxThreads, 0, maxThreads);
  for (const name of ['allowForceStop', 'captureStack'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean') {
      throw new TypeError(`TaskRuntime: options.${name} must be a boolean, got ${describeValue(options[name])}`);
    }
  }
  if (options.reporter !== undefined && (typeof options.reporter !== 'object' || options.reporter === null || typeof options.reporter.report !== 'function')) {
    throw new TypeError('TaskRuntime: options.reporter must be an object with a report(report) method');
  }
  if (options.logger !== undefined && (typeof options.logger !== 'object' || options.logger === null || typeof options.logger.info !== 'function')) {
    throw new TypeError('TaskRuntime: options.logger must be a pino logger');
  }
  for (const name of ['onProcessorLog', 'onProgress', 'onCheckpoint'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new TypeError(`TaskRuntime: options.${name} must be a function, got ${describeValue(options[name])}`);
    }
  }
  if (options.address !== undefined && typeof options.address !== 'string') {
    throw new TypeError(`TaskRuntime: options.address must be a string, got ${describeValue(options.address)}`);
  }
  return {
    minThreads,
    maxThreads,
    spareThreads: integer('spareThreads', options.spareThreads ?? defaultOptions.spareThreads, 0, 64),
    resourceLimits: resourceLimits(options.resourceLimits),
    loadTimeoutMs: ms('loadTimeoutMs', options.loadTimeoutMs ?? defaultOptions.loadTimeoutMs, 1),
    maxInstances: integer('maxInstances', options.maxInstances ?? defaultOptions.maxInstances, 1, MAX_INT32),
    statusReportIntervalMs: ms('statusReportIntervalMs', options.statusReportIntervalMs ?? defaultOptions.statusReportIntervalMs, 10),
    allowForceStop: options.allowForceStop ?? defaultOptions.allowForceStop,
    forceStopGraceMs: options.forceStopGraceMs === undefined ? undefined : ms('forceStopGraceMs', options.forceStopGraceMs, 0),
    maxResultLength: integer('maxResultLength', options.maxResultLength ?? defaultOptions.maxResultLength, 0, MAX_INT32),
    maxParamsBytes: integer('maxParamsBytes', options.maxParamsBytes ?? defaultOptions.maxParamsBytes, 1, MAX_INT32, 'bytes'),
    reporter: options.reporter,
    logger: options.logger,
    onProcessorLog: options.onProcessorLog,
    processorLogRate: integer('processorLogRate', options.processorLogRate ?? defaultOptions.processorLogRate, 1, MAX_INT32),
    processorLogBurst: integer('processorLogBurst', options.processorLogBurst ?? defaultOptions.processorLogBurst, 1, MAX_INT32),
    onProgress: options.onProgress,
    onCheckpoint: options.onCheckpoint,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs === undefined ? undefined : ms('heartbeatTimeoutMs', options.heartbeatTimeoutMs, 1),
    captureStack: options.captureStack ?? defaultOptions.captureStack,
    stackCaptureMs: ms('stackCaptureMs', options.stackCaptureMs ?? defaultOptions.stackCaptureMs, 1, 10_000),
    address: options.address ?? `${hostname()}:${process.pid}`,
    finalReportRetries: integer('finalReportRetries', options.finalReportRetries ?? defaultOptions.finalReportRetries, 0, 100),
    reportTimeoutMs: ms('reportTimeoutMs', options.reportTimeoutMs ?? defaultOptions.reportTimeoutMs, 1),
    reportBackoffMs: ms('reportBackoffMs', options.reportBackoffMs ?? defaultOptions.reportBackoffMs, 0),
    reportBackoffMaxMs: ms('reportBackoffMaxMs', options.reportBackoffMaxMs ?? defaultOptions.reportBackoffMaxMs, 0),
    metricsWindowMs: ms('metricsWindowMs', options.metricsWindowMs ?? defaultOptions.metricsWindowMs, 100),
    recycleWorkers: recycleWorkers(options.recycleWorkers),
  };
}

function recycleWorkers(value: unknown): RecycleWorkers | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`TaskRuntime: options.recycleWorkers must be an object, got ${describeValue(value)}`);
  }
  const given = value as Record<keyof RecycleWorkers, unknown>;
  const rule: { afterAttempts?: number; heapUsedMb?: number } = {};
  if (given.afterAttempts !== undefined) rule.afterAttempts = integer('recycleWorkers.afterAttempts', given.afterAttempts, 1, Number.MAX_SAFE_INTEGER);
  if (given.heapUsedMb !== undefined) {
    rule.heapUsedMb = checkNumber('TaskRuntime: options.recycleWorkers.heapUsedMb', given.heapUsedMb, { min: 0, exclusiveMin: true, max: Number.MAX_SAFE_INTEGER, unit: 'MB' });
  }
  if (rule.afterAttempts === undefined && rule.heapUsedMb === undefined) {
    throw new TypeError('TaskRuntime: options.recycleWorkers must give afterAttempts, heapUsedMb, or both');
  }
  return Object.freeze(rule);
}

// Node checks none of these: a negative heap cap becomes 2 MB (every worker dies at boot), NaN is ignored, and a
// stack of 0.1 MB kills the process itself.
function resourceLimits(value: unknown): ResourceLimits | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`TaskRuntime: options.resourceLimits must be an object, got ${describeValue(value)}`);
  }
  const given = value as Record<keyof ResourceLimits, unknown>;
  const limits: ResourceLimits = {};
  for (const key of ['maxYoungGenerationSizeMb', 'maxOldGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'] as const) {
    const limit = given[key];
    if (limit === undefined) continue;
    limits[key] = checkNumber(`TaskRuntime: options.resourceLimits.${key}`, limit, key === 'stackSizeMb'
      ? { min: 1, max: 1024, unit: 'MB' }
      : { min: 0, exclusiveMin: true, max: Number.MAX_VALUE, unit: 'MB' });
  }
  return Object.freeze(limits);
}

function integer(name: string, value: unknown, min: number, max: number, unit?: string): number {
  return checkNumber(`TaskRuntime: options.${name}`, value, { min, max, integer: true, unit });
}

function ms(name: string, value: unknown, min: number, max?: number): number {
  return checkNumber(`TaskRuntime: options.${name}`, value, max === undefined ? { min, unit: 'ms' } : { min, max, unit: 'ms' });
}
