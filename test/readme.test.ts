// The README's first commands work, and what it shows is what runs. Its two set-up commands are exactly the ones
// below and name scripts of package.json; the demo that `npm run demo` runs ends each of its cases as expected; every
// `example:*` script of package.json (read here, so a new example is covered by itself) exits 0; and the README's
// example is the code of examples/readme, which `example:readme` runs against a local stand-in for the scheduler.
// Each runs as a child process, the node command its script runs after its build (`npm test` has built dist/),
// killed past its time bound.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { runNode, type ChildRun } from './support/child.js';
import { skipRedisTests } from './support/redis.js';

const root = new URL('../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');
const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
const readme = read('README.md');

/** The README's section under `## title`, up to the next `## ` heading ('' if there is none). */
function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start === -1) return '';
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

/** The fenced code blocks of `text` in `language`, without their fences. */
function codeBlocks(text: string, language: string): string[] {
  return [...text.matchAll(new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((match) => match[1] ?? '');
}

/**
 * What a script runs after its build, as node's arguments: `npm run build && node --expose-gc dist/a.js 10` gives
 * `['--expose-gc', 'dist/a.js', '10']` (not `npm run`, which would build again).
 */
function nodeArgs(script: string): string[] {
  const command = scripts[script];
  if (command === undefined) throw new Error(`package.json has no script "${script}"`);
  const steps = command.split('&&').map((step) => step.trim());
  if (steps.length !== 2 || steps[0] !== 'npm run build' || !steps[1]!.startsWith('node ')) {
    throw new Error(`script "${script}" is not "npm run build && node …": ${command}`);
  }
  return steps[1]!.split(/\s+/).slice(1);
}

/** Runs a script's node command from the package's folder; past `timeoutMs` it is killed. */
function runScript(script: string, timeoutMs: number): Promise<ChildRun> {
  return runNode(nodeArgs(script), process.env, { cwd: fileURLToPath(root), timeoutMs });
}

/** Exit code 0 within the time bound; else fails showing what the child wrote. */
function expectClean(run: ChildRun): void {
  const output = `\n--- stdout:\n${run.stdout}\n--- stderr:\n${run.stderr}`;
  expect(run.timedOut, `killed past its time bound${output}`).toBe(false);
  expect(run.code, `exit code ${run.code} (signal ${run.signal})${output}`).toBe(0);
}

/** The rows of the table printed under the line `title`, keyed by their first cell: cells cut where the dashes are. */
function table(output: string, title: string): Map<string, Record<string, string>> {
  const lines = output.split('\n');
  const at = lines.indexOf(title);
  if (at === -1) throw new Error(`no "${title}" in the output:\n${output}`);
  const [header = '', dashes = ''] = lines.slice(at + 1, at + 3);
  const columns = [...dashes.matchAll(/-+/g)].map((match) => match.index);
  const cells = (line: string): string[] => columns.map((start, i) => line.slice(start, columns[i + 1]).trim());
  const names = cells(header);
  const rows = new Map<string, Record<string, string>>();
  for (const line of lines.slice(at + 3)) {
    if (line.trim() === '') break;
    const values = cells(line);
    rows.set(values[0]!, Object.fromEntries(names.map((name, i) => [name, values[i] ?? ''])));
  }
  return rows;
}

describe('README.md', () => {
  test('its set-up commands are `npm ci && npm run demo` and `npm ci && npm test`, over scripts that build first', () => {
    const commands = codeBlocks(section('Set-up'), 'sh').map((block) => block.trim());
    expect(commands).toEqual(['npm ci && npm run demo', 'npm ci && npm test']);
    // Each installs, then runs a script of package.json.
    for (const command of commands) {
      const [install, run = ''] = command.split(' && ');
      expect(install).toBe('npm ci');
      expect(Object.keys(scripts)).toContain(/^npm (?:run )?(\S+)$/.exec(run)?.[1]);
    }
    expect(existsSync(new URL('package-lock.json', root))).toBe(true); // what `npm ci` installs from
    // What they run: the demo's node command (the test below runs it), and the tests after a build, which is
    // what makes dist/ current for every child process here.
    expect(nodeArgs('demo')).toEqual(['dist/benchmarks/demo.js']);
    expect(scripts.test).toMatch(/^npm run build && .*\bvitest run$/);
  });

  test('its example is examples/readme word for word: processors/checksum.js and main.js', () => {
    const blocks = codeBlocks(section('Example'), 'js');
    expect(blocks.map((block) => block.split('\n', 1)[0])).toEqual(['// processors/checksum.js', '// main.js']);
    for (const block of blocks) {
      const file = block.split('\n', 1)[0]!.slice('// '.length);
      expect(block, `examples/readme/${file}`).toBe(read(`examples/readme/${file}`));
    }
    expect(nodeArgs('example:readme')).toEqual(['dist/examples/readme/run.js']); // runs them: see the scripts below
  });

  test('the README and the docs name processors by a URL relative to the module, not by a path from the current folder', () => {
    const docs = ['README.md', ...readdirSync(new URL('docs/', root)).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
    const relative = /processors:\s*\{[^}]*?:\s*['"`]\.\.?\//g;
    expect(docs.flatMap((path) => [...read(path).matchAll(relative)].map((match) => `${path}: ${match[0]}`))).toEqual([]);
  });
});

describe('npm run demo', () => {
  test('exits 0, each case ending with the status, reason and attempts expected, with its latency', { timeout: 70_000 }, async () => {
    const run = await runScript('demo', 60_000);
    expectClean(run);
    const rows = table(run.stdout, 'outcomes (tracker.done):');
    const ended = Object.fromEntries([...rows].map(([name, row]) => [name, `${row.status} ${row.reason} ${row.attempts}`]));
    expect(ended).toEqual({
      success: 'SUCCEED SUCCEEDED 1',
      'timeout-interrupt': 'FAILED TIMEOUT_INTERRUPTED 1',
      'force-stop': 'FAILED TIMEOUT_FORCE_STOPPED 1',
      'user-stop': 'STOPPED STOP_INTERRUPTED 1',
      retry: 'SUCCEED SUCCEEDED 2',
    });
    // The runaway's stack, captured before its terminate, names its loop in its TypeScript source.
    const stack = run.stdout.slice(run.stdout.indexOf('where the force-stopped job was (outcome.stack):'));
    expect(stack.split('\n')[1]).toMatch(/^ {4}at .*benchmarks\/processors\/runaway\.ts:\d+:\d+\)?$/);
    for (const [name, row] of rows) {
      const latency = Number(row['latency ms']);
      expect(Number.isFinite(latency) && latency >= 0, `${name}: latency "${row['latency ms']}"`).toBe(true);
      expect(row['latency measures'], name).not.toBe('');
    }
  });
});

/** The checksum the README's processor computes. */
function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const byte of bytes) sum = (sum + byte) | 0;
  return sum;
}

/** What each example prints beyond exiting 0, checked after its run. */
const expectations: Record<string, (run: ChildRun) => void> = {
  'example:readme': ({ stdout }) => {
    const a = checksum(readFileSync(new URL('examples/readme/a.bin', root)));
    const b = checksum(readFileSync(new URL('examples/readme/b.bin', root)));
    expect(stdout).toContain(`  a.bin: checksum ${a}\n`);
    expect(stdout).toContain(`  b.bin: SUCCEED, checksum ${b}\n`);
    expect(stdout).toContain('main.js exited with code 0; the scheduler stand-in received 2 final reports:');
    expect(stdout).toMatch(new RegExp(`^  \\S+ SUCCEED checksum ${a}$`, 'm'));
    expect(stdout).toMatch(new RegExp(`^  \\S+ SUCCEED checksum ${b}$`, 'm'));
  },
  'example:stream': ({ stdout }) => {
    expect(stdout).toMatch(/^streamed 300000 rows in \d+ batches \(\d+ ms\); the processor counted 300001 lines in 1 attempt$/m);
    expect(stdout).toContain('sum of the amount column: 149850000\n');
    expect(stdout).toContain('hashed 24 files with runtime.map(), in the order of the files\n');
  },
};

/** Examples that start a redis-server: skipped with the BullMQ tests when this machine has none. */
const needsRedis = new Set(['example:cluster']);

describe('the example scripts of package.json', () => {
  const examples = Object.keys(scripts).filter((name) => name.startsWith('example:'));

  test('include example:readme, and every example given expectations above', () => {
    expect(examples).toContain('example:readme');
    expect(Object.keys(expectations).filter((name) => !examples.includes(name))).toEqual([]);
  });

  for (const name of examples) {
    test.skipIf(needsRedis.has(name) && skipRedisTests)(`${name} exits 0`, { timeout: 130_000 }, async () => {
      const run = await runScript(name, 120_000);
      expectClean(run);
      expectations[name]?.(run);
    });
  }
});
