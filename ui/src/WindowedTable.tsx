// A table that renders only the rows in view once it is long: the rows sit
// in a scrolling box of fixed row height, the rows above and below the view
// are one spacer row each (hidden from assistive technology), and the table
// says how many rows it has (`aria-rowcount`) and where each rendered row is
// (`aria-rowindex`). The box is focusable, so arrows, Page Up/Down, Home and
// End scroll it. Short lists are rendered whole, as a plain table.

import { useEffect, useRef, useState, type ReactElement, type ReactNode, type UIEvent } from "react";

import { sameWindow, windowed, windowOf, WINDOW_FROM } from "./windowing";

/** Rows rendered beyond the view, above and below. */
const OVERSCAN = 12;
/** The view's height before it is measured (the CSS's 32rem). */
const FIRST_VIEWPORT = 512;

export interface WindowedTableProps<T> {
  /** The id of the element naming the table (its section's heading). */
  labelledBy?: string;
  /** The table's name when no element names it. */
  label?: string;
  /** What the rows are, for the scrolling box's name ("Instances"). */
  what: string;
  columns: readonly string[];
  rows: readonly T[];
  rowKey: (row: T) => string;
  /** The cells of one row. */
  cells: (row: T) => ReactNode;
  /** Every row's height in pixels when windowed (CSS keeps cells to one line). */
  rowHeight?: number;
  /** Lists longer than this are windowed. */
  windowFrom?: number;
}

export function WindowedTable<T>({
  labelledBy,
  label,
  what,
  columns,
  rows,
  rowKey,
  cells,
  rowHeight = 33,
  windowFrom = WINDOW_FROM,
}: WindowedTableProps<T>): ReactElement {
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ scrollTop: 0, viewport: FIRST_VIEWPORT });
  const isWindowed = windowed(rows.length, windowFrom);
  const win = windowOf({ count: rows.length, rowHeight, scrollTop: view.scrollTop, viewport: view.viewport, overscan: OVERSCAN });

  // The view's height, measured and followed (the window's size changes it).
  useEffect(() => {
    const element = box.current;
    if (!isWindowed || !element) return;
    const measure = (): void => {
      setView((v) => (v.viewport === element.clientHeight ? v : { ...v, viewport: element.clientHeight }));
    };
    measure();
    if (typeof ResizeObserver !== "function") return;
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => { observer.disconnect(); };
  }, [isWindowed]);

  const head = (
    <thead>
      <tr aria-rowindex={isWindowed ? 1 : undefined}>
        {columns.map((c) => (
          <th key={c} scope="col">
            {c}
          </th>
        ))}
      </tr>
    </thead>
  );

  if (!isWindowed) {
    return (
      <table aria-labelledby={labelledBy} aria-label={label}>
        {head}
        <tbody>
          {rows.map((r) => (
            <tr key={rowKey(r)}>{cells(r)}</tr>
          ))}
        </tbody>
      </table>
    );
  }

  function onScroll(event: UIEvent<HTMLDivElement>): void {
    const { scrollTop, clientHeight } = event.currentTarget;
    const next = windowOf({ count: rows.length, rowHeight, scrollTop, viewport: clientHeight, overscan: OVERSCAN });
    // Only a change of the rows rendered renders again.
    if (!sameWindow(next, win) || clientHeight !== view.viewport) setView({ scrollTop, viewport: clientHeight });
  }

  const shown = rows.slice(win.start, win.end);
  return (
    <div
      ref={box}
      className="scroller"
      role="region"
      aria-label={`${what}: ${rows.length} rows, scroll for more`}
      tabIndex={0}
      onScroll={onScroll}
    >
      <table
        aria-labelledby={labelledBy}
        aria-label={label}
        aria-rowcount={rows.length + 1}
        className="windowed"
        style={{ ["--row-height" as string]: `${rowHeight}px` }}
      >
        {head}
        <tbody>
          {win.before > 0 && (
            <tr aria-hidden="true" className="spacer" style={{ height: win.before }}>
              <td colSpan={columns.length} />
            </tr>
          )}
          {shown.map((r, k) => (
            <tr key={rowKey(r)} aria-rowindex={win.start + k + 2}>
              {cells(r)}
            </tr>
          ))}
          {win.after > 0 && (
            <tr aria-hidden="true" className="spacer" style={{ height: win.after }}>
              <td colSpan={columns.length} />
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
