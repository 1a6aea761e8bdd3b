// The public types: params, value, progress and checkpoints flow from a processor's definition to run(), submit(),
// the tracker and the outcome. Each @ts-expect-error line must be an error: `npm test` type-checks this file before vitest runs
// it, so a type that turns lax (or wrong) fails the build.
import { describe, expectTypeOf, it } from 'vitest';
import { TaskRuntime, type CheckpointEvent, type CheckpointOf, type ChunkOf, type MapProgress, type MapResults, type MapSettled, type Outcome, type ProgressEvent, type StoppedBy, type StreamResults, type TaskTrackerError, type Tracker } from 'light-task-tracker';
import { defineProcessor, type Processor, type ProcessorContext, type ProcessResult, type StreamProcessor } from 'light-task-tracker/processor';
import type { HashParams } from './types/hash-processor.js';
import type { LinesParams } from './types/lines-processor.js';
import type { RowsCheckpoint, RowsParams } from './types/rows-processor.js';

type Registry = {
  hash: typeof import('./types/hash-processor.js');
  ping: typeof import('./types/no-params-processor.js');
  lines: typeof import('./types/lines-processor.js');
  rows: typeof import('./types/rows-processor.js');
  rowsStream: { readonly default: typeof import('./types/rows-processor.js').stream };
};

// Only the types of these are checked: the tests that use them never call them with a real runtime.
declare const runtimes: { typed: TaskRuntime<Registry>; untyped: TaskRuntime } | undefined;
/** Runs `check` only in the type checker's eyes: at run time there is no runtime to call. */
function typesOf(check: (runtime: TaskRuntime<Registry>, untyped: TaskRuntime) => void | Promise<void>): void {
  if (typeof runtimes !== 'undefined' && runtimes !== undefined) check(runtimes.typed, runtimes.untyped);
}

