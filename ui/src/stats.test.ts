import { describe, expect, it } from "vitest";

import { MINUTE, addSample, parseStatsLine, percentOf, plot, windowOf, type StatsSample } from "./stats";

function sample(time_ms: number, cpu_percent = 0): StatsSample {
  return {
    time_ms,
    cpu_percent,
    memory_bytes: 0,
    memory_limit_bytes: 0,
    net_rx_bytes_per_s: 0,
    net_tx_bytes_per_s: 0,
    disk_read_bytes_per_s: 0,
    disk_write_bytes_per_s: 0,
  };
}

describe("a stats series", () => {
  it("parses a line of the stream, and refuses what is not a sample", () => {
    const line = parseStatsLine(
      '{"kind":"instance","name":"web-1","time_ms":5,"cpu_percent":12.5,"memory_bytes":10,"memory_limit_bytes":100}',
    );
    expect(line?.name).toBe("web-1");
    expect(line?.cpu_percent).toBe(12.5);
    expect(line?.net_rx_bytes_per_s).toBe(0);
    expect(parseStatsLine("not json")).toBeNull();
    expect(parseStatsLine('{"kind":"other","name":"x","time_ms":1}')).toBeNull();
  });

  it("keeps samples in time order, replaces one at the same time, forgets past the hour", () => {
    let series = [sample(1000), sample(3000)];
    series = addSample(series, sample(2000, 5));
    expect(series.map((s) => s.time_ms)).toEqual([1000, 2000, 3000]);
    series = addSample(series, sample(2000, 7));
    expect(series.map((s) => s.cpu_percent)).toEqual([0, 7, 0]);
    series = addSample(series, sample(1000 + 60 * MINUTE + 1));
    expect(series.map((s) => s.time_ms)).toEqual([2000, 3000, 1000 + 60 * MINUTE + 1]);
  });

  it("windows the last 5, 15 or 60 minutes", () => {
    const now = 100 * MINUTE;
    const series = [sample(now - 61 * MINUTE), sample(now - 14 * MINUTE), sample(now - 4 * MINUTE), sample(now)];
    expect(windowOf(series, now, 5 * MINUTE)).toHaveLength(2);
    expect(windowOf(series, now, 15 * MINUTE)).toHaveLength(3);
    expect(windowOf(series, now, 60 * MINUTE)).toHaveLength(3);
  });

  it("plots a window into a box, the largest value at the top", () => {
    const now = 10_000;
    const p = plot([sample(0, 50), sample(5000, 100), sample(10_000, 0)], (s) => s.cpu_percent, now, 10_000, 100, 50);
    expect(p.max).toBe(100);
    expect(p.points).toBe("0.0,25.0 50.0,0.0 100.0,50.0");
    expect(p.last).toEqual({ x: 100, y: 50 });
    expect(plot([] as StatsSample[], (s) => s.cpu_percent, now, 10_000, 100, 50).last).toBeNull();
    expect(plot([sample(10_000, 0)], (s) => s.cpu_percent, now, 10_000, 100, 50).points).toBe("100.0,50.0");
  });

  it("gives a bar's percent, bounded", () => {
    expect(percentOf(50, 200)).toBe(25);
    expect(percentOf(5, 0)).toBe(0);
    expect(percentOf(300, 200)).toBe(100);
  });
});
