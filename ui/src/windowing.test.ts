import { describe, expect, it } from "vitest";

import { sameWindow, scrollToShow, windowed, windowOf, WINDOW_FROM } from "./windowing";

describe("windowOf", () => {
  it("renders the rows in view and the margin, and the heights of the rest", () => {
    const w = windowOf({ count: 10_000, rowHeight: 30, scrollTop: 3_000, viewport: 600, overscan: 10 });
    // Row 100 is at the top; 21 rows fit (20 and a partial one).
    expect(w).toEqual({ start: 90, end: 131, before: 90 * 30, after: (10_000 - 131) * 30 });
    expect(w.before + (w.end - w.start) * 30 + w.after).toBe(10_000 * 30);
  });

  it("starts at the top and stops at the end", () => {
    expect(windowOf({ count: 1_000, rowHeight: 20, scrollTop: 0, viewport: 200, overscan: 5 })).toEqual({
      start: 0,
      end: 16,
      before: 0,
      after: (1_000 - 16) * 20,
    });
    const last = windowOf({ count: 1_000, rowHeight: 20, scrollTop: 1_000 * 20 - 200, viewport: 200, overscan: 5 });
    expect(last.end).toBe(1_000);
    expect(last.after).toBe(0);
    expect(last.start).toBe(1_000 - 10 - 5);
  });

  it("copes with a scroll past the end (a list that shrank) and a view not measured yet", () => {
    const past = windowOf({ count: 50, rowHeight: 20, scrollTop: 99_999, viewport: 200, overscan: 5 });
    expect(past.end).toBe(50);
    expect(past.start).toBeLessThan(50);
    const unmeasured = windowOf({ count: 50, rowHeight: 20, scrollTop: 0, viewport: 0, overscan: 0 });
    expect(unmeasured.end).toBeGreaterThan(0);
    expect(windowOf({ count: 0, rowHeight: 20, scrollTop: 0, viewport: 200, overscan: 5 })).toEqual({
      start: 0,
      end: 0,
      before: 0,
      after: 0,
    });
  });

  it("changes only when the first row in view does", () => {
    const at = (scrollTop: number) => windowOf({ count: 500, rowHeight: 30, scrollTop, viewport: 300, overscan: 4 });
    expect(sameWindow(at(300), at(329))).toBe(true);
    expect(sameWindow(at(300), at(330))).toBe(false);
  });
});

describe("windowed", () => {
  it("windows only long lists", () => {
    expect(windowed(WINDOW_FROM)).toBe(false);
    expect(windowed(WINDOW_FROM + 1)).toBe(true);
    expect(windowed(3, 2)).toBe(true);
  });
});

describe("scrollToShow", () => {
  it("scrolls as little as shows the row", () => {
    expect(scrollToShow(5, 20, 0, 200)).toBe(0);
    expect(scrollToShow(10, 20, 0, 200)).toBe(20);
    expect(scrollToShow(2, 20, 100, 200)).toBe(40);
  });
});
