// The domain's metrics history (CPU, memory, disk and network I/O) as uPlot graphs, from the
// server's ring of samples; refreshed at the server's sampling interval. Loaded on demand (its
// own chunk), so the first page does not carry uPlot.
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, type MetricsSample } from './api';

interface Chart {
  title: string;
  unit: string;
  series: { label: string; pick: (s: MetricsSample) => number | null; stroke: string }[];
}

const KiB = 1024;
const CHARTS: Chart[] = [
  { title: 'CPU', unit: '%', series: [{ label: 'CPU %', pick: (s) => s.cpu, stroke: '#0066cc' }] },
  { title: 'Memory', unit: 'MiB', series: [{ label: 'balloon MiB', pick: (s) => (s.memoryKiB === null ? null : s.memoryKiB / KiB), stroke: '#3e8635' }] },
  {
    title: 'Disk I/O',
    unit: 'KiB/s',
    series: [
      { label: 'read KiB/s', pick: (s) => (s.diskReadBps === null ? null : s.diskReadBps / KiB), stroke: '#5752d1' },
      { label: 'write KiB/s', pick: (s) => (s.diskWriteBps === null ? null : s.diskWriteBps / KiB), stroke: '#c9190b' },
    ],
  },
  {
    title: 'Network I/O',
    unit: 'KiB/s',
    series: [
      { label: 'rx KiB/s', pick: (s) => (s.netRxBps === null ? null : s.netRxBps / KiB), stroke: '#009596' },
      { label: 'tx KiB/s', pick: (s) => (s.netTxBps === null ? null : s.netTxBps / KiB), stroke: '#f0ab00' },
    ],
  },
];

function dataOf(chart: Chart, samples: MetricsSample[]): uPlot.AlignedData {
  return [samples.map((s) => s.t / 1000), ...chart.series.map((se) => samples.map(se.pick))];
}

function Graph({ chart, samples }: { chart: Chart; samples: MetricsSample[] }) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (el.current === null) return;
    const p = new uPlot(
      {
        title: chart.title,
        width: 500,
        height: 200,
        series: [{}, ...chart.series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, spanGaps: false }))],
        axes: [{}, { label: chart.unit, size: 60 }],
        scales: { x: { time: true } },
      },
      dataOf(chart, []),
      el.current,
    );
    plot.current = p;
    return () => {
      p.destroy();
      plot.current = null;
    };
  }, [chart]);
  useEffect(() => {
    plot.current?.setData(dataOf(chart, samples));
  }, [chart, samples]);
  return <div ref={el} data-testid={`metrics-${chart.title}`} />;
}

export default function Metrics({ uri, uuid }: { uri: string; uuid: string }) {
  const [samples, setSamples] = useState<MetricsSample[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let live = true;
    const tick = async () => {
      let interval = 5000;
      try {
        const r = await api.metrics(uri, uuid);
        if (!live) return;
        setSamples(r.samples);
        setError(null);
        interval = r.intervalMs;
      } catch (e) {
        if (live) setError((e as Error).message);
      }
      if (live) timer = setTimeout(() => void tick(), interval);
    };
    void tick();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [uri, uuid]);
  return (
    <div data-testid="metrics">
      <p>
        <span data-testid="metrics-count">{samples.length}</span> samples of the running domain (the server keeps the last 10 minutes).
        {error !== null && <> Error: {error}</>}
      </p>
      <div className="tsv-metrics">
        {CHARTS.map((c) => (
          <Graph key={c.title} chart={c} samples={samples} />
        ))}
      </div>
    </div>
  );
}
