// A small Markdown renderer for the catalog's READMEs: the text is parsed
// into blocks and inline nodes, which become React elements. Nothing of it
// is read as HTML: a `<script>` in a README is text, as React renders text.
// What it knows: ATX and setext headings, paragraphs, `-`/`*`/`+` and
// `1.` lists (nested by indentation), block quotes, fenced and indented
// code, rules, inline code, bold, italic, links (only http, https and
// relative URLs; others are their text) and images (their alt text: a
// template's README should not make the browser fetch from elsewhere).

import { createElement, Fragment, useMemo, type ReactElement, type ReactNode } from "react";

export type Inline =
  | { type: "text"; text: string }
  | { type: "code"; text: string }
  | { type: "strong"; children: Inline[] }
  | { type: "em"; children: Inline[] }
  /** `href` is one that `safeUrl` accepted. */
  | { type: "link"; href: string; children: Inline[] }
  | { type: "break" };

export type Block =
  | { type: "heading"; level: number; children: Inline[] }
  | { type: "paragraph"; children: Inline[] }
  | { type: "code"; lang: string; text: string }
  /** A tight list's items show their first paragraph without `<p>`. */
  | { type: "list"; ordered: boolean; start: number; tight: boolean; items: Block[][] }
  | { type: "quote"; children: Block[] }
  | { type: "rule" };

/** Deeper than this, quotes, lists and emphasis are read as text (hostile input must not exhaust the stack). */
const MAX_DEPTH = 16;

