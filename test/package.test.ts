// The package as npm ships it: packed from a fresh clone (prepack builds dist/), installed from the tarball into a
// project outside the repo, then compiled against and run there. The repo's own dist/ is never rebuilt here: other
// test files load dist/workers/*.js while this one runs.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'ltt-pack-'));
const clone = join(work, 'clone');
const packs = join(work, 'packs');
const app = join(work, 'app');
const installed = join(app, 'node_modules', 'light-task-tracker');

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

// npm's own per-script variables (set when this suite runs under `npm test` or `npx`) must not leak into the npm
// commands started here: they would describe the repo, not the folder the command runs in.
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) => !/^(npm_(package|lifecycle)_|npm_command$|npm_config_(call|local_prefix)$|INIT_CWD$)/i.test(key),
  ),
);

/** Runs a command to its end, whatever its exit code. */
function run(file: string, args: readonly string[], cwd: string): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 150_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr: error !== null && code === null ? `${stderr}\n${error.message}` : stderr });
    });
  });
}

function describeRun(file: string, args: readonly string[], cwd: string, ran: Ran): string {
  return [`${file} ${args.join(' ')} (in ${cwd}) exited with ${ran.code}`, '--- stdout ---', ran.stdout, '--- stderr ---', ran.stderr].join('\n');
}

/** Runs a command that must succeed; otherwise throws with its whole output. */
async function mustRun(file: string, args: readonly string[], cwd: string): Promise<string> {
  const ran = await run(file, args, cwd);
  if (ran.code !== 0) throw new Error(describeRun(file, args, cwd, ran));
  return ran.stdout;
}

function installedVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

/** Every file under `dir`, as paths relative to it with `/` separators. */
function walk(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((entry) => statSync(join(dir, entry)).isFile())
    .map((entry) => entry.split(sep).join('/'));
}

const tsc = (args: readonly string[]): Promise<Ran> => run(process.execPath, [join(app, 'node_modules', '.bin', 'tsc'), ...args], app);

/** A TypeScript source is any .ts/.cts/.mts file that is not a declaration file. */
const isTypeScriptSource = (path: string): boolean => /\.[cm]?ts$/.test(path) && !/\.d\.[cm]?ts$/.test(path);

const REQUIRED = [
  'dist/src/index.js', 'dist/src/index.d.ts', 'dist/workers/processor.js', 'dist/workers/processor.d.ts', 'dist/workers/entry.cjs',
  'dist/src/otel/index.js', 'dist/src/otel/index.d.ts', 'dist/workers/otel.js', 'dist/workers/otel.d.ts',
];

let packed: string[] = [];
let tarball = '';
let repoDistBefore: number | undefined;

function repoDistStamp(): number | undefined {
  const file = join(root, 'dist', 'workers', 'processor.js');
  return existsSync(file) ? statSync(file).mtimeMs : undefined;
}

