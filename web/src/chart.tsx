/**
 * A small SVG line chart of scores over time (several series, a legend, time and score axes).
 * Scales with its container; colours come from CSS variables so that dark mode works.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { Empty } from './ui.js';
import './chart.css';

export interface Series {
  name: string;
  points: { t: number; v: number; failed?: boolean }[];
  /** Drawn thicker (the viewer's own team). */
  strong?: boolean;
}

const H = 240;
const PAD = { l: 56, r: 14, t: 12, b: 28 };
const COLORS = 8;

/** 1, 2, 5 × 10^k steps: about `n` ticks between 0 and `max`. */
function ticks(max: number, n = 4): number[] {
  if (max <= 0) return [0];
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = 0; ; v += step) {
    out.push(v);
    if (v >= max) return out;
  }
}

function timeLabel(t: number, span: number): string {
  const d = new Date(t);
  if (span > 2 * 86_400_000) return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  return d.toLocaleTimeString(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    ...(span < 600_000 ? { second: '2-digit' } : {}),
  });
}

/** The chart, drawn at its container's width in pixels (text stays readable on a phone). */
export function ScoreChart({ series, label }: { series: Series[]; label: string }) {
  const ref = useRef<HTMLElement>(null);
  const [width, setWidth] = useState(640);
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => setWidth(Math.max(240, Math.floor(el.clientWidth))));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const all = series.flatMap((s) => s.points);
  return (
    <figure class="chart" ref={ref}>
      {all.length === 0 ? (
        <Empty>No results yet: the chart fills in as benchmarks finish.</Empty>
      ) : (
        <Plot series={series} label={label} W={width} />
      )}
    </figure>
  );
}

function Plot({ series, label, W }: { series: Series[]; label: string; W: number }) {
  const all = series.flatMap((s) => s.points);
  let t0 = Math.min(...all.map((p) => p.t));
  let t1 = Math.max(...all.map((p) => p.t));
  if (t1 - t0 < 60_000) {
    t0 -= 30_000;
    t1 += 30_000;
  }
  const yTicks = ticks(Math.max(...all.map((p) => p.v), 1));
  const yMax = yTicks[yTicks.length - 1]!;
  const x = (t: number) => PAD.l + ((t - t0) / (t1 - t0)) * (W - PAD.l - PAD.r);
  const y = (v: number) => H - PAD.b - (v / yMax) * (H - PAD.t - PAD.b);
  const xTicks = (W < 600 ? [0, 0.5, 1] : [0, 0.25, 0.5, 0.75, 1]).map((f) => t0 + f * (t1 - t0));
  const summary = series
    .map((s) => {
      const last = s.points[s.points.length - 1];
      return last ? `${s.name}: ${last.v}` : `${s.name}: no results`;
    })
    .join('; ');
  return (
    <>
      <svg
        width={W}
        height={H}
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${label}. Latest: ${summary}`}
      >
        {yTicks.map((v) => (
          <g key={v}>
            <line class="grid" x1={PAD.l} x2={W - PAD.r} y1={y(v)} y2={y(v)} />
            <text class="axis" x={PAD.l - 6} y={y(v) + 4} text-anchor="end">
              {v.toLocaleString('en-US')}
            </text>
          </g>
        ))}
        {xTicks.map((t, i) => (
          <text
            key={i}
            class="axis"
            x={x(t)}
            y={H - 8}
            text-anchor={i === 0 ? 'start' : i === xTicks.length - 1 ? 'end' : 'middle'}
          >
            {timeLabel(t, t1 - t0)}
          </text>
        ))}
        {series.map((s, i) => {
          const c = `c${i % COLORS}`;
          // The line joins passing results; failed runs are hollow marks on the axis.
          const passed = s.points.filter((p) => !p.failed);
          const d = passed
            .map((p, k) => `${k ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`)
            .join('');
          return (
            <g key={s.name} class={`series ${c}${s.strong ? ' strong' : ''}`}>
              {passed.length > 1 && <path d={d} />}
              {s.points.map((p, k) => (
                <circle
                  key={k}
                  cx={x(p.t)}
                  cy={y(p.v)}
                  r={p.failed ? 3.5 : 3}
                  class={p.failed ? 'failed' : ''}
                >
                  <title>{`${s.name}: ${p.v}${p.failed ? ' (failed)' : ''} at ${new Date(p.t).toLocaleTimeString()}`}</title>
                </circle>
              ))}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul class="legend">
          {series.map((s, i) => (
            <li key={s.name} class={s.strong ? 'strong' : ''}>
              <span class={`swatch c${i % COLORS}`} aria-hidden="true" />
              {s.name}
            </li>
          ))}
        </ul>
      </figcaption>
    </>
  );
}
