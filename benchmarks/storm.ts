// storm: force-stop storms, as a bad deploy makes them: every instance hangs, so every one costs a terminate and a
// respawn. Four measurements, ours (TaskRuntime, silent logger, no-op reporter, forceStopGraceMs 0, maxThreads 1)
// beside a bare piscina (new Piscina({ minThreads: 1, maxThreads: 1 })) in the same run. The runaway processors
// (storm-runaway for ours, storm-piscina for piscina: each imports one small shared module and node:worker_threads)
// write their start (the worker's now(), its threadId) into a SharedArrayBuffer, notify the main thread and spin
// forever, ignoring every interrupt. Times are performance.timeOrigin + performance.now(), comparable across threads,
// in ms.
//
// (a) boot: spawn → ready, one sample of each per round, in turns (BENCH_SAMPLES rounds, default 40, after 5).
//   floor                      new Worker(eval'd code that posts one message on start) → that message on the main
//                              thread; a second row gives the time the main thread spent inside `new Worker()`.
//   ours, cold                 new TaskRuntime(…, spareThreads 0) → runtime.ready() resolves (its one worker booted,
//                              its processor imported).
//   ours, replacement          a runaway started (its mark seen), t0, tracker.stop() → runtime.ready() resolves (the
//                              terminated worker replaced, the replacement booted).
//   piscina, replacement       a runaway started, t0, abort() of its task's signal → piscina's workerCreate event for
//                              the replacement (emitted when the new worker reports ready).
//   Target: ours, cold ≤ 1.3 × the floor (p50s).
// (b) storm rate: BENCH_STORM (default 50) runaways submitted at once; the main thread waits on the probe's counter
//   (Atomics.waitAsync) and stops each instance as soon as its start is marked: ours tracker.stop(), piscina
//   abort() of the AbortController given to piscina.run(task, { signal }). Sample = the time between two
//   consecutive starts (worker clocks); rate = (starts − 1) / (last start − first start), over all rounds. Ours with
//   spareThreads 0, 1 and 4, piscina with its one thread; each config gets a fresh pool (ready before its storm) per
//   round, in turns, BENCH_ROUNDS (default 2) rounds after one short unmeasured one. Target: ours with 0 spares ≥
//   0.95 × piscina.
// (c) in the same storms: does an instance wait for a spawn while a booted worker stands idle? A worker is booted and
//   idle from the moment its pool learns it is ready (piscina: its workerCreate event; ours: the same event, as the
//   light-task-tracker:worker:start channel publishes it) until the first
//   instance starts on it (in a storm no worker runs twice). Instance i may start once the instance before it (in
//   start order) has been stopped (maxThreads 1). Counted: an instance whose own worker booted after that moment,
//   while another booted worker stood idle for more than BENCH_IDLE_TOLERANCE_MS (default 2) of its wait. Target: 0
//   for ours. Shown beside it, per instance: how long some booted worker stood idle between that moment and its start
//   (a booted worker's own start included, so the OS's scheduling of the woken worker is in it).
// (d) dispatch latency beside a storm: a second TaskRuntime (maxThreads 1, spareThreads 0) runs short instances one
//   at a time, 5–15 ms apart (cap-probe writes its own start); sample = that start − the main thread's now() just
//   before submit(). Without a storm, then beside a storm of BENCH_STORM_RATE (default 20) force-stops a second (a
//   runaway submitted every 50 ms, each stopped as it starts) by ours with spareThreads 0 and 1 and by piscina:
//   BENCH_LATENCY_SAMPLES (default 240) each, half per round, in turns. Whatever a force-stop and its respawn run
//   on the main thread (`new Worker()` among them) shows as latency there.
// Run with `npm run bench:storm`; about a minute on a 2-core machine.
import { once } from 'node:events';
import { subscribe } from 'node:diagnostics_channel';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { OutcomeReason, type TaskRuntime, type Tracker, type WorkerMessage } from 'light-task-tracker';
import { benchRuntime, hostLoad, pause } from './lib/harness.js';
import { envInt, now, printLatencyTable, printTable, summarize, writeResults, type Summary } from './lib/stats.js';
import { StormProbe, type StormParams } from './lib/storm-probe.js';

