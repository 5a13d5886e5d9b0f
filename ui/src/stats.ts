// Live stats, the pure part: the lines of `GET .../stats`, a series kept
// for the last hour, the window a graph shows, and the graph's points.

export interface StatsSample {
  time_ms: number;
  cpu_percent: number;
  memory_bytes: number;
  memory_limit_bytes: number;
  net_rx_bytes_per_s: number;
  net_tx_bytes_per_s: number;
  disk_read_bytes_per_s: number;
  disk_write_bytes_per_s: number;
  /** Hosts only. */
  disk_used_bytes?: number;
  disk_total_bytes?: number;
}

/** One line of the stream: a sample of one series. */
export interface StatsLine extends StatsSample {
  kind: "node" | "instance" | "service";
  name: string;
}

export const MINUTE = 60_000;
/** The windows a graph offers. */
export const WINDOWS = [5, 15, 60] as const;
export type WindowMinutes = (typeof WINDOWS)[number];
/** What a series keeps: the longest window. */
export const KEEP_MS = 60 * MINUTE;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** A line of the stream, or null when it is not a sample. */
export function parseStatsLine(line: string): StatsLine | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isRecord(value) || typeof value.name !== "string" || typeof value.time_ms !== "number") return null;
  if (value.kind !== "node" && value.kind !== "instance" && value.kind !== "service") return null;
  const num = (key: string): number => {
    const v = value[key];
    return typeof v === "number" ? v : 0;
  };
  return {
    kind: value.kind,
    name: value.name,
    time_ms: value.time_ms,
    cpu_percent: num("cpu_percent"),
    memory_bytes: num("memory_bytes"),
    memory_limit_bytes: num("memory_limit_bytes"),
    net_rx_bytes_per_s: num("net_rx_bytes_per_s"),
    net_tx_bytes_per_s: num("net_tx_bytes_per_s"),
    disk_read_bytes_per_s: num("disk_read_bytes_per_s"),
    disk_write_bytes_per_s: num("disk_write_bytes_per_s"),
    disk_used_bytes: num("disk_used_bytes"),
    disk_total_bytes: num("disk_total_bytes"),
  };
}

/**
 * The series after a new sample: kept in time order (a sample at a time
 * already there replaces it: the server's per-minute average after its
 * samples), nothing older than `keepMs` before the newest.
 */
export function addSample<S extends StatsSample>(series: readonly S[], sample: S, keepMs = KEEP_MS): S[] {
  const next = series.filter((s) => s.time_ms !== sample.time_ms);
  let at = next.length;
  while (at > 0 && (next[at - 1]?.time_ms ?? 0) > sample.time_ms) at -= 1;
  next.splice(at, 0, sample);
  const newest = next[next.length - 1]?.time_ms ?? sample.time_ms;
  return next.filter((s) => s.time_ms >= newest - keepMs);
}

/** The samples of the last `windowMs` before `nowMs`. */
export function windowOf<S extends StatsSample>(series: readonly S[], nowMs: number, windowMs: number): S[] {
  return series.filter((s) => s.time_ms >= nowMs - windowMs && s.time_ms <= nowMs);
}

/** A graph's line: SVG polyline points and the top of its scale. */
export interface Plot {
  points: string;
  max: number;
  /** The newest point (a dot marks it: one sample draws no line). */
  last: { x: number; y: number } | null;
}

/**
 * The points of `value` over the window ending at `nowMs`, in a box of
 * `width` × `height` (y grows downwards); the scale's top is the largest
 * value or `floor`, whichever is larger (a flat zero line stays at the
 * bottom).
 */
export function plot<S extends StatsSample>(
  samples: readonly S[],
  value: (s: S) => number,
  nowMs: number,
  windowMs: number,
  width: number,
  height: number,
  floor = 1,
): Plot {
  const max = Math.max(floor, ...samples.map(value));
  const start = nowMs - windowMs;
  const xy = samples.map((s) => ({
    x: ((s.time_ms - start) / windowMs) * width,
    y: height - (value(s) / max) * height,
  }));
  const points = xy.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
  return { points, max, last: xy[xy.length - 1] ?? null };
}

/** Bytes per second, short. */
export function formatRate(bytesPerS: number): string {
  const units = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
  let value = bytesPerS;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 && unit > 0 ? 1 : 0)} ${units[unit] ?? ""}`;
}

/** The part of `total` that `used` is, 0 to 100 (0 when total is unknown). */
export function percentOf(used: number, total: number): number {
  if (total <= 0) return 0;
  return Math.min(100, Math.max(0, (used / total) * 100));
}
