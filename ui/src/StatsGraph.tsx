// A live graph of one or two values of a stats series, in plain SVG (a
// polyline per value over the chosen window; no chart library).

import type { ReactElement } from "react";

import { plot, type StatsSample } from "./stats";

const WIDTH = 300;
const HEIGHT = 80;

export interface Line<S> {
  label: string;
  value: (s: S) => number;
  className: string;
}

export function StatsGraph<S extends StatsSample>({
  title,
  samples,
  lines,
  nowMs,
  windowMs,
  format,
  floor,
}: {
  title: string;
  samples: readonly S[];
  lines: Line<S>[];
  nowMs: number;
  windowMs: number;
  format: (v: number) => string;
  floor: number;
}): ReactElement {
  const last = samples[samples.length - 1];
  // One scale for every line of a graph.
  const max = Math.max(floor, ...lines.flatMap((l) => samples.map(l.value)));
  const scaled = lines.map((l) => ({ line: l, plot: plot(samples, l.value, nowMs, windowMs, WIDTH, HEIGHT, max) }));
  return (
    <figure className="graph">
      <figcaption>
        {title}
        {lines.map((l) => (
          <span key={l.label} className={`legend ${l.className}`}>
            {l.label} {last ? format(l.value(last)) : "–"}
          </span>
        ))}
      </figcaption>
      <svg
        role="img"
        aria-label={`${title} graph`}
        data-samples={samples.length}
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
      >
        <line x1="0" y1={HEIGHT} x2={WIDTH} y2={HEIGHT} className="axis" />
        {scaled.map(({ line, plot: p }) => (
          <g key={line.label}>
            <polyline points={p.points} className={`series ${line.className}`} />
            {p.last && <circle cx={p.last.x} cy={p.last.y} r="2.5" className={`dot ${line.className}`} />}
          </g>
        ))}
      </svg>
      <span className="scale">max {format(max)}</span>
    </figure>
  );
}
