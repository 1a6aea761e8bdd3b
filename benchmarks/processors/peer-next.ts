// Peers benchmark: the no-op queued behind a runaway. Its result text is the worker-side clock (now(), epoch ms with
// sub-ms precision, comparable with the main thread's) at the moment the processor started.
import { defineProcessor } from 'light-task-tracker/processor';
import { now } from '../lib/stats.js';

export default defineProcessor(() => ({ success: true, msg: String(now()) }));
