// A thread's call frames as the lines of a stack: the runtime's own frames below the application's left out, each
// frame mapped through its script's source map where there is one (its script file's sourceMappingURL, read from a
// file: or data: URL, cached per script), written as V8 writes an error's stack.
import { readFile } from 'node:fs/promises';
import { SourceMap } from 'node:module';

/** One call frame of a thread: where it is in which script, line and column 0-based. */
export interface PausedFrame {
  /** The function's name; empty for a module's top level or an anonymous function. */
  readonly functionName: string;
  /** The script's URL (a file: URL for a module or a CommonJS file, node:… for Node's own code). */
  readonly url: string;
  /** The script's `//# sourceMappingURL=` as written (relative to `url`); empty to read it from the script's file. */
  readonly sourceMapURL: string;
  readonly line: number;
  readonly column: number;
  /** An async function awaiting the frames above it (V8's `at async fn`), not running. */
  readonly async?: boolean;
}

/** The most frames a stack shows; a deeper one ends with a line that counts the rest. */
export const MAX_STACK_FRAMES = 50;
/** The most scripts whose source maps are kept (the oldest read is dropped first). */
const MAX_CACHED_MAPS = 64;

/** This package's worker code: what runs an attempt, below the processor in every stack. */
const WORKERS_URL = new URL('../workers/', import.meta.url).href;

/** Whether a frame is the runtime's (Node's, piscina's, this package's worker code) rather than the application's. */
function isRuntimeFrame(url: string): boolean {
  return url.startsWith('node:') || url.startsWith(WORKERS_URL) || url.includes('/node_modules/piscina/');
}

/**
 * The frames a user reads to find where their code is: from the top down to the application's outermost frame. The
 * runtime's frames below it (the attempt runner, piscina, Node's task queues), which every attempt has, are left
 * out; those above it stay (a processor paused inside a Node function shows that function and who called it). A stack
 * with no frame of the application (a thread paused in Node's own code) is kept whole.
 */
export function ownFrames(frames: readonly PausedFrame[]): readonly PausedFrame[] {
  let last = frames.length - 1;
  while (last >= 0 && isRuntimeFrame(frames[last]!.url)) last--;
  return last < 0 ? frames : frames.slice(0, last + 1);
}

/** The frames as stack lines, `    at fn (url:line:column)` with line and column 1-based, `MAX_STACK_FRAMES` at most. */
export function formatStack(frames: readonly PausedFrame[]): string {
  const lines = frames.slice(0, MAX_STACK_FRAMES).map(({ functionName, url, line, column, async }) => {
    const where = `${url}:${line + 1}:${column + 1}`;
    const at = async === true ? 'at async' : 'at';
    return functionName === '' ? `    ${at} ${where}` : `    ${at} ${functionName} (${where})`;
  });
  if (frames.length > MAX_STACK_FRAMES) lines.push(`    ... ${frames.length - MAX_STACK_FRAMES} more frames`);
  return lines.join('\n');
}

/** A script's parsed source map and the URL its sources are relative to. */
interface LoadedMap {
  readonly map: SourceMap;
  readonly base: string;
  readonly sourceRoot: string;
}

/** By script URL: the `sourceMappingURL` it was read for, and the map (undefined when it cannot be read). */
const maps = new Map<string, { readonly sourceMapURL: string; readonly loaded: Promise<LoadedMap | undefined> }>();

/**
 * The frames with each position mapped to the original source where its script names a source map that can be read
 * (a file: URL or an inline data: URL; anything else is not fetched) and that maps the position; the others as they
 * are. Never rejects: a map that cannot be read or parsed leaves its frames unmapped.
 */
export async function mapFrames(frames: readonly PausedFrame[]): Promise<PausedFrame[]> {
  return Promise.all(
    frames.map(async (frame) => {
      const sourceMapURL = frame.sourceMapURL !== '' ? frame.sourceMapURL : await sourceMapUrlOf(frame.url);
      if (sourceMapURL === '') return frame;
      const loaded = await mapOf(frame.url, sourceMapURL);
      if (loaded === undefined) return frame;
      try {
        const entry = loaded.map.findEntry(frame.line, frame.column);
        if (!('originalSource' in entry)) return frame;
        const url = new URL(loaded.sourceRoot + entry.originalSource, loaded.base).href;
        return { ...frame, url, sourceMapURL: '', line: entry.originalLine, column: entry.originalColumn };
      } catch {
        return frame; // a map that does not hold together
      }
    }),
  );
}

/** By script URL: the `sourceMappingURL` its file ends with ('' for none, or a file that cannot be read). */
const comments = new Map<string, Promise<string>>();

/** The last `//# sourceMappingURL=` of the script file at `scriptUrl` (a file: URL; '' for any other). */
function sourceMapUrlOf(scriptUrl: string): Promise<string> {
  if (!scriptUrl.startsWith('file:')) return Promise.resolve('');
  let comment = comments.get(scriptUrl);
  if (comment === undefined) {
    comment = readFile(new URL(scriptUrl), 'utf8').then((text) => SOURCE_MAPPING_URL.exec(text)?.[1] ?? '', () => '');
    remember(comments, scriptUrl, comment);
  }
  return comment;
}

/** Keeps `value` under `key`, the newest, and drops the oldest past MAX_CACHED_MAPS. */
function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  cache.delete(key);
  cache.set(key, value);
  if (cache.size > MAX_CACHED_MAPS) cache.delete(cache.keys().next().value!);
}

/** The last source map comment of a script (`//# sourceMappingURL=…`, or the older `//@`), on a line of its own. */
const SOURCE_MAPPING_URL = /\/\/[#@]\s*sourceMappingURL=(\S+)\s*$(?![\s\S]*\/\/[#@]\s*sourceMappingURL=)/m;

function mapOf(scriptUrl: string, sourceMapURL: string): Promise<LoadedMap | undefined> {
  const cached = maps.get(scriptUrl);
  if (cached !== undefined && cached.sourceMapURL === sourceMapURL) return cached.loaded;
  const loaded = loadMap(scriptUrl, sourceMapURL);
  remember(maps, scriptUrl, { sourceMapURL, loaded });
  return loaded;
}

async function loadMap(scriptUrl: string, sourceMapURL: string): Promise<LoadedMap | undefined> {
  try {
    const url = new URL(sourceMapURL, scriptUrl);
    let text: string;
    if (url.protocol === 'file:') text = await readFile(url, 'utf8');
    else if (url.protocol === 'data:') text = dataText(url.href);
    else return undefined;
    const payload = JSON.parse(text) as { sourceRoot?: unknown };
    const sourceRoot = typeof payload.sourceRoot === 'string' && payload.sourceRoot !== '' ? payload.sourceRoot.replace(/\/?$/, '/') : '';
    // An inline map's sources are relative to its script.
    return { map: new SourceMap(payload as ConstructorParameters<typeof SourceMap>[0]), base: url.protocol === 'data:' ? scriptUrl : url.href, sourceRoot };
  } catch {
    return undefined;
  }
}

/** The text a data: URL holds (`data:[type][;base64],data`). */
function dataText(href: string): string {
  const comma = href.indexOf(',');
  const header = href.slice('data:'.length, comma);
  const data = href.slice(comma + 1);
  return header.endsWith(';base64') ? Buffer.from(data, 'base64').toString('utf8') : decodeURIComponent(data);
}
