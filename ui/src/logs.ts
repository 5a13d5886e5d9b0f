// The log viewer's pure part: a bounded buffer of lines from streamed
// chunks, and the search that filters and marks them.

/** Lines kept at most; older ones are dropped (the download says so). */
export const MAX_LOG_LINES = 20_000;

export interface LogBuffer {
  /** Whole lines, oldest first. */
  lines: string[];
  /** The unfinished last line. */
  rest: string;
  /** Lines dropped from the front to stay under the bound. */
  dropped: number;
}

export function emptyLog(): LogBuffer {
  return { lines: [], rest: "", dropped: 0 };
}

/** The buffer after a chunk of text; a new object (the old one unchanged). */
export function appendLog(log: LogBuffer, chunk: string, max = MAX_LOG_LINES): LogBuffer {
  const parts = (log.rest + chunk).split("\n");
  const rest = parts.pop() ?? "";
  const lines = log.lines.concat(parts.map((line) => line.replace(/\r$/, "")));
  const over = Math.max(0, lines.length - max);
  return { lines: over > 0 ? lines.slice(over) : lines, rest, dropped: log.dropped + over };
}

/** Every line, the unfinished one included: what a download saves. */
export function logText(log: LogBuffer): string {
  const text = log.lines.join("\n");
  if (log.rest !== "") return text === "" ? log.rest : `${text}\n${log.rest}`;
  return text === "" ? "" : `${text}\n`;
}

/** A line as pieces, `match` true where the search matched. */
export interface Piece {
  text: string;
  match: boolean;
}

export interface FoundLine {
  /** Its number in the buffer (from 1, not counting dropped lines). */
  number: number;
  pieces: Piece[];
}

/** The pieces of `line` around each case-insensitive match of `query`. */
export function highlight(line: string, query: string): Piece[] {
  if (query === "") return [{ text: line, match: false }];
  const lower = line.toLowerCase();
  const needle = query.toLowerCase();
  const pieces: Piece[] = [];
  let from = 0;
  for (;;) {
    const at = lower.indexOf(needle, from);
    if (at < 0) break;
    if (at > from) pieces.push({ text: line.slice(from, at), match: false });
    pieces.push({ text: line.slice(at, at + needle.length), match: true });
    from = at + needle.length;
  }
  if (from < line.length || pieces.length === 0) pieces.push({ text: line.slice(from), match: false });
  return pieces;
}

/**
 * The lines to show: all of them without a query; with one, only the
 * lines containing it (case-insensitive), marked.
 */
export function searchLog(lines: readonly string[], query: string): FoundLine[] {
  const found: FoundLine[] = [];
  const needle = query.toLowerCase();
  lines.forEach((line, i) => {
    if (needle === "" || line.toLowerCase().includes(needle)) {
      found.push({ number: i + 1, pieces: highlight(line, query) });
    }
  });
  return found;
}
