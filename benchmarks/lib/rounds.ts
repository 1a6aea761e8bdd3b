// Throughput rounds, shared by the throughput and observability-cost benchmarks: pools driven the same way, in
// rounds that alternate between them, with wall time and CPU per instance measured the same way.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { drive } from './drive.js';
import { now } from './stats.js';

const MAIN_SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;

/** Where the main thread's CPU time is read from. */
export const mainCpuSource = MAIN_SCHEDSTAT;

/** The main thread's own CPU time in ms (Linux), or NaN where /proc does not have it. */
export function mainThreadCpuMs(): number {
  try {
    return Number(readFileSync(MAIN_SCHEDSTAT, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return Number.NaN;
  }
}

export interface Round {
  readonly pool: string;
  readonly round: number;
  readonly instances: number;
  readonly failures: number;
  readonly wallMs: number;
  readonly opsPerSec: number;
  /** Per instance, in microseconds. */
  readonly mainCpuUs: number;
  readonly eluActiveUs: number;
  readonly processCpuUs: number;
}

/** Runs `instances` tasks of `pool` through `start`, at most `window` in flight, and measures the round. */
export async function measure(pool: string, round: number, instances: number, window: number, start: () => Promise<boolean>): Promise<Round> {
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuMs();
  const t0 = now();
  const failures = await drive(instances, window, start);
  const wallMs = now() - t0;
  const mainMs = mainThreadCpuMs() - main0;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  return {
    pool,
    round,
    instances,
    failures,
    wallMs,
    opsPerSec: instances / (wallMs / 1000),
    mainCpuUs: (mainMs * 1000) / instances,
    eluActiveUs: (elu.active * 1000) / instances,
    processCpuUs: (cpu.user + cpu.system) / instances,
  };
}

/**
 * A warm-up round of each pool, then `rounds` rounds in which the pools take turns (the order rotates from round to
 * round); each round's line is printed as it ends.
 */
export async function runRounds(
  pools: Readonly<Record<string, () => Promise<boolean>>>,
  options: {
    readonly rounds: number;
    readonly instances: number;
    readonly warmup: number;
    readonly window: number;
    /** Called before each measurement of `pool` (warm-up included): to set up what that pool runs under. */
    readonly before?: (pool: string) => void;
  },
): Promise<Round[]> {
  const names = Object.keys(pools);
  const rounds: Round[] = [];
  for (const pool of names) {
    options.before?.(pool);
    await measure(pool, 0, options.warmup, options.window, pools[pool] as () => Promise<boolean>);
  }
  for (let round = 1; round <= options.rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const pool = names[(i + round - 1) % names.length] as string;
      options.before?.(pool);
      const result = await measure(pool, round, options.instances, options.window, pools[pool] as () => Promise<boolean>);
      rounds.push(result);
      console.log(`round ${round} ${pool.padEnd(14)} ${result.opsPerSec.toFixed(0).padStart(7)} ops/s${result.failures > 0 ? `  (${result.failures} failed)` : ''}`);
    }
  }
  return rounds;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : (((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2);
}
