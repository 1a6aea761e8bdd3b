// The reference in docs/api.md keeps up with the code: every option with a default, every option of stream() and
// every error class the package exports is named there, so a new one left undocumented fails here. And the README stays short.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as main from 'light-task-tracker';
import * as bullmq from 'light-task-tracker/bullmq';
import * as otel from 'light-task-tracker/otel';
import * as prometheus from 'light-task-tracker/prometheus';
import { resolveOptions } from '../dist/src/resolve-options.js';
import { STREAM_OPTION_KEYS } from '../dist/src/stream-options.js';
import { fixture } from './support/fixtures.js';

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const api = read('docs/api.md');

/** Whether `name` appears in the text as inline code: `name`. */
function documents(text: string, name: string): boolean {
  return text.includes(`\`${name}\``);
}

/** The names of a module's exports that are TaskTrackerError or a class extending it. */
function errorClasses(module: Record<string, unknown>): string[] {
  const isErrorClass = (value: unknown): boolean =>
    typeof value === 'function' && (value === main.TaskTrackerError || value.prototype instanceof main.TaskTrackerError);
  return Object.entries(module)
    .filter(([, value]) => isErrorClass(value))
    .map(([name]) => name);
}

describe('docs/api.md', () => {
  it('names every key of defaultOptions', () => {
    const keys = Object.keys(main.defaultOptions);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((key) => !documents(api, key))).toEqual([]);
  });

  it('names every option the runtime takes, defaulted or not', () => {
    // Every key of the resolved options is an option (resolution fills in each one the runtime reads).
    const keys = Object.keys(resolveOptions({ processors: { succeed: fixture('succeed') } }));
    expect(keys.length).toBeGreaterThan(Object.keys(main.defaultOptions).length);
    expect(keys.filter((key) => !documents(api, key))).toEqual([]);
  });

  it('names every option stream() takes', () => {
    expect(STREAM_OPTION_KEYS.has('highWaterMark')).toBe(true);
    expect([...STREAM_OPTION_KEYS].filter((key) => !documents(api, key))).toEqual([]);
  });

  it('names every error class exported by the main, bullmq, otel and prometheus entries', () => {
    const mainErrors = errorClasses(main);
    const bullmqErrors = errorClasses(bullmq);
    const otelErrors = errorClasses(otel);
    const prometheusErrors = errorClasses(prometheus);
    expect(mainErrors).toContain('TaskTrackerError');
    expect(mainErrors.length).toBeGreaterThan(1);
    expect(bullmqErrors.length).toBeGreaterThan(0);
    expect(otelErrors.length).toBeGreaterThan(0);
    expect(prometheusErrors).toEqual(['MetricsConflictError']);
    const names = new Set([...mainErrors, ...bullmqErrors, ...otelErrors, ...prometheusErrors, 'TaskTrackerError']);
    expect([...names].filter((name) => !documents(api, name))).toEqual([]);
  });
});

describe('README.md', () => {
  it('stays short: at most 220 lines', () => {
    const lines = read('README.md').split('\n');
    if (lines.at(-1) === '') lines.pop();
    expect(lines.length).toBeLessThanOrEqual(220);
  });
});