function isControl(c: string): boolean {
  const code = c.codePointAt(0) ?? 0;
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

/**
 * The URL a link may go to, or null: http and https, and relative ones
 * (no scheme). Whitespace and control characters refuse it, as browsers
 * drop them (`java\tscript:` is `javascript:` to them).
 */
export function safeUrl(url: string): string | null {
  const trimmed = url.trim();
  if (trimmed === "" || Array.from(trimmed).some((c) => /\s/.test(c) || isControl(c))) return null;
  // A scheme is what comes before the first ":" when no "/", "?" or "#" comes first.
  const scheme = /^([^/?#]*?):/.exec(trimmed);
  if (scheme === null) return trimmed;
  return /^https?$/i.test(scheme[1] ?? "") ? trimmed : null;
}

// ---- blocks ----

const FENCE = /^( {0,3})(`{3,}|~{3,})(.*)$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$/;
const RULE = /^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$/;
const ITEM = /^( {0,3})([-*+]|(\d{1,9})[.)])(?:([ \t]+)(.*))?$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;

function isBlank(line: string): boolean {
  return line.trim() === "";
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

/** Leading tabs as spaces (to the next multiple of 4), so indentation is counted in spaces. */
function expandTabs(line: string): string {
  let out = "";
  let i = 0;
  for (; i < line.length && (line[i] === " " || line[i] === "\t"); i += 1) {
    out += line[i] === "\t" ? " ".repeat(4 - (out.length % 4)) : " ";
  }
  return out + line.slice(i);
}

interface ItemStart {
  indent: number;
  ordered: boolean;
  start: number;
  /** Where the item's content starts (its continuation lines' indentation). */
  width: number;
  content: string;
}

function itemAt(line: string): ItemStart | null {
  const m = ITEM.exec(line);
  if (m === null || RULE.test(line)) return null;
  const indent = (m[1] ?? "").length;
  const marker = m[2] ?? "";
  const spaces = (m[4] ?? "").length;
  const content = m[5] ?? "";
  // Five spaces or more after the marker: the content is indented code, one space is the marker's.
  const gap = content === "" ? 1 : spaces > 4 ? 1 : spaces;
  return {
    indent,
    ordered: m[3] !== undefined,
    start: m[3] !== undefined ? Number(m[3]) : 1,
    width: indent + marker.length + gap,
    content: spaces > 4 ? " ".repeat(spaces - 1) + content : content,
  };
}

/** Whether `line` starts a block other than a paragraph (so it ends one). */
function interrupts(line: string): boolean {
  if (FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line)) return true;
  const item = itemAt(line);
  // As in CommonMark: an empty item, or a numbered one not starting at 1, does not break a paragraph.
  return item !== null && item.content.trim() !== "" && (!item.ordered || item.start === 1);
}

/** The Markdown `text` as blocks. */
export function parseMarkdown(text: string): Block[] {
  return parseBlocks(text.replace(/\r\n?/g, "\n").split("\n").map(expandTabs), 0);
}

function parseBlocks(lines: string[], depth: number): Block[] {
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? "";
    if (isBlank(line)) {
      i += 1;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence !== null && !(fence[2]?.startsWith("`") && fence[3]?.includes("`"))) {
      const indent = (fence[1] ?? "").length;
      const mark = fence[2] ?? "";
      const closing = new RegExp(`^ {0,3}${mark[0] === "`" ? "`" : "~"}{${mark.length},}[ \\t]*$`);
      const body: string[] = [];
      i += 1;
      while (i < lines.length && !closing.test(lines[i] ?? "")) {
        const l = lines[i] ?? "";
        // The fence's own indentation is taken off its lines.
        body.push(l.slice(Math.min(indent, indentOf(l))));
        i += 1;
      }
      i += 1;
      const lang = /^[\w+#.-]*/.exec((fence[3] ?? "").trim())?.[0] ?? "";
      blocks.push({ type: "code", lang, text: body.join("\n") });
      continue;
    }
    if (indentOf(line) >= 4) {
      const body: string[] = [];
      while (i < lines.length && (isBlank(lines[i] ?? "") || indentOf(lines[i] ?? "") >= 4)) {
        body.push((lines[i] ?? "").slice(4));
        i += 1;
      }
      while (body.length > 0 && isBlank(body[body.length - 1] ?? "")) body.pop();
      blocks.push({ type: "code", lang: "", text: body.join("\n") });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading !== null) {
      // A closing run of # is not part of the heading.
      const content = (heading[2] ?? "").replace(/(^|[ \t]+)#+$/, "");
      blocks.push({ type: "heading", level: (heading[1] ?? "#").length, children: parseInline(content, depth) });
      i += 1;
      continue;
    }
    if (RULE.test(line)) {
      blocks.push({ type: "rule" });
      i += 1;
      continue;
    }
    if (QUOTE.test(line) && depth < MAX_DEPTH) {
      const body: string[] = [];
      while (i < lines.length) {
        const l = lines[i] ?? "";
        const q = QUOTE.exec(l);
        if (q !== null) body.push(q[1] ?? "");
        // A lazy line continues the quote's paragraph.
        else if (!isBlank(l) && !interrupts(l) && !isBlank(body[body.length - 1] ?? "")) body.push(l);
        else break;
        i += 1;
      }
      blocks.push({ type: "quote", children: parseBlocks(body, depth + 1) });
      continue;
    }
    const item = itemAt(line);
    if (item !== null && depth < MAX_DEPTH) {
      const list = parseList(lines, i, item, depth);
      blocks.push(list.block);
      i = list.end;
      continue;
    }
    // A paragraph: up to a blank line or another block; a setext underline makes it a heading.
    const text: string[] = [line.trimStart()];
    i += 1;
    let level = 0;
    while (i < lines.length) {
      const l = lines[i] ?? "";
      if (isBlank(l)) break;
      const setext = SETEXT.exec(l);
      if (setext !== null) {
        level = setext[1]?.startsWith("=") ? 1 : 2;
        i += 1;
        break;
      }
      if (interrupts(l)) break;
      // Trailing spaces are kept: two of them are a hard line break.
      text.push(l.trimStart());
      i += 1;
    }
    const children = parseInline(text.join("\n").trimEnd(), depth);
    blocks.push(level > 0 ? { type: "heading", level, children } : { type: "paragraph", children });
  }
  return blocks;
}

/** The list starting at `lines[from]`: its items' blocks, and the line after it. */
function parseList(lines: string[], from: number, first: ItemStart, depth: number): { block: Block; end: number } {
  const items: Block[][] = [];
  let tight = true;
  let i = from;
  let item = first;
  for (;;) {
    const body: string[] = [item.content];
    i += 1;
    while (i < lines.length) {
      const l = lines[i] ?? "";
      if (isBlank(l)) {
        // A blank line stays in the item only when indented content follows it.
        let next = i;
        while (next < lines.length && isBlank(lines[next] ?? "")) next += 1;
        if (next >= lines.length || indentOf(lines[next] ?? "") < item.width) break;
        for (; i < next; i += 1) body.push("");
        continue;
      }
      if (indentOf(l) >= item.width) body.push(l.slice(item.width));
      // A lazy line continues the item's paragraph.
      else if (!isBlank(body[body.length - 1] ?? "") && !interrupts(l) && itemAt(l) === null) body.push(l.trimStart());
      else break;
      i += 1;
    }
    if (body.slice(0, -1).some((b, at) => isBlank(b) && !isBlank(body[at + 1] ?? ""))) tight = false;
    items.push(parseBlocks(body, depth + 1));
    // The next item: after blank lines (which loosen the list), of the same kind.
    let next = i;
    while (next < lines.length && isBlank(lines[next] ?? "")) next += 1;
    const following = next < lines.length ? itemAt(lines[next] ?? "") : null;
    if (following === null || following.ordered !== first.ordered || following.indent >= first.width) break;
    if (next > i) tight = false;
    i = next;
    item = following;
  }
  return { block: { type: "list", ordered: first.ordered, start: first.start, tight, items }, end: i };
}

// ---- inline ----

const PUNCTUATION = /^[!-/:-@[-`{-~]$/;

function runLength(src: string, at: number, char: string): number {
  let n = 0;
  while (src[at + n] === char) n += 1;
  return n;
}

/** The code span opening at `at` (a run of backticks): its text and end, or null when no run of the same length closes it. */
function codeSpanAt(src: string, at: number): { text: string; end: number } | null {
  const n = runLength(src, at, "`");
  let j = at + n;
  while (j < src.length) {
    if (src[j] !== "`") {
      j += 1;
      continue;
    }
    const m = runLength(src, j, "`");
    if (m === n) {
      let text = src.slice(at + n, j).replace(/\n/g, " ");
      if (text.length > 2 && text.startsWith(" ") && text.endsWith(" ") && text.trim() !== "") text = text.slice(1, -1);
      return { text, end: j + n };
    }
    j += m;
  }
  return null;
}

interface LinkParts {
  label: string;
  url: string;
  end: number;
}

/** `[label](url "title")` at `at` (a "["), or null. */
function linkAt(src: string, at: number): LinkParts | null {
  let depth = 0;
  let j = at;
  for (; j < src.length; j += 1) {
    const c = src[j];
    if (c === "\\") j += 1;
    else if (c === "`") {
      const span = codeSpanAt(src, j);
      if (span !== null) j = span.end - 1;
      else j += runLength(src, j, "`") - 1;
    } else if (c === "[") depth += 1;
    else if (c === "]") {
      depth -= 1;
      if (depth === 0) break;
    }
  }
  if (j >= src.length || src[j + 1] !== "(") return null;
  const label = src.slice(at + 1, j);
  let k = j + 2;
  while (src[k] === " " || src[k] === "\n") k += 1;
  let url: string;
  if (src[k] === "<") {
    const close = src.indexOf(">", k);
    if (close < 0 || /[<\n]/.test(src.slice(k + 1, close))) return null;
    url = src.slice(k + 1, close);
    k = close + 1;
  } else {
    let parens = 0;
    const begin = k;
    for (; k < src.length; k += 1) {
      const c = src[k] ?? "";
      if (c === "\\" && PUNCTUATION.test(src[k + 1] ?? "")) k += 1;
      else if (c === "(") parens += 1;
      else if (c === ")") {
        if (parens === 0) break;
        parens -= 1;
      } else if (/\s/.test(c)) break;
    }
    url = src.slice(begin, k);
  }
  while (src[k] === " " || src[k] === "\n") k += 1;
  const quote = src[k];
  if (quote === '"' || quote === "'" || quote === "(") {
    const close = src.indexOf(quote === "(" ? ")" : quote, k + 1);
    if (close < 0) return null;
    k = close + 1;
    while (src[k] === " " || src[k] === "\n") k += 1;
  }
  if (src[k] !== ")") return null;
  return { label, url: url.replace(/\\([!-/:-@[-`{-~])/g, "$1"), end: k + 1 };
}

function isSpace(c: string | undefined): boolean {
  return c === undefined || /\s/.test(c);
}

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && /[\p{L}\p{N}]/u.test(c);
}

interface InlineContext {
  src: string;
  depth: number;
  inLink: boolean;
  /** Emphasis found (or not) at a position, each looked for once. */
  emphasis: Map<number, { node: Inline; end: number } | null>;
}

/** Whether the run of `char` at `at` may open emphasis. */
function opens(src: string, at: number, run: number, char: string): boolean {
  if (isSpace(src[at + run])) return false;
  // An underscore inside a word (snake_case) is no emphasis.
  return char === "*" || !isWordChar(src[at - 1]);
}

/** Whether the run of `char` at `at` may close emphasis. */
function closes(src: string, at: number, run: number, char: string): boolean {
  if (isSpace(src[at - 1])) return false;
  return char === "*" || !isWordChar(src[at + run]);
}

/** Bold, italic or both opening at `at`, with where it ends; null when nothing closes it. */
function emphasisAt(ctx: InlineContext, at: number, nesting: number): { node: Inline; end: number } | null {
  const known = ctx.emphasis.get(at);
  if (known !== undefined) return known;
  const { src } = ctx;
  const char = src[at] ?? "";
  const n = runLength(src, at, char);
  if (n > 3 || nesting > MAX_DEPTH || !opens(src, at, n, char)) return null;
  let found: { node: Inline; end: number } | null = null;
  let j = at + n;
  while (j < src.length && found === null) {
    const c = src[j];
    if (c === "\\") {
      j += 2;
    } else if (c === "`") {
      j = codeSpanAt(src, j)?.end ?? j + runLength(src, j, "`");
    } else if (c === char) {
      const m = runLength(src, j, char);
      if (m >= n && closes(src, j, m, char)) {
        // The run's last n characters close it: `*a **b***` is em(a, strong(b)).
        const close = j + m - n;
        const inner = parseInlineIn({ ...ctx, src: src.slice(at + n, close), emphasis: new Map() }, ctx.depth + 1);
        const node: Inline =
          n === 1 ? { type: "em", children: inner } : n === 2 ? { type: "strong", children: inner } : { type: "strong", children: [{ type: "em", children: inner }] };
        found = { node, end: close + n };
      } else if (opens(src, j, m, char)) {
        // Another emphasis inside: skip over it whole.
        j = emphasisAt(ctx, j, nesting + 1)?.end ?? j + m;
      } else {
        j += m;
      }
    } else {
      j += 1;
    }
  }
  ctx.emphasis.set(at, found);
  return found;
}

/** The inline nodes of a paragraph's or heading's text. */
export function parseInline(src: string, depth = 0): Inline[] {
  return parseInlineIn({ src, depth, inLink: false, emphasis: new Map() }, depth);
}

function parseInlineIn(ctx: InlineContext, depth: number): Inline[] {
  const { src } = ctx;
  if (depth > MAX_DEPTH) return src === "" ? [] : [{ type: "text", text: src }];
  const here: InlineContext = { ...ctx, depth };
  const out: Inline[] = [];
  let text = "";
  const flush = (): void => {
    if (text !== "") out.push({ type: "text", text });
    text = "";
  };
  let i = 0;
  while (i < src.length) {
    const c = src[i] ?? "";
    if (c === "\\") {
      const next = src[i + 1] ?? "";
      if (next === "\n") {
        flush();
        out.push({ type: "break" });
        i += 2;
      } else if (PUNCTUATION.test(next)) {
        text += next;
        i += 2;
      } else {
        text += c;
        i += 1;
      }
      continue;
    }
    if (c === "`") {
      const span = codeSpanAt(src, i);
      if (span !== null) {
        flush();
        out.push({ type: "code", text: span.text });
        i = span.end;
      } else {
        const n = runLength(src, i, "`");
        text += src.slice(i, i + n);
        i += n;
      }
      continue;
    }
    if (c === "\n") {
      // Two spaces or more before a newline: a hard break; else a soft one (a space when shown).
      const hard = / {2,}$/.test(text);
      text = text.replace(/ +$/, "");
      if (hard) {
        flush();
        out.push({ type: "break" });
      } else {
        text += "\n";
      }
      i += 1;
      while (src[i] === " ") i += 1;
      continue;
    }
    if (c === "!" && src[i + 1] === "[") {
      const image = linkAt(src, i + 1);
      if (image !== null) {
        // An image is its alt text: nothing is fetched.
        flush();
        out.push(...parseInlineIn({ ...here, src: image.label, inLink: true, emphasis: new Map() }, depth + 1));
        i = image.end;
        continue;
      }
    }
    if (c === "[" && !ctx.inLink) {
      const link = linkAt(src, i);
      if (link !== null) {
        flush();
        const children = parseInlineIn({ ...here, src: link.label, inLink: true, emphasis: new Map() }, depth + 1);
        const href = safeUrl(link.url);
        // A link to anywhere else (javascript:, data:, …) is its text.
        if (href === null) out.push(...children);
        else out.push({ type: "link", href, children });
        i = link.end;
        continue;
      }
    }
    if (c === "<" && !ctx.inLink) {
      const auto = /^<(https?:\/\/[^\s<>]+)>/i.exec(src.slice(i));
      if (auto !== null) {
        flush();
        const href = auto[1] ?? "";
        out.push({ type: "link", href, children: [{ type: "text", text: href }] });
        i += auto[0].length;
        continue;
      }
    }
    if (c === "*" || c === "_") {
      const emphasis = emphasisAt(here, i, 0);
      const n = runLength(src, i, c);
      if (emphasis !== null) {
        flush();
        out.push(emphasis.node);
        i = emphasis.end;
      } else {
        text += src.slice(i, i + n);
        i += n;
      }
      continue;
    }
    text += c;
    i += 1;
  }
  flush();
  return out;
}

// ---- rendering ----

function renderInline(nodes: readonly Inline[]): ReactNode[] {
  return nodes.map((node, i) => {
    switch (node.type) {
      case "text":
        return node.text;
      case "code":
        return <code key={i}>{node.text}</code>;
      case "strong":
        return <strong key={i}>{renderInline(node.children)}</strong>;
      case "em":
        return <em key={i}>{renderInline(node.children)}</em>;
      case "link":
        return (
          <a key={i} href={node.href} rel="noopener noreferrer" target="_blank">
            {renderInline(node.children)}
          </a>
        );
      case "break":
        return <br key={i} />;
    }
  });
}

function renderBlocks(blocks: readonly Block[], headingOffset: number, tight = false): ReactNode[] {
  return blocks.map((block, i) => {
    switch (block.type) {
      case "heading":
        return createElement(`h${Math.min(6, block.level + headingOffset)}`, { key: i }, ...renderInline(block.children));
      case "paragraph":
        return tight ? <Fragment key={i}>{renderInline(block.children)}</Fragment> : <p key={i}>{renderInline(block.children)}</p>;
      case "code":
        return (
          <pre key={i}>
            <code className={block.lang ? `language-${block.lang}` : undefined}>{block.text}</code>
          </pre>
        );
      case "list": {
        const items = block.items.map((item, j) => <li key={j}>{renderBlocks(item, headingOffset, block.tight)}</li>);
        return block.ordered ? (
          <ol key={i} start={block.start === 1 ? undefined : block.start}>
            {items}
          </ol>
        ) : (
          <ul key={i}>{items}</ul>
        );
      }
      case "quote":
        return <blockquote key={i}>{renderBlocks(block.children, headingOffset)}</blockquote>;
      case "rule":
        return <hr key={i} />;
    }
  });
}

/**
 * `text` as Markdown. `headingOffset` moves its headings down, so that a
 * README's `#` is under the page's own headings (`h1` + 2 is `h3`).
 */
export function Markdown({ text, headingOffset = 0 }: { text: string; headingOffset?: number }): ReactElement {
  const blocks = useMemo(() => parseMarkdown(text), [text]);
  return <div className="markdown">{renderBlocks(blocks, headingOffset)}</div>;
}
