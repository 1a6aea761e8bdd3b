// A job that takes its worker thread down with it.
import { defineProcessor } from 'light-task-tracker/processor';

export default defineProcessor(() => {
  process.exit(1);
});
