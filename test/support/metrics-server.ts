// A /metrics endpoint over a prom-client registry on a free loopback port, and the exposition text parsed back, for
// the tests that scrape over real HTTP. Each server is closed after the test that opened it.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry, RegistryContentType } from 'prom-client';
import { afterEach } from 'vitest';

export interface MetricsServer {
  readonly url: string;
  /** GETs /metrics over HTTP; throws unless the answer is 200 with the registry's content type. */
  scrape(): Promise<Exposition>;
}

/** One sample line: `name{labels} value`. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A scrape, parsed: every sample, and each family's `# TYPE`. */
export class Exposition {
  readonly text: string;
  readonly samples: Sample[] = [];
  readonly types = new Map<string, string>();

  constructor(text: string) {
    this.text = text;
    for (const line of text.split('\n')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type !== null) this.types.set(type[1]!, type[2]!);
      if (line === '' || line.startsWith('#')) continue;
      const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (sample === null) throw new Error(`not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const [, name, value] of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[name!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      }
      this.samples.push({ name: sample[1]!, labels, value: Number(sample[3]) });
    }
  }

  /** The samples named `name` whose labels include `labels`. */
  find(name: string, labels: Readonly<Record<string, string>> = {}): Sample[] {
    return this.samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  }

  /** The value of the one sample named `name` with exactly `labels`; throws when there is none. */
  value(name: string, labels: Readonly<Record<string, string>> = {}): number {
    const size = Object.keys(labels).length;
    const found = this.find(name, labels).filter((sample) => Object.keys(sample.labels).length === size);
    if (found.length !== 1) throw new Error(`${found.length} samples ${name}${JSON.stringify(labels)} in the scrape`);
    return found[0]!.value;
  }
}

/**
 * Registers, in the file that calls it, an afterEach that closes every server `serve` opened during the test.
 * `serve(registry)` listens on 127.0.0.1, port 0.
 */
export function useMetricsServers(): (registry: Registry<RegistryContentType>) => Promise<MetricsServer> {
  const open: Server[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });
  return async (registry) => {
    const server = createServer((request, response) => {
      if (request.url !== '/metrics') {
        response.writeHead(404).end();
        return;
      }
      registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (error: unknown) => response.writeHead(500).end(String(error)),
      );
    });
    open.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    return {
      url,
      async scrape() {
        const response = await fetch(url);
        const text = await response.text();
        if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${text}`);
        if (response.headers.get('content-type') !== registry.contentType) throw new Error(`GET ${url}: content-type ${response.headers.get('content-type')}`);
        return new Exposition(text);
      },
    };
  };
}
