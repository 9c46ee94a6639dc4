import {
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
  type ChartDataset,
} from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Legend, Tooltip, Filler);

/** Colours of the series, in order (distinguishable, and readable on white). */
export const PALETTE = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#0a7ea4', '#57606a'];

export interface LineSeries {
  label: string;
  data: Array<number | null>;
  /** Axis id: 'y' (left, default) or 'y1' (right). */
  axis?: 'y' | 'y1';
  dashed?: boolean;
  stepped?: boolean;
}

/**
 * A line chart (Chart.js) of `series` over `labels`. Redrawn in place when data change (no
 * animation, so a polled chart does not flicker). `testId` marks the canvas for the tests,
 * `data-points` on it counts the points drawn.
 */
export function LineChart(props: {
  labels: Array<string | number>;
  series: LineSeries[];
  title: string;
  yTitle?: string;
  y1Title?: string;
  xTitle?: string;
  testId?: string;
  height?: number;
  yMin?: number;
  /** The right axis counts things (replicas): whole ticks from 0, headroom above the largest value. */
  y1Counts?: boolean;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | null>(null);
  const hasY1 = props.series.some((s) => s.axis === 'y1');
  const y1Max = Math.max(0, ...props.series.filter((s) => s.axis === 'y1').flatMap((s) => s.data.filter((v): v is number => v !== null)));

  const datasets: ChartDataset<'line', Array<number | null>>[] = props.series.map((s, i) => ({
    label: s.label,
    data: s.data,
    yAxisID: s.axis ?? 'y',
    borderColor: PALETTE[i % PALETTE.length],
    backgroundColor: PALETTE[i % PALETTE.length],
    borderDash: s.dashed ? [6, 4] : [],
    stepped: s.stepped ?? false,
    pointRadius: s.data.length > 60 ? 0 : 3,
    borderWidth: 2,
    spanGaps: true,
    tension: 0,
  }));

  useEffect(() => {
    if (!canvas.current) return;
    const config: ChartConfiguration<'line', Array<number | null>, string | number> = {
      type: 'line',
      data: { labels: props.labels, datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        plugins: { legend: { position: 'bottom' }, tooltip: { enabled: true } },
        scales: {
          x: { title: { display: !!props.xTitle, text: props.xTitle ?? '' }, ticks: { maxTicksLimit: 8, autoSkip: true } },
          y: { title: { display: !!props.yTitle, text: props.yTitle ?? '' }, ...(props.yMin !== undefined && { min: props.yMin }) },
          ...(hasY1 && {
            y1: {
              position: 'right' as const,
              title: { display: !!props.y1Title, text: props.y1Title ?? '' },
              grid: { drawOnChartArea: false },
              ...(props.y1Counts && { min: 0, suggestedMax: y1Max + 1, ticks: { precision: 0 } }),
            },
          }),
        },
      },
    };
    if (!chart.current) {
      chart.current = new Chart(canvas.current, config);
    } else {
      chart.current.data.labels = props.labels;
      chart.current.data.datasets = datasets;
      chart.current.update('none');
    }
  });
  useEffect(
    () => () => {
      chart.current?.destroy();
      chart.current = null;
    },
    [],
  );
  const points = props.series.reduce((n, s) => n + s.data.filter((v) => v !== null).length, 0);
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div class="chart-box" style={{ height: `${props.height ?? 260}px` }}>
        <canvas ref={canvas} role="img" aria-label={props.title} data-testid={props.testId} data-points={points} />
      </div>
    </figure>
  );
}