beforeAll(async () => {
  repoDistBefore = repoDistStamp();

  // A fresh clone: the tracked files as they are in the work tree (no dist/), with the repo's node_modules.
  const tracked = (await mustRun('git', ['ls-files', '-z'], root)).split('\0').filter((path) => path !== '');
  expect(tracked).toContain('package.json');
  for (const path of tracked) {
    const from = join(root, path);
    if (!existsSync(from)) continue; // deleted in the work tree, not yet committed
    mkdirSync(dirname(join(clone, path)), { recursive: true });
    copyFileSync(from, join(clone, path));
  }
  expect(existsSync(join(clone, 'dist'))).toBe(false);
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'), 'dir');

  // `npm pack` runs prepack (the build) in the clone; its output goes to stderr, the JSON report to stdout.
  mkdirSync(packs);
  const report = JSON.parse(await mustRun('npm', ['pack', '--json', '--pack-destination', packs], clone)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  expect(report).toHaveLength(1);
  packed = report[0]!.files.map((file) => file.path);
  tarball = join(packs, report[0]!.filename);

  // A user's project: installs the tarball with the TypeScript and Node types this repo builds with.
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'ltt-consumer', private: true, type: 'module' }, null, 2)}\n`);
  await mustRun(
    'npm',
    [
      'install', '--no-audit', '--no-fund', '--prefer-offline', tarball,
      `typescript@${installedVersion('typescript')}`, `@types/node@${installedVersion('@types/node')}`,
    ],
    app,
  );
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The packed files under `dist/` that are source maps. */
const sourceMaps = (): string[] => packed.filter((path) => path.startsWith('dist/') && path.endsWith('.map'));

describe('the packed package', () => {
  it('is built by prepack from a fresh clone and holds the built entries and their sources, not tests', async () => {
    expect(packed).toEqual(expect.arrayContaining(REQUIRED));
    expect(packed.filter((path) => !/^(dist\/)?(src|workers)\//.test(path) && !['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'].includes(path))).toEqual([]);
    // TypeScript sources only beside the build, for its source maps.
    expect(packed.filter((path) => isTypeScriptSource(path) && !/^(src|workers)\//.test(path))).toEqual([]);
    expect(packed.filter((path) => /(^|\/)test\/|\.test\./.test(path))).toEqual([]);

    // The tarball itself, not only npm's report of it.
    const listed = (await mustRun('tar', ['-tzf', tarball], work)).split('\n').filter((line) => line !== '' && !line.endsWith('/'));
    expect(listed.map((line) => line.replace(/^package\//, '')).sort()).toEqual([...packed].sort());

    // The repo's own build was left alone.
    expect(repoDistStamp()).toBe(repoDistBefore);
  });

  it('ships the source every source map points at, and no source no map points at', () => {
    const maps = sourceMaps();
    expect(maps).toEqual(expect.arrayContaining(['dist/src/index.js.map', 'dist/workers/processor.js.map', 'dist/workers/entry.cjs.map']));
    // Every built module has its map, and names it.
    const built = packed.filter((path) => path.startsWith('dist/') && /\.c?js$/.test(path));
    expect(built.filter((path) => !packed.includes(`${path}.map`))).toEqual([]);
    const pointedAt = new Set<string>();
    for (const map of maps) {
      const { sources, sourceRoot } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as { sources: string[]; sourceRoot?: string };
      expect(sourceRoot ?? '', map).toBe('');
      expect(sources.length, map).toBeGreaterThan(0);
      for (const source of sources) {
        const path = join(dirname(map), source).split(sep).join('/');
        expect(packed, `${map} points at ${source}`).toContain(path);
        pointedAt.add(path);
      }
    }
    expect(packed.filter((path) => isTypeScriptSource(path) && !pointedAt.has(path))).toEqual([]);
  });

  it('names where it comes from: repository, homepage and bugs, of one GitHub repository', () => {
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      repository: { type: string; url: string };
      homepage: string;
      bugs: { url: string };
    };
    const repo = 'https://github.com/light-task-tracker/light-task-tracker';
    expect(manifest.repository).toEqual({ type: 'git', url: `git+${repo}.git` });
    expect(manifest.homepage).toBe(`${repo}#readme`);
    expect(manifest.bugs).toEqual({ url: `${repo}/issues` });
  });

  it('installs as a real folder with built files and their sources, no tests', () => {
    expect(lstatSync(installed).isSymbolicLink()).toBe(false);
    const files = walk(installed);
    expect(files).toEqual(expect.arrayContaining(REQUIRED));
    expect(existsSync(join(installed, 'test'))).toBe(false);
    expect(files.filter((path) => isTypeScriptSource(path) && !/^(src|workers)\//.test(path))).toEqual([]);
  });

  it('compiles a strict TypeScript project against the installed types and runs its processor', { timeout: 120_000 }, async () => {
    mkdirSync(join(app, 'processors'), { recursive: true });
    writeFileSync(join(app, 'processors', 'square.ts'), [
      "import { defineProcessor, type ProcessorContext } from 'light-task-tracker/processor';",
      '',
      'export default defineProcessor((ctx: ProcessorContext) => {',
      '  const n = ctx.jobParams as number;',
      "  ctx.log.info({ n }, 'squaring');",
      "  if (ctx.interrupted) return { success: false, msg: 'interrupted' };",
      '  return { success: true, msg: String(n * n) };',
      '});',
      '',
    ].join('\n'));
    writeFileSync(join(app, 'main.ts'), [
      "import { TaskRuntime, OutcomeReason, type Outcome } from 'light-task-tracker';",
      '',
      'const runtime = new TaskRuntime({',
      "  processors: { square: new URL('./processors/square.js', import.meta.url) },",
      '  maxThreads: 1,',
      '});',
      "const outcome: Outcome = await runtime.submit({ processor: 'square', jobParams: 12 }).done;",
      'await runtime.close();',
      'const succeeded: boolean = outcome.reason === OutcomeReason.SUCCEEDED;',
      'console.log(JSON.stringify({ ...outcome, succeeded }));',
      '',
    ].join('\n'));
    writeFileSync(join(app, 'tsconfig.json'), `${JSON.stringify({
      compilerOptions: {
        strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022',
        rootDir: '.', outDir: 'dist', types: ['node'],
      },
      include: ['main.ts', 'processors'],
    }, null, 2)}\n`);

    const compiled = await tsc(['-p', 'tsconfig.json']);
    expect(compiled.code, describeRun('tsc', ['-p', 'tsconfig.json'], app, compiled)).toBe(0);
    expect(existsSync(join(app, 'dist', 'main.js'))).toBe(true);
    expect(existsSync(join(app, 'dist', 'processors', 'square.js'))).toBe(true);

    const output = await mustRun(process.execPath, ['dist/main.js'], app);
    const last = output.trim().split('\n').at(-1) ?? '';
    expect(JSON.parse(last)).toMatchObject({ status: 'SUCCEED', reason: 'SUCCEEDED', result: '144', attempts: 1, succeeded: true });
  });

  it('resolves its entries through the exports map into the installed dist/, and refuses a deep import', async () => {
    writeFileSync(join(app, 'resolve.mjs'), [
      "const resolved = { main: import.meta.resolve('light-task-tracker'), processor: import.meta.resolve('light-task-tracker/processor'),",
      "  otel: import.meta.resolve('light-task-tracker/otel'), otelProcessor: import.meta.resolve('light-task-tracker/otel/processor') };",
      'let deep;',
      "try { await import('light-task-tracker/dist/src/tracker.js'); deep = 'loaded'; } catch (error) { deep = error.code; }",
      'console.log(JSON.stringify({ ...resolved, deep }));',
      '',
    ].join('\n'));
    const printed = JSON.parse(await mustRun(process.execPath, ['resolve.mjs'], app)) as Record<'main' | 'processor' | 'otel' | 'otelProcessor' | 'deep', string>;

    const main = fileURLToPath(printed.main);
    const processor = fileURLToPath(printed.processor);
    const otel = fileURLToPath(printed.otel);
    const otelProcessor = fileURLToPath(printed.otelProcessor);
    expect(relative(installed, main).split(sep).join('/')).toBe('dist/src/index.js');
    expect(relative(installed, processor).split(sep).join('/')).toBe('dist/workers/processor.js');
    expect(relative(installed, otel).split(sep).join('/')).toBe('dist/src/otel/index.js');
    expect(relative(installed, otelProcessor).split(sep).join('/')).toBe('dist/workers/otel.js');
    for (const path of [main, processor, otel, otelProcessor]) {
      expect(path.startsWith(join(app, 'node_modules', 'light-task-tracker', 'dist') + sep)).toBe(true);
      expect(path.startsWith(root)).toBe(false);
      expect(existsSync(path)).toBe(true);
    }
    expect(printed.deep).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('rejects code that misuses the installed types', { timeout: 120_000 }, async () => {
    // Without the .d.ts files in the package these would be errors of a different kind (no declaration file),
    // so each expected error is checked by line and code, and nothing else may be reported.
    writeFileSync(join(app, 'bad.ts'), [
      "import { TaskRuntime } from 'light-task-tracker';",
      "import { defineProcessor } from 'light-task-tracker/processor';",
      '',
      "const runtime = new TaskRuntime({ processors: { square: './dist/processors/square.js' } });",
      'runtime.submit({ processor: 42 });',
      'export default defineProcessor((ctx) => {',
      '  const n: number = ctx.jobParams;',
      "  return { success: 'yes', msg: n };",
      '});',
      '',
    ].join('\n'));
    writeFileSync(join(app, 'tsconfig.bad.json'), `${JSON.stringify({
      extends: './tsconfig.json',
      compilerOptions: { noEmit: true },
      include: ['bad.ts'],
    }, null, 2)}\n`);
    // The good project's tsconfig may not have been written if that test was filtered out.
    if (!existsSync(join(app, 'tsconfig.json'))) {
      writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'] },
      }));
    }

    const checked = await tsc(['-p', 'tsconfig.bad.json', '--pretty', 'false']);
    const report = describeRun('tsc', ['-p', 'tsconfig.bad.json'], app, checked);
    expect(checked.code, report).not.toBe(0);
    const errors = checked.stdout.split('\n').filter((line) => / error TS\d+:/.test(line));
    expect(errors.map((line) => /^bad\.ts\((\d+),\d+\): error (TS\d+):/.exec(line)?.slice(1, 3).join(' ')), report).toEqual([
      '5 TS2322', // processor: 42 where a registry name (string) is expected
      // the processor returns success: 'yes' where a boolean is expected (no overload of defineProcessor takes it: the
      // other is for an async generator function)
      '6 TS2769',
      '7 TS2322', // jobParams is unknown, not number
    ]);
  });
});
