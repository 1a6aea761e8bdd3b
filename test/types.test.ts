// The public types: params, value and progress flow from a processor's definition to run(), submit(), the tracker
// and the outcome. Each @ts-expect-error line must be an error: `npm test` type-checks this file before vitest runs
// it, so a type that turns lax (or wrong) fails the build.
import { describe, expectTypeOf, it } from 'vitest';
import { TaskRuntime, type ChunkOf, type MapProgress, type MapResults, type MapSettled, type Outcome, type ProgressEvent, type StoppedBy, type StreamResults, type TaskTrackerError, type Tracker } from 'light-task-tracker';
import { defineProcessor, type Processor, type ProcessorContext, type ProcessResult, type StreamProcessor } from 'light-task-tracker/processor';
import type { HashParams } from './types/hash-processor.js';
import type { LinesParams } from './types/lines-processor.js';

type Registry = {
  hash: typeof import('./types/hash-processor.js');
  ping: typeof import('./types/no-params-processor.js');
  lines: typeof import('./types/lines-processor.js');
};

// Only the types of these are checked: the tests that use them never call them with a real runtime.
declare const runtimes: { typed: TaskRuntime<Registry>; untyped: TaskRuntime } | undefined;
/** Runs `check` only in the type checker's eyes: at run time there is no runtime to call. */
function typesOf(check: (runtime: TaskRuntime<Registry>, untyped: TaskRuntime) => void): void {
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

  it('keeps an untyped runtime open: any name, unknown params and values', () => typesOf((_runtime, untyped) => {
    expectTypeOf(untyped.run('anything', { a: 1 })).toEqualTypeOf<Promise<unknown>>();
    expectTypeOf(untyped.submit({ processor: 'x', jobParams: 1 }).done).toEqualTypeOf<Promise<Outcome<unknown>>>();
    expectTypeOf<ProgressEvent['value']>().toEqualTypeOf<unknown>();
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
});
