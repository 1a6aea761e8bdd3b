// Runtimes over the fixture processors for a test file, each closed after the test that made it. Nothing here
// registers a hook on import: a file calls useRuntimes() itself, and the hook is registered where it is called.
import { afterEach } from 'vitest';
import { MemoryReporter, TaskRuntime, type TaskRuntimeOptions } from 'light-task-tracker';
import { processors } from './fixtures.js';
import { LogCapture } from './logs.js';

export interface TestRuntime {
  readonly runtime: TaskRuntime;
  readonly reporter: MemoryReporter;
  readonly logs: LogCapture;
}

export interface Runtimes {
  /** A runtime over the fixture processors (2 threads, a MemoryReporter, a LogCapture), closed after the test. */
  make(options?: Partial<TaskRuntimeOptions>): TestRuntime;
}

/**
 * Registers, in the file or describe block that calls it, an afterEach that closes every runtime its `make` built
 * during the test. Call it at the top level of that block, and `make` inside tests only: a runtime made in a
 * beforeAll would be closed after the first test.
 */
export function useRuntimes(): Runtimes {
  const open: TaskRuntime[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((runtime) => runtime.close()));
  });
  return {
    make(options = {}) {
      const reporter = new MemoryReporter();
      const logs = new LogCapture();
      const runtime = new TaskRuntime({ processors, maxThreads: 2, reporter, logger: logs.logger, ...options });
      open.push(runtime);
      return { runtime, reporter, logs };
    },
  };
}
