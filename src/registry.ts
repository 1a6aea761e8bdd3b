// The processor registry: the only modules a runtime ever loads, named by the application, never by a request.
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The registry, resolved: each name's index, and each index's file URL. */
export interface ProcessorRegistry {
  /** Registry name → index. A Map: no name can reach an inherited property. */
  readonly indexOf: ReadonlyMap<string, number>;
  readonly urls: readonly string[];
}

export function resolveRegistry(processors: unknown): ProcessorRegistry {
  if (typeof processors !== 'object' || processors === null || Array.isArray(processors)) {
    throw new TypeError('TaskRuntime: options.processors must be an object of registry name → module path or file URL');
  }
  const indexOf = new Map<string, number>();
  const urls: string[] = [];
  for (const [name, location] of Object.entries(processors)) {
    if (name === '') throw new TypeError('TaskRuntime: options.processors has an empty name');
    indexOf.set(name, urls.length);
    urls.push(toFileUrl(name, location));
  }
  if (urls.length === 0) throw new TypeError('TaskRuntime: options.processors names no processor');
  return { indexOf, urls };
}

function toFileUrl(name: string, location: unknown): string {
  let path: string;
  if (location instanceof URL || (typeof location === 'string' && location.startsWith('file:'))) {
    let url: URL;
    try {
      url = new URL(location);
      if (url.protocol !== 'file:') throw new TypeError('not a file: URL');
      path = fileURLToPath(url);
    } catch (cause) {
      // A bad URL, a remote host (file://host/x.js) or an encoded slash: name the option, keep Node's text as cause.
      throw new TypeError(`TaskRuntime: options.processors.${name} must be a module path or a local file: URL, got ${String(location)}`, { cause });
    }
  } else if (typeof location === 'string' && location !== '') {
    path = isAbsolute(location) ? location : resolve(location);
  } else {
    throw new TypeError(`TaskRuntime: options.processors.${name} must be a module path or file URL, got ${String(location)}`);
  }
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    // isFile stays false
  }
  if (!isFile) throw new TypeError(`TaskRuntime: options.processors.${name}: no module file at ${path}`);
  return pathToFileURL(path).href;
}
