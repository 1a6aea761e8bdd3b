// A processor that takes no params (for the type tests only).
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor<undefined, string>(() => ({ success: true, value: 'pong' }));
