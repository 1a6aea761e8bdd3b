// Runs a Node script in a child process, for tests that need a process of their own (its exit, its own heap, its
// stdout): resolves once the child has exited and its output streams have closed, so nothing it wrote is lost.
import { spawn } from 'node:child_process';

export interface ChildRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Whether the run outlasted its `timeoutMs` and was killed. */
  readonly timedOut: boolean;
}

export interface RunNodeOptions {
  /** The child's working directory (default: this process's). */
  readonly cwd?: string;
  /**
   * The time bound: past it, the child and every process it started (it runs in a process group of its own) are
   * killed with SIGKILL, and the run resolves with `timedOut` set once their output streams have closed.
   */
  readonly timeoutMs?: number;
}

/** Runs `node <args>` with `env` (default: this process's); resolves on 'close', after every byte was read. */
export function runNode(args: readonly string[], env: NodeJS.ProcessEnv = process.env, options: RunNodeOptions = {}): Promise<ChildRun> {
  const { cwd, timeoutMs } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env, cwd, detached: timeoutMs !== undefined });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL'); // the group: grandchildren holding our pipes go too
      } catch {
        child.kill('SIGKILL'); // the group is gone already
      }
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}