const NAME = 'storm';
const BOOT_SAMPLES = envInt('BENCH_SAMPLES', 40);
const STORM = envInt('BENCH_STORM', 50);
const ROUNDS = envInt('BENCH_ROUNDS', 2);
const LATENCY_SAMPLES = envInt('BENCH_LATENCY_SAMPLES', 240);
const IDLE_TOLERANCE_MS = envInt('BENCH_IDLE_TOLERANCE_MS', 2);
const STORM_RATE = envInt('BENCH_STORM_RATE', 20);
const BOOT_TARGET = 1.3;
const RATE_TARGET = 0.95;
const SPARES = [0, 1, 4] as const;

const processor = (name: string): URL => new URL(`./processors/${name}.js`, import.meta.url);
const OURS_PROCESSORS = { 'storm-runaway': processor('storm-runaway') };
const PISCINA_FILE = processor('storm-piscina').href;
const FLOOR_CODE = `require('node:worker_threads').parentPort.postMessage('up');`;

const wallStart = now();

// (c) needs the moment a pool learns that a worker is ready and may be given an instance. piscina tells it with its
// workerCreate event, which ours publishes on the light-task-tracker:worker:start channel (ours gives instances only
// to workers piscina has marked ready).
const learnedAt = new Map<number, number>();
subscribe('light-task-tracker:worker:start', (message) => {
  const { threadId } = message as WorkerMessage;
  learnedAt.set(threadId, now());
});

// ---------------------------------------------------------------------------------------------------------------
// The two pools, behind one face: submit a runaway, stop it.

interface Handle {
  stop(): void;
  /** How it ended: the outcome's reason (ours) or the rejection's name (piscina). */
  readonly done: Promise<string>;
}

