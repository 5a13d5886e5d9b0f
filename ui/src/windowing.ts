// Which rows of a long list to render: the ones in the scrolled view plus a
// margin, with the height of the rows left out above and below (so the
// scroll bar keeps the whole list's size). Rows have one fixed height.

/** Lists this long or shorter are rendered whole. */
export const WINDOW_FROM = 200;

export interface WindowInput {
  /** Rows in the list. */
  count: number;
  /** The height of every row, in pixels (> 0). */
  rowHeight: number;
  /** How far the rows' box is scrolled, in pixels. */
  scrollTop: number;
  /** The height of the visible part of the rows' box, in pixels. */
  viewport: number;
  /** Rows rendered beyond the view, above and below. */
  overscan: number;
}

export interface RowWindow {
  /** The first row rendered (0-based). */
  start: number;
  /** One past the last row rendered. */
  end: number;
  /** The height of the rows not rendered above, and below. */
  before: number;
  after: number;
}

/** Whether a list of `count` rows is windowed rather than rendered whole. */
export function windowed(count: number, from: number = WINDOW_FROM): boolean {
  return count > from;
}

/** The rows to render for a view scrolled to `scrollTop`. */
export function windowOf({ count, rowHeight, scrollTop, viewport, overscan }: WindowInput): RowWindow {
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0, before: 0, after: 0 };
  const top = Math.max(0, scrollTop);
  const first = Math.min(count - 1, Math.floor(top / rowHeight));
  const visible = Math.ceil(Math.max(viewport, rowHeight) / rowHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + visible + overscan);
  return { start, end, before: start * rowHeight, after: (count - end) * rowHeight };
}

/** Whether two windows render the same rows (a scroll within a row changes nothing). */
export function sameWindow(a: RowWindow, b: RowWindow): boolean {
  return a.start === b.start && a.end === b.end && a.before === b.before && a.after === b.after;
}

/** The scroll position that shows row `index` (0-based) in a view of `viewport` pixels, moving as little as can be. */
export function scrollToShow(index: number, rowHeight: number, scrollTop: number, viewport: number): number {
  const top = index * rowHeight;
  if (top < scrollTop) return top;
  if (top + rowHeight > scrollTop + viewport) return top + rowHeight - viewport;
  return scrollTop;
}
