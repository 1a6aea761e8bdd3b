// A throw-away redis-server: found on PATH (or /usr/bin, /usr/sbin, /usr/local/bin), started on a free loopback
// port with no persistence (--save '' --appendonly no), stopped by its owner. The cluster example and the BullMQ
// tests both start theirs with it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

/** The redis-server binary, or undefined when this machine has none. */
export function findRedisServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface RedisServer {
  readonly port: number;
  readonly connection: { readonly host: string; readonly port: number; readonly maxRetriesPerRequest: null };
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Starts a redis-server on a free loopback port; resolves once it accepts connections. */
export async function startRedis(): Promise<RedisServer> {
  const redisServerPath = findRedisServer();
  if (redisServerPath === undefined) throw new Error('redis-server not found on PATH, /usr/bin, /usr/sbin or /usr/local/bin: install it (apt-get install redis-server)');
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const child = spawn(redisServerPath, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = await ready(child);
    if (started === true) {
      return {
        port,
        connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null },
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          await exited;
        },
      };
    }
    // Another process took the port between our probe and the server's bind: try another.
    if (tries >= 4) throw new Error(`redis-server did not start: ${started}`);
  }
}

function ready(child: ChildProcess): Promise<true | string> {
  return new Promise((resolve) => {
    let output = '';
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(true);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => resolve(`exited with code ${code}: ${output.slice(-500)}`));
    child.once('error', (error) => resolve(String(error)));
  });
}