describe('types', () => {
  it('types run(): its params checked, its value returned', () => typesOf((runtime) => {
    const params: HashParams = { data: new Uint8Array(1), algorithm: 'sha256' };
    expectTypeOf(runtime.run('hash', params)).toEqualTypeOf<Promise<{ digest: string; bytes: Uint8Array }>>();
    expectTypeOf(runtime.run('ping')).toEqualTypeOf<Promise<string>>();
    // @ts-expect-error a processor that is not in the registry
    void runtime.run('nope', params);
    // @ts-expect-error params of the wrong shape
    void runtime.run('hash', { data: 'text', algorithm: 'sha256' });
    // @ts-expect-error params left out when the processor needs them
    void runtime.run('hash');
    // @ts-expect-error an algorithm the params type does not allow
    void runtime.run('hash', { data: new Uint8Array(1), algorithm: 'md5' });
    // @ts-expect-error run options cannot name another processor
    void runtime.run('hash', params, { processor: 'ping' });
    expectTypeOf(runtime.run('hash', params, { timeoutMs: 10, maxRetries: 1, signal: AbortSignal.timeout(1) })).toEqualTypeOf<Promise<{ digest: string; bytes: Uint8Array }>>();
  }));

  it('types submit(), the tracker, its progress and its outcome', () => typesOf((runtime) => {
    const tracker = runtime.submit({ processor: 'hash', jobParams: { data: new Uint8Array(1), algorithm: 'sha1' } });
    expectTypeOf(tracker).toEqualTypeOf<Tracker<{ digest: string; bytes: Uint8Array }, { done: number }>>();
    expectTypeOf(tracker.progress).toEqualTypeOf<{ done: number } | undefined>();
    expectTypeOf(tracker.done).toEqualTypeOf<Promise<Outcome<{ digest: string; bytes: Uint8Array }>>>();
    expectTypeOf<Outcome<number>['value']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<Outcome['stoppedBy']>().toEqualTypeOf<StoppedBy | undefined>();
    expectTypeOf<StoppedBy>().toEqualTypeOf<'stop' | 'signal' | 'close'>();
    expectTypeOf<Outcome['abortReason']>().toEqualTypeOf<unknown>();
    // @ts-expect-error jobParams of the wrong type
    runtime.submit({ processor: 'hash', jobParams: 42 });
  }));

  it('types map(): its items checked as params, its values (or settled records) yielded', () => typesOf((runtime, untyped) => {
    type HashValue = { digest: string; bytes: Uint8Array };
    const params: HashParams = { data: new Uint8Array(1), algorithm: 'sha256' };
    async function* more(): AsyncGenerator<HashParams> {
      yield params;
    }
    expectTypeOf(runtime.map('hash', [params])).toEqualTypeOf<MapResults<HashValue>>();
    expectTypeOf(runtime.map('hash', more(), { concurrency: 4, ordered: false, timeoutMs: 10, maxRetries: 1 })).toEqualTypeOf<MapResults<HashValue>>();
    expectTypeOf(runtime.map('hash', [params], { settle: true })).toEqualTypeOf<MapResults<MapSettled<HashValue>>>();
    expectTypeOf(runtime.map('ping', [undefined, undefined])).toEqualTypeOf<MapResults<string>>();
    const results = runtime.map('hash', new Set([params]), { signal: AbortSignal.timeout(1) });
    expectTypeOf(results.progress).toEqualTypeOf<MapProgress>();
    expectTypeOf(results).toExtend<AsyncIterable<HashValue>>();
    expectTypeOf<MapSettled<number>['index']>().toEqualTypeOf<number>();
    expectTypeOf<Extract<MapSettled<number>, { outcome: object }>['outcome']>().toEqualTypeOf<Outcome<number>>();
    expectTypeOf<Extract<MapSettled<number>, { refusal: object }>['refusal']>().toEqualTypeOf<TaskTrackerError>();
    expectTypeOf(untyped.map('anything', [1, 'two'])).toEqualTypeOf<MapResults<unknown>>();
    // @ts-expect-error items that are not the processor's params
    void runtime.map('hash', [{ data: 'text', algorithm: 'sha256' }]);
    // @ts-expect-error a processor that is not in the registry
    void runtime.map('nope', [params]);
    // @ts-expect-error an instance id names one instance, not a map's many
    void runtime.map('hash', [params], { instanceId: 'one' });
    // @ts-expect-error items must be iterable
    void runtime.map('hash', params);
  }));

  it('types stream(): its params checked, its chunks, value and progress typed; each kind of processor for its own calls', () => typesOf((runtime, untyped) => {
    const params: LinesParams = { path: '/tmp/a' };
    const stream = runtime.stream('lines', params);
    expectTypeOf(stream).toEqualTypeOf<StreamResults<string[], number, { read: number }>>();
    expectTypeOf(stream).toExtend<AsyncIterable<string[]>>();
    expectTypeOf(stream.done).toEqualTypeOf<Promise<Outcome<number>>>();
    expectTypeOf(stream.tracker).toEqualTypeOf<Tracker<number, { read: number }>>();
    expectTypeOf(runtime.stream('lines', params, { highWaterMark: 4, timeoutMs: 10, maxRetries: 1, signal: AbortSignal.timeout(1) })).toEqualTypeOf<StreamResults<string[], number, { read: number }>>();
    expectTypeOf<ChunkOf<Registry['lines']>>().toEqualTypeOf<string[]>();
    expectTypeOf(untyped.stream('anything', 1)).toEqualTypeOf<StreamResults<unknown, unknown, unknown>>();
    // @ts-expect-error params of the wrong shape
    void runtime.stream('lines', { file: '/tmp/a' });
    // @ts-expect-error params left out when the processor needs them
    void runtime.stream('lines');
    // @ts-expect-error a high-water mark that is not a number
    void runtime.stream('lines', params, { highWaterMark: '4' });
    // @ts-expect-error a processor that is no stream processor
    void runtime.stream('hash', { data: new Uint8Array(1), algorithm: 'sha256' });
    // @ts-expect-error a stream processor is run by stream() only
    void runtime.run('lines', params);
    // @ts-expect-error nor submitted
    runtime.submit({ processor: 'lines', jobParams: params });
    // @ts-expect-error nor mapped
    void runtime.map('lines', [params]);
  }));

  it('types checkpoints on the main thread: resumeFrom checked, tracker.checkpoint and outcome.checkpoint typed', () => typesOf(async (runtime) => {
    type Progress = { done: number };
    const params: RowsParams = { rows: 10 };
    const tracker = runtime.submit({ processor: 'rows', jobParams: params, resumeFrom: { row: 5 } });
    expectTypeOf(tracker).toEqualTypeOf<Tracker<number, Progress, RowsCheckpoint>>();
    expectTypeOf(tracker.checkpoint).toEqualTypeOf<RowsCheckpoint | undefined>();
    expectTypeOf((await tracker.done).checkpoint).toEqualTypeOf<RowsCheckpoint | undefined>();
    expectTypeOf<CheckpointOf<Registry['rows']>>().toEqualTypeOf<RowsCheckpoint>();
    expectTypeOf<CheckpointOf<Registry['rowsStream']>>().toEqualTypeOf<RowsCheckpoint>();
    expectTypeOf<CheckpointOf<Registry['hash']>>().toEqualTypeOf<unknown>();
    expectTypeOf(runtime.submit({ processor: 'hash', jobParams: { data: new Uint8Array(1), algorithm: 'sha1' } }).checkpoint).toEqualTypeOf<unknown>();
    // @ts-expect-error a resumeFrom that is not the processor's checkpoint
    runtime.submit({ processor: 'rows', jobParams: params, resumeFrom: { row: 'five' } });
    expectTypeOf(runtime.run('rows', params, { resumeFrom: { row: 5 } })).toEqualTypeOf<Promise<number>>();
    // @ts-expect-error nor given to run()
    void runtime.run('rows', params, { resumeFrom: { line: 5 } });
    expectTypeOf(runtime.map('rows', [params], { resumeFrom: { row: 5 } })).toEqualTypeOf<MapResults<number>>();
    // @ts-expect-error nor to map()
    void runtime.map('rows', [params], { resumeFrom: 5 });
    const stream = runtime.stream('rowsStream', params, { resumeFrom: { row: 5 } });
    expectTypeOf(stream).toEqualTypeOf<StreamResults<number, string, Progress, RowsCheckpoint>>();
    expectTypeOf(stream.tracker.checkpoint).toEqualTypeOf<RowsCheckpoint | undefined>();
    expectTypeOf((await stream.done).checkpoint).toEqualTypeOf<RowsCheckpoint | undefined>();
    // @ts-expect-error nor to stream()
    void runtime.stream('rowsStream', params, { resumeFrom: { row: 'five' } });
  }));

  it('keeps an untyped runtime open: any name, unknown params and values', () => typesOf((_runtime, untyped) => {
    expectTypeOf(untyped.run('anything', { a: 1 })).toEqualTypeOf<Promise<unknown>>();
    expectTypeOf(untyped.submit({ processor: 'x', jobParams: 1 }).done).toEqualTypeOf<Promise<Outcome<unknown>>>();
    expectTypeOf<ProgressEvent['value']>().toEqualTypeOf<unknown>();
    const tracker = untyped.submit({ processor: 'x', jobParams: 1, resumeFrom: 'any value' });
    expectTypeOf(tracker.checkpoint).toEqualTypeOf<unknown>();
    expectTypeOf(tracker.done).toEqualTypeOf<Promise<Outcome<unknown>>>();
    expectTypeOf<Outcome['checkpoint']>().toEqualTypeOf<unknown>();
    expectTypeOf<CheckpointEvent['state']>().toEqualTypeOf<unknown>();
  }));

  it('types a processor from its type arguments or from its annotated context', async () => {
    const typed = await import('./types/hash-processor.js');
    expectTypeOf(typed.default).toEqualTypeOf<Processor<HashParams, { digest: string; bytes: Uint8Array }, { done: number }>>();
    expectTypeOf(typed.inferred).toEqualTypeOf<Processor<{ n: number }, number, number>>();
    defineProcessor<{ n: number }, number>((ctx) => {
      expectTypeOf(ctx.jobParams).toEqualTypeOf<{ n: number }>();
      return { success: true, value: ctx.jobParams.n };
    });
    // @ts-expect-error a value of the wrong type
    defineProcessor<{ n: number }, string>((ctx) => ({ success: true, value: ctx.jobParams.n }));
    defineProcessor<unknown, unknown, number>((ctx) => {
      // @ts-expect-error progress of the wrong type
      ctx.progress('half');
      return null;
    });
    expectTypeOf<ProcessResult<number>['value']>().toEqualTypeOf<number | undefined>();
    const lines = await import('./types/lines-processor.js');
    expectTypeOf(lines.default).toEqualTypeOf<StreamProcessor<LinesParams, string[], number, { read: number }>>();
    expectTypeOf(lines.inferred).toEqualTypeOf<StreamProcessor<{ n: number }, number, string, unknown>>();
    defineProcessor<{ n: number }, string, number>(async function* (ctx) {
      yield 'chunk';
      return ctx.jobParams.n;
    });
    // @ts-expect-error a chunk of the wrong type
    defineProcessor<{ n: number }, string, number>(async function* (ctx) {
      yield ctx.jobParams.n;
      return 1;
    });
    expectTypeOf<ProcessorContext['childrenValues']>().toEqualTypeOf<Readonly<Record<string, unknown>> | undefined>();
  });

  it('types a processor\'s checkpoints from its annotated context, or a stream processor\'s from its fifth type argument', async () => {
    const rows = await import('./types/rows-processor.js');
    expectTypeOf(rows.default).toEqualTypeOf<Processor<RowsParams, number, { done: number }, RowsCheckpoint>>();
    expectTypeOf(rows.stream).toEqualTypeOf<StreamProcessor<RowsParams, number, string, { done: number }, RowsCheckpoint>>();
    defineProcessor(async (ctx: ProcessorContext<RowsParams, unknown, RowsCheckpoint>) => {
      expectTypeOf(ctx.resumeFrom).toEqualTypeOf<RowsCheckpoint | undefined>();
      ctx.checkpoint({ row: 1 });
      // @ts-expect-error a checkpoint of the wrong type
      ctx.checkpoint({ row: 'one' });
      return null;
    });
    defineProcessor<RowsParams, number, string, unknown, RowsCheckpoint>(async function* (ctx) {
      expectTypeOf(ctx.resumeFrom).toEqualTypeOf<RowsCheckpoint | undefined>();
      expectTypeOf(ctx.jobParams).toEqualTypeOf<RowsParams>();
      // @ts-expect-error a checkpoint of the wrong type
      ctx.checkpoint(1);
      yield ctx.jobParams.rows;
      return 'read';
    });
    const annotatedStream = defineProcessor(async function* (ctx: ProcessorContext<RowsParams, number, RowsCheckpoint>) {
      ctx.checkpoint({ row: 1 });
      yield ctx.jobParams.rows;
      return 'read';
    });
    expectTypeOf(annotatedStream).toEqualTypeOf<StreamProcessor<RowsParams, number, string, number, RowsCheckpoint>>();
    defineProcessor((ctx) => {
      expectTypeOf(ctx.resumeFrom).toEqualTypeOf<unknown>();
      ctx.checkpoint(Symbol.iterator);
      return null;
    });
    expectTypeOf<ProcessorContext['resumeFrom']>().toEqualTypeOf<unknown>();
    // @ts-expect-error four type arguments are a stream processor's: a plain processor's checkpoint type comes from its annotated ctx
    defineProcessor<RowsParams, number, unknown, RowsCheckpoint>(async (ctx) => ({ success: true, value: ctx.jobParams.rows }));
    // @ts-expect-error even when its progress and checkpoint types are the same
    defineProcessor<RowsParams, number, number, number>(async (ctx) => ({ success: true, value: ctx.jobParams.rows }));
    // @ts-expect-error a context annotated with a checkpoint type takes no type arguments
    defineProcessor<RowsParams, number>(async (ctx: ProcessorContext<RowsParams, unknown, RowsCheckpoint>) => ({ success: true, value: ctx.jobParams.rows }));
  });
});