interface StormPool {
  readonly name: string;
  /** When it was made: every worker its pool learns of after this is one of its own. */
  readonly createdAt: number;
  submit(params: StormParams): Handle;
  /** Resolves once the pool's workers are booted (ours: ready(); piscina: a no-op task has run). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

function oursPool(spareThreads: number, captureStack = true): StormPool {
  const createdAt = now();
  const runtime = stormRuntime(spareThreads, captureStack);
  return {
    name: poolName(spareThreads, captureStack),
    createdAt,
    submit(params) {
      const tracker: Tracker = runtime.submit({ processor: 'storm-runaway', jobParams: params });
      return { stop: () => tracker.stop(), done: tracker.done.then((outcome) => outcome.reason) };
    },
    ready: () => runtime.ready(),
    close: () => runtime.close(),
  };
}

function stormRuntime(spareThreads: number, captureStack = true): TaskRuntime {
  return benchRuntime(OURS_PROCESSORS, { maxThreads: 1, spareThreads, forceStopGraceMs: 0, captureStack });
}

/** Ours with `spareThreads`, its stack capture (the default) on or off. */
function poolName(spareThreads: number, captureStack = true): string {
  return `ours, spareThreads ${spareThreads}${captureStack ? '' : ', captureStack off'}`;
}

function piscinaPool(): StormPool {
  const createdAt = now();
  const piscina = new Piscina({ filename: PISCINA_FILE, minThreads: 1, maxThreads: 1 });
  // Emitted as piscina marks a worker ready and offers it its queue (its first worker: at once, before it boots).
  piscina.on('workerCreate', (worker: { id: number }) => learnedAt.set(worker.id, now()));
  return {
    name: 'piscina',
    createdAt,
    submit(params) {
      const abort = new AbortController();
      const done = piscina.run(params, { signal: abort.signal }).then(() => 'resolved?!', (error: unknown) => (error instanceof Error ? error.name : String(error)));
      return { stop: () => abort.abort(), done };
    },
    // piscina loads an ES module task file with require(), which Node 20 can turn into a process abort when the
    // worker is terminated while it instantiates the module: a pool is destroyed only once its worker has booted.
    ready: async () => {
      await piscina.run(null, { name: 'ready' });
    },
    close: async () => {
      await piscina.run(null, { name: 'ready' });
      await piscina.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// (a) boot

async function bootFloor(code = FLOOR_CODE): Promise<[ready: number, ctor: number]> {
  const t0 = now();
  const worker = new Worker(code, { eval: true, workerData: BREAKDOWN_DATA });
  const t1 = now();
  await once(worker, 'message');
  const t2 = now();
  await worker.terminate();
  return [t2 - t0, t1 - t0];
}

// The breakdown: the floor's worker, importing more and more of what our boot imports before it posts its message.
// attempt.js reads the shared words and the processor list from workerData at its top level; its list is empty here.
const BREAKDOWN_DATA = { flags: new SharedArrayBuffer(8), stamps: new SharedArrayBuffer(16), preload: [] };
const importing = (...urls: URL[]): string =>
  `Promise.all(${JSON.stringify(urls.map(String))}.map((url) => import(url))).then(() => require('node:worker_threads').parentPort.postMessage('up'));`;
const BREAKDOWN: Array<[name: string, code: string]> = [
  ['floor + import() of an empty ES module (the ES module loader, first use)', importing(new URL('./lib/nothing.js', import.meta.url))],
  ["floor + import() of storm-runaway (the processor's own graph)", importing(processor('storm-runaway'))],
  ['floor + import() of storm-runaway and the attempt runner', importing(processor('storm-runaway'), new URL('../workers/attempt.js', import.meta.url))],
];

async function bootOursCold(): Promise<number> {
  const t0 = now();
  const runtime = stormRuntime(0);
  await runtime.ready();
  const t1 = now();
  await runtime.close();
  return t1 - t0;
}

/** Starts one runaway and waits for its mark. */
async function startOne(pool: StormPool): Promise<Handle> {
  const probe = new StormProbe(1);
  const handle = pool.submit(probe.params(0));
  while (!probe.started(0)) await probe.waitBeyond(0, 1000);
  return handle;
}

async function bootOursReplacement(pool: StormPool): Promise<number> {
  const handle = await startOne(pool);
  const t0 = now();
  handle.stop();
  await pool.ready();
  const t1 = now();
  const reason = await handle.done;
  if (reason !== OutcomeReason.STOP_FORCE_STOPPED) throw new Error(`ours: expected STOP_FORCE_STOPPED, got ${reason}`);
  return t1 - t0;
}

async function bootPiscinaReplacement(piscina: Piscina): Promise<number> {
  const probe = new StormProbe(1);
  const abort = new AbortController();
  const done = piscina.run(probe.params(0), { signal: abort.signal }).catch((error: unknown) => error);
  while (!probe.started(0)) await probe.waitBeyond(0, 1000);
  const created = once(piscina, 'workerCreate');
  const t0 = now();
  abort.abort();
  await created;
  const t1 = now();
  await done;
  return t1 - t0;
}

// ---------------------------------------------------------------------------------------------------------------
// (b) and (c): one storm of `count` runaways, each stopped as soon as it starts.

interface StormRun {
  readonly pool: string;
  /** Worker now() of each start, in start order. */
  readonly starts: number[];
  /** Per start (same order): how much of the instance's wait some booted worker spent idle (ms). */
  readonly idleWhileWaiting: number[];
  /**
   * Per start (same order): how long another booted worker stood idle while the instance waited for its own worker
   * to finish booting (0 when its worker had booted before the instance could start).
   */
  readonly idleWhileBooting: number[];
  readonly rate: number;
}

async function storm(pool: StormPool, count: number): Promise<StormRun> {
  const probe = new StormProbe(count);
  const submittedAt = now();
  const handles = Array.from({ length: count }, (_, i) => pool.submit(probe.params(i)));
  const stoppedAt = new Array<number>(count).fill(Number.NaN);
  let stopped = 0;
  let seen = 0;
  let quietSince = now();
  while (stopped < count) {
    await probe.waitBeyond(seen, 1000);
    const started = probe.startedCount;
    if (started === seen && now() - quietSince > 10_000) throw new Error(`${pool.name}: no start for 10 s (${stopped}/${count} stopped)`);
    if (started !== seen) quietSince = now();
    seen = started;
    for (let i = 0; i < count; i++) {
      if (Number.isNaN(stoppedAt[i]) && probe.started(i)) {
        stoppedAt[i] = now();
        handles[i]?.stop();
        stopped++;
      }
    }
  }
  const endings = await Promise.all(handles.map((handle) => handle.done));
  const expected = pool.name === 'piscina' ? 'AbortError' : OutcomeReason.STOP_FORCE_STOPPED;
  const wrong = endings.filter((ending) => ending !== expected);
  if (wrong.length > 0) throw new Error(`${pool.name}: expected ${expected}, got ${wrong.slice(0, 3).join(', ')}`);
  await pool.ready();

  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => probe.startTime(a) - probe.startTime(b));
  const starts = order.map((i) => probe.startTime(i));
  // Each worker of this pool is idle and booted, as the pool knows, from the moment it learned so until its first
  // start (later than the pool gave it the instance, by the time the woken worker took to run).
  const firstStart = new Map<number, number>();
  for (const i of order) if (!firstStart.has(probe.threadOf(i))) firstStart.set(probe.threadOf(i), probe.startTime(i));
  const end = now();
  const idle: Array<[thread: number, from: number, to: number]> = [];
  for (const [thread, at] of learnedAt) if (at >= pool.createdAt) idle.push([thread, at, firstStart.get(thread) ?? end]);
  const idleWhileWaiting: number[] = [];
  const idleWhileBooting: number[] = [];
  order.forEach((i, k) => {
    // maxThreads 1: an instance may start once the one before it has been stopped.
    const from = k === 0 ? submittedAt : (stoppedAt[order[k - 1] as number] as number);
    const own = probe.threadOf(i);
    idleWhileWaiting.push(overlap(from, probe.startTime(i), idle.map(([, a, b]) => [a, b])));
    const ownReady = learnedAt.get(own) ?? Number.NaN;
    idleWhileBooting.push(ownReady > from ? overlap(from, ownReady, idle.filter(([thread]) => thread !== own).map(([, a, b]) => [a, b])) : 0);
  });
  const rate = ((count - 1) * 1000) / ((starts.at(-1) as number) - (starts[0] as number));
  return { pool: pool.name, starts, idleWhileWaiting, idleWhileBooting, rate };
}

/** How much of [from, to] lies inside the union of `intervals`. */
function overlap(from: number, to: number, intervals: ReadonlyArray<[number, number]>): number {
  const cut = intervals
    .map(([a, b]): [number, number] => [Math.max(a, from), Math.min(b, to)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let reach = from;
  for (const [a, b] of cut) {
    const start = Math.max(a, reach);
    if (b > start) total += b - start;
    reach = Math.max(reach, b);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------------------
// (d): short instances on a second runtime, beside a storm that never ends until told.

/**
 * A storm at `perSecond` force-stops a second: a runaway submitted every 1/perSecond s (while fewer than two wait to
 * start), each stopped as soon as it starts, until end(), which stops the rest and resolves with the force-stops done.
 */
function steadyStorm(pool: StormPool, perSecond: number): { end(): Promise<number> } {
  const capacity = 100_000;
  const probe = new StormProbe(capacity);
  const handles: Handle[] = [];
  const stopped: boolean[] = [];
  let forceStops = 0;
  let ending = false;
  const ticker = setInterval(() => {
    if (handles.length - forceStops < 2 && handles.length < capacity) handles.push(pool.submit(probe.params(handles.length)));
  }, 1000 / perSecond);
  const running = (async () => {
    let seen = 0;
    let from = 0;
    while (!ending) {
      await probe.waitBeyond(seen, 50);
      seen = probe.startedCount;
      for (let i = from; i < handles.length; i++) {
        if (stopped[i] !== true && probe.started(i)) {
          stopped[i] = true;
          handles[i]?.stop();
          forceStops++;
        }
      }
      while (stopped[from] === true) from++;
    }
    clearInterval(ticker);
    for (let i = 0; i < handles.length; i++) if (stopped[i] !== true) handles[i]?.stop();
    await Promise.all(handles.map((handle) => handle.done));
    await pool.ready();
    return forceStops;
  })();
  return {
    end: () => {
      ending = true;
      return running;
    },
  };
}

async function shortInstances(runtime: TaskRuntime, samples: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    const buffer = new SharedArrayBuffer(16);
    const t0 = now();
    const outcome = await runtime.submit({ processor: 'probe', jobParams: { buffer } }).done;
    if (outcome.reason !== OutcomeReason.SUCCEEDED) throw new Error(`short instance: ${outcome.reason} ${outcome.result}`);
    latencies.push((new Float64Array(buffer, 8, 1)[0] as number) - t0);
    // 5–15 ms apart: spread over the storm's cycle rather than locked to its ticker.
    await pause(5 + Math.random() * 10);
  }
  return latencies;
}

// ---------------------------------------------------------------------------------------------------------------
// Run

const FLOOR = 'floor: new Worker(eval) → its first message';
const CTOR = 'floor: main thread inside new Worker()';
const COLD = 'ours, cold: new TaskRuntime → ready()';
const OURS_REPLACEMENT = 'ours, replacement: stop() → ready() (a runaway just started, stopped as its start is seen)';
const PISCINA_REPLACEMENT = 'piscina, replacement: abort() → workerCreate (the same runaway, aborted as its start is seen)';
const boot: Record<string, number[]> = {
  [FLOOR]: [],
  [CTOR]: [],
  ...Object.fromEntries(BREAKDOWN.map(([name]) => [name, []])),
  [COLD]: [],
  [OURS_REPLACEMENT]: [],
  [PISCINA_REPLACEMENT]: [],
};
const runs: StormRun[] = [];
const ALONE = 'alone';
const BESIDE: Array<[name: string, make: () => StormPool]> = [
  ['beside our storm, spareThreads 0', () => oursPool(0)],
  ['beside our storm, spareThreads 1', () => oursPool(1)],
  ["beside piscina's storm", () => piscinaPool()],
];
const latency: Record<string, number[]> = { [ALONE]: [], ...Object.fromEntries(BESIDE.map(([name]) => [name, []])) };
const forceStops: Record<string, number> = Object.fromEntries(BESIDE.map(([name]) => [name, 0]));

{
  // (a)
  const replacementPool = oursPool(0);
  const piscina = new Piscina({ filename: PISCINA_FILE, minThreads: 1, maxThreads: 1 });
  await replacementPool.ready();
  await piscina.run(null, { name: 'ready' });
  const bootRuns: Array<() => Promise<void>> = [
    async () => {
      const [ready, ctor] = await bootFloor();
      boot[FLOOR]?.push(ready);
      boot[CTOR]?.push(ctor);
    },
    ...BREAKDOWN.map(([name, code]) => async () => void boot[name]?.push((await bootFloor(code))[0])),
    async () => void boot[COLD]?.push(await bootOursCold()),
    async () => void boot[OURS_REPLACEMENT]?.push(await bootOursReplacement(replacementPool)),
    async () => void boot[PISCINA_REPLACEMENT]?.push(await bootPiscinaReplacement(piscina)),
  ];
  for (let i = 0; i < 5; i++) for (const run of bootRuns) await run();
  for (const samples of Object.values(boot)) samples.length = 0;
  for (let i = 0; i < BOOT_SAMPLES; i++) for (let j = 0; j < bootRuns.length; j++) await bootRuns[(i + j) % bootRuns.length]?.();
  await replacementPool.close();
  await piscina.run(null, { name: 'ready' });
  await piscina.destroy();
  console.log(`(a) boot: ${BOOT_SAMPLES} samples each, ${((now() - wallStart) / 1000).toFixed(1)} s`);

  // (b), (c)
  const makers: Array<() => StormPool> = [() => piscinaPool(), ...SPARES.map((spares) => () => oursPool(spares)), () => oursPool(1, false)];
  for (let round = 0; round <= ROUNDS; round++) {
    for (let j = 0; j < makers.length; j++) {
      const pool = (makers[(round + j) % makers.length] as () => StormPool)();
      try {
        await pool.ready();
        const run = await storm(pool, round === 0 ? Math.min(STORM, 10) : STORM);
        if (round > 0) runs.push(run);
      } finally {
        await pool.close();
      }
    }
  }
  console.log(`(b), (c) storms: ${ROUNDS} rounds of ${STORM}, ${((now() - wallStart) / 1000).toFixed(1)} s`);

  // (d)
  const shortRuntime = benchRuntime({ probe: processor('cap-probe') }, { maxThreads: 1, spareThreads: 0 });
  try {
    await shortRuntime.ready();
    await shortInstances(shortRuntime, 20);
    const perRound = Math.ceil(LATENCY_SAMPLES / ROUNDS);
    for (let round = 0; round < ROUNDS; round++) {
      latency[ALONE]?.push(...(await shortInstances(shortRuntime, perRound)));
      for (const [name, make] of BESIDE) {
        const pool = make();
        try {
          await pool.ready();
          const storming = steadyStorm(pool, STORM_RATE);
          latency[name]?.push(...(await shortInstances(shortRuntime, perRound)));
          forceStops[name] = (forceStops[name] ?? 0) + (await storming.end());
        } finally {
          await pool.close();
        }
      }
    }
  } finally {
    await shortRuntime.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Output

const verdict = (met: boolean, target: string): string => `${met ? 'met' : 'NOT met'} (${target})`;

const bootSummaries = Object.entries(boot).map(([name, values]) => summarize(name, values, 'ms'));
printLatencyTable(`${NAME} (a): a worker's boot, spawn → ready (ms)`, bootSummaries);
const p50 = (name: string): number => bootSummaries.find((s) => s.name === name)?.p50 ?? Number.NaN;
const floorP50 = p50(FLOOR);
printTable('(a) against the floor, p50s (same run)', ['case', 'p50 ms', 'ratio to the floor', 'target'], [
  [COLD, p50(COLD).toFixed(2), (p50(COLD) / floorP50).toFixed(2), verdict(p50(COLD) / floorP50 <= BOOT_TARGET, `≤ ${BOOT_TARGET}`)],
  [OURS_REPLACEMENT, p50(OURS_REPLACEMENT).toFixed(2), (p50(OURS_REPLACEMENT) / floorP50).toFixed(2), ''],
  [PISCINA_REPLACEMENT, p50(PISCINA_REPLACEMENT).toFixed(2), (p50(PISCINA_REPLACEMENT) / floorP50).toFixed(2), ''],
  [FLOOR, floorP50.toFixed(2), '1.00', ''],
]);
const steps = [FLOOR, ...BREAKDOWN.map(([name]) => name), COLD];
printTable("(a) where our boot's time goes: each step adds to the one above (p50s, same run)", ['step', 'p50 ms', 'added, ms', 'ratio to the floor'], steps.map((name, k) => [
  name,
  p50(name).toFixed(2),
  k === 0 ? '' : (p50(name) - p50(steps[k - 1] as string)).toFixed(2),
  (p50(name) / floorP50).toFixed(2),
]));

const poolNames = ['piscina', ...SPARES.map((spares) => poolName(spares)), poolName(1, false)];
const byPool = (name: string): StormRun[] => runs.filter((run) => run.pool === name);
const intervals = (name: string): number[] => byPool(name).flatMap((run) => run.starts.slice(1).map((start, k) => start - (run.starts[k] as number)));
const rateOf = (name: string): number => {
  const pool = byPool(name);
  const starts = pool.reduce((sum, run) => sum + run.starts.length - 1, 0);
  const spans = pool.reduce((sum, run) => sum + (run.starts.at(-1) as number) - (run.starts[0] as number), 0);
  return (starts * 1000) / spans;
};
printLatencyTable(`${NAME} (b): force-stop storm, 1 thread, each runaway stopped as it starts: time between consecutive starts (ms)`, poolNames.map((name) => summarize(name, intervals(name), 'ms')));
const piscinaRate = rateOf('piscina');
printTable('(b) sustained force-stop rate (same run)', ['pool', 'instances/s', 'ratio to piscina', 'target'], poolNames.map((name) => [
  name,
  rateOf(name).toFixed(1),
  (rateOf(name) / piscinaRate).toFixed(2),
  name === 'ours, spareThreads 0' ? verdict(rateOf(name) / piscinaRate >= RATE_TARGET, `≥ ${RATE_TARGET}`) : '',
]));

const idleSummaries: Summary[] = poolNames.map((name) => summarize(name, byPool(name).flatMap((run) => run.idleWhileWaiting), 'ms'));
printLatencyTable(`${NAME} (c): per instance, how long a booted worker stood idle between the moment it could start and its start (ms; includes the OS scheduling the woken worker)`, idleSummaries);
printTable(`(c) instances that waited for a worker still booting while another booted worker stood idle (over ${IDLE_TOLERANCE_MS} ms)`, ['pool', 'instances', 'count', 'target', `idle over ${IDLE_TOLERANCE_MS} ms, any cause`], poolNames.map((name) => {
  const count = byPool(name).flatMap((run) => run.idleWhileBooting).filter((ms) => ms > IDLE_TOLERANCE_MS).length;
  const waiting = byPool(name).flatMap((run) => run.idleWhileWaiting);
  return [name, String(waiting.length), String(count), name === 'piscina' ? '' : verdict(count === 0, '0'), String(waiting.filter((ms) => ms > IDLE_TOLERANCE_MS).length)];
}));

const latencySummaries = Object.entries(latency).map(([name, values]) => summarize(name, values, 'ms'));
printLatencyTable(`${NAME} (d): short instances on a second runtime, each submitted as a 5–15 ms timer wakes the main thread: submit → the processor's own start (ms)`, latencySummaries);
const lat = (name: string, q: 'p50' | 'p90' | 'p99'): number => latencySummaries.find((s) => s.name === name)?.[q] ?? Number.NaN;
printTable('(d) against the same without a storm (same run)', ['case', 'p50 ratio', 'p90 ratio', 'p99 ratio', 'force-stops during it'], BESIDE.map(([name]) => [
  name,
  (lat(name, 'p50') / lat(ALONE, 'p50')).toFixed(2),
  (lat(name, 'p90') / lat(ALONE, 'p90')).toFixed(2),
  (lat(name, 'p99') / lat(ALONE, 'p99')).toFixed(2),
  String(forceStops[name]),
]));

const file = writeResults(NAME, {
  summaries: { boot: bootSummaries, idle: idleSummaries, latency: latencySummaries },
  rates: Object.fromEntries(poolNames.map((name) => [name, rateOf(name)])),
  samples: { boot, latency, storms: runs },
  loadAverageAtEnd: hostLoad(),
  config: { bootSamples: BOOT_SAMPLES, storm: STORM, rounds: ROUNDS, latencySamples: LATENCY_SAMPLES, idleToleranceMs: IDLE_TOLERANCE_MS, maxThreads: 1, forceStopGraceMs: 0 },
});
console.log(`\nraw samples: ${file}\nwall time: ${((now() - wallStart) / 1000).toFixed(1)} s`);
