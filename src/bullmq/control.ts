// Stopping a job from any process: a stop mark in Redis (for a job not started yet, or whose start races the stop)
// and a message on a pub/sub channel every consumer of the queue listens to (for a job running somewhere now).
import { Redis, type RedisOptions } from 'ioredis';
import { checkNumber } from '../checks.js';
import { describeValue } from '../errors.js';
import { keySet, refuseUnknownOptions } from '../keys.js';
import { CONSUMER_OPTION_KEYS, DEFAULT_PREFIX, type QueueLocation } from './options.js';

export interface StopJobOptions {
  /**
   * How long the stop mark stays when no consumer takes the job (ms): a job that is still waiting is failed as
   * stopped when a consumer takes it within this time. 1 to 2^31-1.
   * @default 86400000 (one day)
   */
  readonly markTtlMs?: number;
}

const STOP_JOB_OPTION_KEYS = keySet({ markTtlMs: true } satisfies Record<keyof StopJobOptions, true>);

/** `stopJob`'s default mark lifetime: a day. */
export const DEFAULT_STOP_MARK_TTL_MS = 86_400_000;

/** The channel the queue's consumers listen to; each message is one job id. */
export function stopChannel(prefix: string, queue: string): string {
  return `${prefix}:${queue}:ltt-stop`;
}

/** The key that marks one job as stopped; beside BullMQ's own `<prefix>:<queue>:<jobId>` key. */
export function stopMarkKey(prefix: string, queue: string, jobId: string): string {
  return `${prefix}:${queue}:${jobId}:ltt-stop`;
}

/**
 * Stops a job of the queue wherever it is: running in a consumer of any process (its instance is interrupted, then
 * force-stopped after the runtime's grace) or not started yet (the consumer that takes it fails it at once). Either
 * way the job fails as cancelled (`ERR_JOB_STOPPED: …`), without further BullMQ attempts. A job that has already
 * finished is not changed, but its mark stays until `markTtlMs` passes: a retry of that job, or a new job given the
 * same custom id, within that time is failed as stopped when taken. Resolves, once the stop is in Redis, with the number of consumers that heard it.
 */
export async function stopJob(location: QueueLocation, jobId: string, options: StopJobOptions = {}): Promise<number> {
  if (typeof jobId !== 'string' || jobId === '') throw new TypeError(`stopJob: jobId must be a non-empty string, got ${describeValue(jobId)}`);
  if (typeof options !== 'object' || options === null) throw new TypeError(`stopJob: options must be an object, got ${describeValue(options)}`);
  refuseUnknownOptions('stopJob', options, STOP_JOB_OPTION_KEYS);
  const ttl = checkNumber('stopJob: options.markTtlMs', options.markTtlMs ?? DEFAULT_STOP_MARK_TTL_MS, { min: 1, integer: true, unit: 'ms' });
  const { queue, prefix } = checkLocation('stopJob', location);
  const [client, owned] = connect(location.connection);
  try {
    // The mark first: a consumer that starts the job after the message went out still sees the mark.
    const replies = await client.multi().set(stopMarkKey(prefix, queue, jobId), '1', 'PX', ttl).publish(stopChannel(prefix, queue), jobId).exec();
    const failed = replies?.find(([error]) => error !== null);
    if (replies === null || failed !== undefined) throw failed?.[0] ?? new Error('stopJob: the transaction was aborted');
    return Number(replies[1]?.[1] ?? 0);
  } finally {
    if (owned) await quit(client);
  }
}

/** A consumer's ear on the stop channel, and its reader of stop marks. */
export class StopListener {
  readonly #subscriber: Redis;
  readonly #commands: Redis;
  readonly #prefix: string;
  readonly #queue: string;

  private constructor(subscriber: Redis, commands: Redis, prefix: string, queue: string) {
    this.#subscriber = subscriber;
    this.#commands = commands;
    this.#prefix = prefix;
    this.#queue = queue;
  }

  /**
   * Subscribes; `onStop` gets each job id stopped from anywhere, `onResubscribed` each time the subscriber is back
   * after a lost connection (the messages published meanwhile are gone: their marks are not), `onError` each
   * connection error.
   */
  static async open(
    location: QueueLocation,
    onStop: (jobId: string) => void,
    onResubscribed: () => void,
    onError: (error: Error) => void,
  ): Promise<StopListener> {
    const { queue, prefix } = checkLocation('startConsumer', location);
    const subscriber = duplicate(location.connection);
    const commands = duplicate(location.connection);
    subscriber.on('error', onError);
    commands.on('error', onError);
    const channel = stopChannel(prefix, queue);
    subscriber.on('message', (from: string, jobId: string) => {
      if (from === channel) onStop(jobId);
    });
    // Every 'ready' after the first is a reconnect. Subscribing again is harmless if ioredis did already
    // (autoResubscribe), and its answer comes after the subscription is in force: only then are marks looked for.
    let connected = false;
    subscriber.on('ready', () => {
      if (connected) subscriber.subscribe(channel).then(onResubscribed, onError);
      connected = true;
    });
    try {
      await subscriber.subscribe(channel);
    } catch (error) {
      await Promise.all([quit(subscriber), quit(commands)]);
      throw error;
    }
    return new StopListener(subscriber, commands, prefix, queue);
  }

  /** Whether the job carries a stop mark; the mark is removed, so a later retry of the job by hand runs. */
  async takeMark(jobId: string): Promise<boolean> {
    return (await this.#commands.del(stopMarkKey(this.#prefix, this.#queue, jobId))) > 0;
  }

  async close(): Promise<void> {
    await Promise.all([quit(this.#subscriber), quit(this.#commands)]);
  }
}

function checkLocation(caller: string, location: QueueLocation): { queue: string; prefix: string } {
  if (typeof location !== 'object' || location === null) throw new TypeError(`${caller}: the queue location must be an object, got ${describeValue(location)}`);
  refuseUnknownOptions(caller, location, CONSUMER_OPTION_KEYS);
  if (typeof location.queue !== 'string' || location.queue === '') throw new TypeError(`${caller}: queue must be a non-empty string, got ${describeValue(location.queue)}`);
  const prefix = location.prefix ?? DEFAULT_PREFIX;
  if (typeof prefix !== 'string' || prefix === '') throw new TypeError(`${caller}: prefix must be a non-empty string, got ${describeValue(prefix)}`);
  if (typeof location.connection !== 'object' || location.connection === null) {
    throw new TypeError(`${caller}: connection must be ioredis options or an ioredis client, got ${describeValue(location.connection)}`);
  }
  return { queue: location.queue, prefix };
}

function isClient(connection: RedisOptions | Redis): connection is Redis {
  return typeof (connection as Redis).duplicate === 'function';
}

/** The caller's client as it is, or a new one from options (then `owned`: ours to quit). */
function connect(connection: RedisOptions | Redis): [Redis, boolean] {
  return isClient(connection) ? [connection, false] : [new Redis(connection), true];
}

/** A connection of our own, with the caller's settings. */
function duplicate(connection: RedisOptions | Redis): Redis {
  return isClient(connection) ? connection.duplicate() : new Redis(connection);
}

async function quit(client: Redis): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
