// A quick job: answers at once.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor((ctx) => ({ success: true, msg: `quick ${String(ctx.jobParams)}` }));
