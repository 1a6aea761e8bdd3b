// Stream: how long a stream of moved chunks takes to reach its loop, against piscina returning the same bytes in one
// value. BENCH_CHUNKS chunks (default 10,000) of BENCH_CHUNK_KB KiB (default 64: 625 MiB in all), made in the worker
// the same way by both (a new Uint8Array per chunk, filled with the chunk index's low byte), in the same process:
//   stream   for await (const chunk of runtime.stream('stream-chunks', { count, size }, { highWaterMark })): each chunk
//            yielded as move(bytes); the loop checks each chunk's length and first and last byte
//            (TaskRuntime { maxThreads: 2, silent pino logger, a reporter that does nothing }; BENCH_HWM, default 16)
//   piscina  piscina.run({ count, size }) on new Piscina({ minThreads: 2, maxThreads: 2 }): the worker fills one
//            Uint8Array of count × size bytes and returns Piscina.move(it); the caller checks each run's first and
//            last byte
// The clock starts at the call and stops once the last byte is in the caller's hands; for the stream, the time to
// its first chunk is printed too (piscina's first byte comes with its last). A warm-up of each with a tenth of the
// chunks, then BENCH_ROUNDS rounds (default 5) in which the two alternate (the order rotating from round to round).
// Printed: each round's times, their medians, and the ratio stream / piscina (of the medians, and per round), with
// the target of the stream's chunks reaching the loop within 1.2 × piscina's time for the one value.
// Run with `npm run bench:stream`; a smoke run: BENCH_CHUNKS=200 BENCH_ROUNDS=1 npm run bench:stream.
import { Piscina } from 'piscina';
import { benchRuntime } from './lib/harness.js';
import { median } from './lib/rounds.js';
import { envInt, now, printTable, writeResults } from './lib/stats.js';

const CHUNKS = envInt('BENCH_CHUNKS', 10_000);
const SIZE = envInt('BENCH_CHUNK_KB', 64) * 1024;
const ROUNDS = envInt('BENCH_ROUNDS', 5);
const HIGH_WATER_MARK = envInt('BENCH_HWM', 16);
const WARMUP = Math.max(1, Math.floor(CHUNKS / 10));
const TARGET = 1.2;
const THREADS = 2;
const MiB = 1024 * 1024;

const processor = (name: string): URL => new URL(`./processors/${name}.js`, import.meta.url);
const runtime = benchRuntime({ 'stream-chunks': processor('stream-chunks') }, { maxThreads: THREADS });
const piscina = new Piscina({ filename: processor('stream-piscina-one').href, minThreads: THREADS, maxThreads: THREADS });

const WAYS = ['stream', 'piscina'] as const;
type Way = (typeof WAYS)[number];

interface Sample {
  readonly way: Way;
  readonly round: number;
  /** Call → the last byte in hand, ms. */
  readonly totalMs: number;
  /** Call → the first chunk in hand, ms (piscina: its one value). */
  readonly firstMs: number;
}

function check(way: Way, bytes: Uint8Array, index: number): void {
  if (bytes.byteLength !== SIZE || bytes[0] !== (index & 255) || bytes[SIZE - 1] !== (index & 255)) throw new Error(`${way}: chunk ${index} did not arrive whole`);
}

async function viaStream(count: number): Promise<{ totalMs: number; firstMs: number }> {
  const t0 = now();
  let firstMs = Number.NaN;
  let index = 0;
  const stream = runtime.stream('stream-chunks', { count, size: SIZE }, { highWaterMark: HIGH_WATER_MARK });
  for await (const chunk of stream) {
    if (index === 0) firstMs = now() - t0;
    check('stream', chunk as Uint8Array, index++);
  }
  const totalMs = now() - t0;
  const outcome = await stream.done;
  if (index !== count || outcome.value !== count) throw new Error(`stream: ${index} chunks of ${count}, ${outcome.status} ${outcome.reason}`);
  return { totalMs, firstMs };
}

async function viaPiscina(count: number): Promise<{ totalMs: number; firstMs: number }> {
  const t0 = now();
  const all = (await piscina.run({ count, size: SIZE })) as Uint8Array;
  // The first chunk is usable when the whole answer is; the checks are in the clock, as the stream's are in its own.
  const firstMs = now() - t0;
  if (all.byteLength !== count * SIZE) throw new Error(`piscina: ${all.byteLength} bytes of ${count * SIZE}`);
  for (let index = 0; index < count; index++) check('piscina', all.subarray(index * SIZE, (index + 1) * SIZE), index);
  return { totalMs: now() - t0, firstMs };
}

const samples: Sample[] = [];
const wallStart = now();
try {
  await runtime.ready();
  for (const way of WAYS) await (way === 'stream' ? viaStream : viaPiscina)(WARMUP);
  for (let round = 1; round <= ROUNDS; round++) {
    for (let i = 0; i < WAYS.length; i++) {
      const way = WAYS[(i + round - 1) % WAYS.length] as Way;
      const { totalMs, firstMs } = await (way === 'stream' ? viaStream : viaPiscina)(CHUNKS);
      samples.push({ way, round, totalMs, firstMs });
      console.log(`round ${round} ${way.padEnd(7)} ${totalMs.toFixed(1).padStart(9)} ms`);
    }
  }
} finally {
  await runtime.close();
  await piscina.destroy();
}

// --- Output -----------------------------------------------------------------------------------------------------
const of = (way: Way): Sample[] => samples.filter((s) => s.way === way);
const medianOf = (way: Way, field: 'totalMs' | 'firstMs'): number => median(of(way).map((s) => s[field]));
const perRound = of('stream').map((s) => s.totalMs / (of('piscina').find((p) => p.round === s.round)?.totalMs ?? Number.NaN));
const ratio = medianOf('stream', 'totalMs') / medianOf('piscina', 'totalMs');

printTable(
  `call → last byte in hand, ms (${CHUNKS} chunks × ${SIZE / 1024} KiB = ${((CHUNKS * SIZE) / MiB).toFixed(0)} MiB, ${THREADS} threads, highWaterMark ${HIGH_WATER_MARK})`,
  ['way', ...Array.from({ length: ROUNDS }, (_, i) => `round ${i + 1}`), 'median', 'first chunk (median)', 'MiB/s (median)'],
  WAYS.map((way) => [
    way,
    ...of(way).map((s) => s.totalMs.toFixed(1)),
    medianOf(way, 'totalMs').toFixed(1),
    medianOf(way, 'firstMs').toFixed(1),
    ((CHUNKS * SIZE) / MiB / (medianOf(way, 'totalMs') / 1000)).toFixed(0),
  ]),
);
printTable('ratio of times, stream / piscina (same run)', ['of the medians', 'median of per-round ratios', 'per round'], [[
  ratio.toFixed(3),
  median(perRound).toFixed(3),
  perRound.map((x) => x.toFixed(3)).join(' '),
]]);
console.log(`\ntarget stream ≤ ${TARGET} × piscina: ${ratio <= TARGET ? 'met' : 'NOT met'} (ratio of medians ${ratio.toFixed(3)})`);
const wallS = (now() - wallStart) / 1000;
console.log(`wall time ${wallS.toFixed(1)} s`);

const file = writeResults('stream', {
  config: { chunks: CHUNKS, chunkBytes: SIZE, rounds: ROUNDS, warmup: WARMUP, highWaterMark: HIGH_WATER_MARK, threads: THREADS },
  samples,
  ratio: { ofMedians: ratio, perRound },
  wallSeconds: wallS,
});
console.log(`raw samples: ${file}`);
