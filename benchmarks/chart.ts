// Draws benchmarks/results/latency.svg from the raw samples of benchmarks 1–5 (sync interrupt, async interrupt,
// interrupt to settled, terminate, capacity back): one box per measured case on a shared log axis, in ms, so that
// what an interrupt costs against a terminate shows at a glance. Box: p25–p75 with the median; whiskers: p1–p99.
// Rendered with ECharts' server-side SVG renderer. Run after the benchmarks (`npm run bench` does).
import { readFileSync, writeFileSync } from 'node:fs';
import * as echarts from 'echarts';

interface Summary { readonly name: string; readonly unit: string }
interface Results { readonly machine: string; readonly summaries: Summary[]; readonly samples: Record<string, number[]> }

const results = new URL('../../benchmarks/results/', import.meta.url);
const sources = ['sync-interrupt', 'async-interrupt', 'interrupt-settled', 'terminate', 'capacity-back'];
const toMs: Record<string, number> = { 'µs': 1e-3, us: 1e-3, ms: 1, s: 1e3 };

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

const labels: string[] = [];
const boxes: number[][] = [];
let machine = '';
for (const source of sources) {
  let data: Results;
  try {
    data = JSON.parse(readFileSync(new URL(`${source}.json`, results), 'utf8')) as Results;
  } catch {
    console.warn(`chart: no results for ${source}; run its benchmark first`);
    continue;
  }
  machine = data.machine;
  for (const summary of data.summaries) {
    const samples = data.samples[summary.name];
    if (samples === undefined || samples.length === 0) continue;
    const scale = toMs[summary.unit] ?? 1;
    const sorted = samples.map((v) => v * scale).filter((v) => v > 0).sort((a, b) => a - b);
    labels.push(`${source}: ${summary.name}`);
    boxes.push([0.01, 0.25, 0.5, 0.75, 0.99].map((q) => quantile(sorted, q)));
  }
}

const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: 1100, height: 90 + labels.length * 46 });
chart.setOption({
  animation: false,
  backgroundColor: '#ffffff',
  title: { text: 'light-task-tracker: interrupt vs terminate latency (ms, log scale)', subtext: machine, left: 'center' },
  grid: { left: 430, right: 40, top: 70, bottom: 40 },
  xAxis: { type: 'log', name: 'ms', logBase: 10, splitLine: { show: true } },
  yAxis: { type: 'category', data: labels, inverse: true, axisLabel: { fontSize: 11 } },
  series: [{ type: 'boxplot', data: boxes, itemStyle: { borderColor: '#2f5d8a', color: '#cfe0f1' } }],
});
const file = new URL('latency.svg', results);
writeFileSync(file, chart.renderToSVGString());
chart.dispose();
console.log(`chart: ${file.pathname} (${labels.length} cases)`);
