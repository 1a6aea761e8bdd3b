// Shared by every benchmark: a clock that agrees across threads, percentiles, the printed table, the raw samples.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { performance } from 'node:perf_hooks';

/** Milliseconds since the epoch with sub-ms precision; comparable between the main thread and workers. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export interface Summary {
  readonly name: string;
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly unit: string;
}

/** Nearest-rank percentiles of `samples` (any order; not modified). */
export function summarize(name: string, samples: readonly number[], unit = 'ms'): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
  return { name, n: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN, unit };
}

function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return value.toFixed(1);
  if (Math.abs(value) >= 1) return value.toFixed(3);
  return value.toFixed(4);
}

/** Prints an aligned table of summaries (n, p50, p90, p99, max). */
export function printLatencyTable(title: string, rows: readonly Summary[]): void {
  printTable(title, ['case', 'n', 'p50', 'p90', 'p99', 'max', 'unit'], rows.map((r) => [r.name, String(r.n), format(r.p50), format(r.p90), format(r.p99), format(r.max), r.unit]));
}

/** Prints an aligned table; numbers right-aligned. */
export function printTable(title: string, header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

/** The machine a figure came from, for the results file and the README. */
export function machine(): string {
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.version}`;
}

/** Writes `benchmarks/results/<name>.json` with the raw samples and their summaries. */
export function writeResults(name: string, data: Record<string, unknown>): string {
  const dir = new URL('../../../benchmarks/results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`${name}.json`, dir);
  writeFileSync(file, `${JSON.stringify({ benchmark: name, machine: machine(), date: new Date().toISOString(), ...data }, null, 1)}\n`);
  return file.pathname;
}

/** Reads a positive integer from the environment (e.g. BENCH_SAMPLES), or the default. */
export function envInt(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}
