// The modules of src/ and workers/ import one another without a cycle: no module imports, however indirectly, one
// that imports it. Every relative `import` and `export … from` counts, `import type` included (a cycle of types still
// ties its modules together); a dynamic `import()` does not (the worker entry loads its runner that way on purpose).
import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);

/** Every TypeScript source under src/ and workers/, as a path from the package root: `src/pool.ts`. */
function sources(): string[] {
  return ['src', 'workers'].flatMap((dir) =>
    readdirSync(new URL(`${dir}/`, root), { recursive: true, encoding: 'utf8' })
      .map((entry) => posix.join(dir, entry.split('\\').join('/')))
      .filter((path) => /\.[cm]?ts$/.test(path) && !/\.d\.[cm]?ts$/.test(path)),
  );
}

/** The specifiers of a module's static imports and re-exports, type-only ones included. */
function specifiers(path: string): string[] {
  const file = ts.createSourceFile(path, readFileSync(new URL(path, root), 'utf8'), ts.ScriptTarget.Latest);
  const found: string[] = [];
  for (const statement of file.statements) {
    if ((ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier !== undefined) {
      if (ts.isStringLiteral(statement.moduleSpecifier)) found.push(statement.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(statement) && ts.isExternalModuleReference(statement.moduleReference)) {
      const reference = statement.moduleReference.expression;
      if (ts.isStringLiteral(reference)) found.push(reference.text);
    }
  }
  return found;
}

/** The built file a source becomes, read back: `./x.js` is `x.ts`, `./x.cjs` is `x.cts`. */
function sourceOf(from: string, specifier: string): string {
  return posix.join(posix.dirname(from), specifier).replace(/\.([cm]?)js$/, '.$1ts');
}

interface Graph {
  /** Module → the modules it imports (relative specifiers only). */
  readonly edges: ReadonlyMap<string, readonly string[]>;
  /** `from: specifier` for each relative import under src/ or workers/ that names no source. */
  readonly unresolved: readonly string[];
}

function importGraph(): Graph {
  const modules = sources();
  const known = new Set(modules);
  const edges = new Map<string, string[]>();
  const unresolved: string[] = [];
  for (const from of modules) {
    const to: string[] = [];
    for (const specifier of specifiers(from)) {
      if (!specifier.startsWith('.')) continue;
      const target = sourceOf(from, specifier);
      if (known.has(target)) to.push(target);
      else if (/^(src|workers)\//.test(target)) unresolved.push(`${from}: ${specifier}`);
    }
    edges.set(from, to);
  }
  return { edges, unresolved };
}

/**
 * One cycle for each group of modules that reach one another (Tarjan's strongly connected components), each the
 * shortest cycle through the group's first module by name, written `a → b → a`. Empty when there is none.
 */
function cycles(edges: ReadonlyMap<string, readonly string[]>): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const connect = (module: string): void => {
    index.set(module, index.size);
    low.set(module, index.get(module)!);
    stack.push(module);
    onStack.add(module);
    for (const next of edges.get(module) ?? []) {
      if (!index.has(next)) {
        connect(next);
        low.set(module, Math.min(low.get(module)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(module, Math.min(low.get(module)!, index.get(next)!));
      }
    }
    if (low.get(module) !== index.get(module)) return;
    const group: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      group.push(member);
    } while (member !== module);
    if (group.length > 1 || (edges.get(module) ?? []).includes(module)) groups.push(group.sort());
  };
  for (const module of [...edges.keys()].sort()) if (!index.has(module)) connect(module);
  return groups.map((group) => shortestCycle(edges, group)).sort();
}

/** The shortest way from a group's first module back to itself, within the group (breadth first). */
function shortestCycle(edges: ReadonlyMap<string, readonly string[]>, group: readonly string[]): string {
  const start = group[0]!;
  const inGroup = new Set(group);
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let at = 0; at < queue.length; at++) {
    const module = queue[at]!;
    for (const next of edges.get(module) ?? []) {
      if (next === start) {
        const path: string[] = [];
        for (let step: string | undefined = module; step !== undefined; step = cameFrom.get(step)) path.push(step);
        return [...path.reverse(), start].join(' → ');
      }
      if (inGroup.has(next) && !cameFrom.has(next)) {
        cameFrom.set(next, module);
        queue.push(next);
      }
    }
  }
  return group.join(' → ');
}

describe('the import graph of src/ and workers/', () => {
  const graph = importGraph();

  it('is read from every module, with every relative import resolved to a source', () => {
    expect(graph.unresolved).toEqual([]);
    expect(graph.edges.get('src/index.ts')).toEqual(expect.arrayContaining(['src/runtime.ts', 'src/outcome.ts']));
    // entry.cts imports a type only: it counts all the same.
    expect(graph.edges.get('workers/entry.cts')).toEqual(['src/messages.ts']);
    expect(graph.edges.size).toBeGreaterThan(40);
  });

  it('has no cycle', () => {
    expect(cycles(graph.edges)).toEqual([]);
  });

  it('names a cycle when there is one', () => {
    const edges = new Map<string, string[]>([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts', 'd.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', []],
      ['e.ts', ['e.ts']],
      ['f.ts', ['a.ts']],
    ]);
    expect(cycles(edges)).toEqual(['a.ts → b.ts → c.ts → a.ts', 'e.ts → e.ts']);
  });
});
