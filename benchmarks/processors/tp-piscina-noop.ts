// Throughput benchmark: the same no-op as tp-noop, as a bare piscina worker file (default export = the task).
export default function noop(): number {
  return 0;
}
