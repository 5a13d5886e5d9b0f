import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";

import { Markdown, parseInline, parseMarkdown, safeUrl } from "./markdown";

function html(text: string, headingOffset = 0): string {
  return renderToStaticMarkup(<Markdown text={text} headingOffset={headingOffset} />);
}

describe("markdown blocks", () => {
  it("reads headings, paragraphs and rules", () => {
    expect(parseMarkdown("# Title\n\nSome text\nwrapped.\n\n### Third ###\n\n---\n####### seven")).toEqual([
      { type: "heading", level: 1, children: [{ type: "text", text: "Title" }] },
      { type: "paragraph", children: [{ type: "text", text: "Some text\nwrapped." }] },
      { type: "heading", level: 3, children: [{ type: "text", text: "Third" }] },
      { type: "rule" },
      { type: "paragraph", children: [{ type: "text", text: "####### seven" }] },
    ]);
    expect(html("#no space")).toBe('<div class="markdown"><p>#no space</p></div>');
    expect(html("Title\n=====\nSub\n---")).toBe('<div class="markdown"><h1>Title</h1><h2>Sub</h2></div>');
  });

  it("moves headings down by the offset, never past h6", () => {
    expect(html("# Hello\n\n###### Deep", 2)).toBe('<div class="markdown"><h3>Hello</h3><h6>Deep</h6></div>');
  });

  it("reads fenced and indented code as it is", () => {
    expect(parseMarkdown("```yaml\nkey: *value*\n  <b>x</b>\n```\nafter")).toEqual([
      { type: "code", lang: "yaml", text: "key: *value*\n  <b>x</b>" },
      { type: "paragraph", children: [{ type: "text", text: "after" }] },
    ]);
    expect(parseMarkdown("~~~~\n```\n~~~~")).toEqual([{ type: "code", lang: "", text: "```" }]);
    expect(parseMarkdown("text\n\n    docker run\n\n      -it\n\nmore")).toEqual([
      { type: "paragraph", children: [{ type: "text", text: "text" }] },
      { type: "code", lang: "", text: "docker run\n\n  -it" },
      { type: "paragraph", children: [{ type: "text", text: "more" }] },
    ]);
    // An unclosed fence runs to the end.
    expect(parseMarkdown("```\nopen")).toEqual([{ type: "code", lang: "", text: "open" }]);
    expect(html("```sh\necho <hi>\n```")).toBe('<div class="markdown"><pre><code class="language-sh">echo &lt;hi&gt;</code></pre></div>');
  });

  it("reads bullet and numbered lists, tight and loose, nested by indentation", () => {
    expect(html("- one\n- two\n  continued\n* three")).toBe("<div class=\"markdown\"><ul><li>one</li><li>two\ncontinued</li><li>three</li></ul></div>");
    expect(html("1. first\n2. second")).toBe('<div class="markdown"><ol><li>first</li><li>second</li></ol></div>');
    expect(html("3) third\n4) fourth")).toBe('<div class="markdown"><ol start="3"><li>third</li><li>fourth</li></ol></div>');
    expect(html("- a\n\n- b")).toBe('<div class="markdown"><ul><li><p>a</p></li><li><p>b</p></li></ul></div>');
    expect(html("- outer\n  - inner\n  - inner 2\n- after")).toBe(
      '<div class="markdown"><ul><li>outer<ul><li>inner</li><li>inner 2</li></ul></li><li>after</li></ul></div>',
    );
    expect(html("1. step\n\n   ```\n   code\n   ```\n2. next")).toBe(
      '<div class="markdown"><ol><li><p>step</p><pre><code>code</code></pre></li><li><p>next</p></li></ol></div>',
    );
    // A paragraph is not broken by a number that is not 1.
    expect(html("In\n2016. it was")).toBe('<div class="markdown"><p>In\n2016. it was</p></div>');
    expect(html("Text\n- item")).toBe('<div class="markdown"><p>Text</p><ul><li>item</li></ul></div>');
  });

  it("reads block quotes", () => {
    expect(html("> quoted\nlazy\n\n> # head")).toBe(
      '<div class="markdown"><blockquote><p>quoted\nlazy</p></blockquote><blockquote><h1>head</h1></blockquote></div>',
    );
  });

  it("takes Windows line ends and tabs", () => {
    expect(html("# A\r\n\r\n-\tb\r\n")).toBe('<div class="markdown"><h1>A</h1><ul><li>b</li></ul></div>');
  });
});

describe("markdown inline", () => {
  it("reads code, bold and italic", () => {
    expect(parseInline("`corral-whoami` is **bold** and *it* and _it_")).toEqual([
      { type: "code", text: "corral-whoami" },
      { type: "text", text: " is " },
      { type: "strong", children: [{ type: "text", text: "bold" }] },
      { type: "text", text: " and " },
      { type: "em", children: [{ type: "text", text: "it" }] },
      { type: "text", text: " and " },
      { type: "em", children: [{ type: "text", text: "it" }] },
    ]);
    expect(html("**a *b* c** and *a **b** c* and ***both***")).toBe(
      '<div class="markdown"><p><strong>a <em>b</em> c</strong> and <em>a <strong>b</strong> c</em> and <strong><em>both</em></strong></p></div>',
    );
  });

  it("leaves what does not close, snake_case and code's insides alone", () => {
    expect(html("a * b, 2*3, **open, snake_case_name, `*not*` and ``a ` b``")).toBe(
      '<div class="markdown"><p>a * b, 2*3, **open, snake_case_name, <code>*not*</code> and <code>a ` b</code></p></div>',
    );
    expect(html("\\*literal\\* and \\`tick")).toBe('<div class="markdown"><p>*literal* and `tick</p></div>');
  });

  it("makes line breaks from two trailing spaces or a backslash", () => {
    expect(html("one  \ntwo\\\nthree")).toBe('<div class="markdown"><p>one<br/>two<br/>three</p></div>');
  });

  it("links http, https and relative URLs, opened apart from this page", () => {
    expect(html("[docs](https://example.com/a_(b)) and [here](docs/x.md \"title\") <http://example.org>")).toBe(
      '<div class="markdown"><p><a href="https://example.com/a_(b)" rel="noopener noreferrer" target="_blank">docs</a> and ' +
        '<a href="docs/x.md" rel="noopener noreferrer" target="_blank">here</a> ' +
        '<a href="http://example.org" rel="noopener noreferrer" target="_blank">http://example.org</a></p></div>',
    );
    expect(html("[**bold** link](/x)")).toBe('<div class="markdown"><p><a href="/x" rel="noopener noreferrer" target="_blank"><strong>bold</strong> link</a></p></div>');
    expect(html("[not a link] (x)")).toBe('<div class="markdown"><p>[not a link] (x)</p></div>');
  });

  it("shows an image as its alt text, fetching nothing", () => {
    expect(html("![the *logo*](https://example.com/logo.png) end")).toBe('<div class="markdown"><p>the <em>logo</em> end</p></div>');
  });
});

describe("hostile markdown", () => {
  it("shows HTML as text", () => {
    const out = html('<script>alert(1)</script>\n\n<img src=x onerror="alert(1)">\n\n# <b>bold</b>');
    expect(out).not.toMatch(/<script|<img|<b>/);
    expect(out).toBe(
      '<div class="markdown"><p>&lt;script&gt;alert(1)&lt;/script&gt;</p><p>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</p><h1>&lt;b&gt;bold&lt;/b&gt;</h1></div>',
    );
  });

  it("makes no link of javascript:, data: and the like, however written", () => {
    for (const url of ["javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:x", "java\tscript:alert(1)", "<javascript:alert(1)>", "file:///etc/passwd"]) {
      const out = html(`[click](${url})`);
      expect(out, url).not.toContain("<a");
      expect(out, url).not.toMatch(/href/);
    }
    expect(html("[click](javascript:alert(1))")).toBe('<div class="markdown"><p>click</p></div>');
    expect(html("<javascript:alert(1)>")).toBe('<div class="markdown"><p>&lt;javascript:alert(1)&gt;</p></div>');
    expect(html("![x](javascript:alert(1))")).toBe('<div class="markdown"><p>x</p></div>');
  });

  it("accepts only http, https and relative URLs", () => {
    expect(safeUrl("https://example.com")).toBe("https://example.com");
    expect(safeUrl("HTTP://example.com")).toBe("HTTP://example.com");
    expect(safeUrl("docs/a.md")).toBe("docs/a.md");
    expect(safeUrl("/a:b")).toBe("/a:b");
    expect(safeUrl("#part")).toBe("#part");
    expect(safeUrl("javascript:alert(1)")).toBeNull();
    expect(safeUrl("mailto:a@example.com")).toBeNull();
    expect(safeUrl("java\nscript:alert(1)")).toBeNull();
    expect(safeUrl("\u0000javascript:alert(1)")).toBeNull();
    expect(safeUrl("")).toBeNull();
  });

  it("does not exhaust the stack on deep nesting or many openers", () => {
    const deep = ">".repeat(5000) + " x";
    expect(() => html(deep)).not.toThrow();
    const lists = Array.from({ length: 300 }, (_, i) => `${" ".repeat(i * 2)}- x`).join("\n");
    expect(() => html(lists)).not.toThrow();
    const stars = "*a ".repeat(3000);
    const start = Date.now();
    expect(html(stars)).toContain("*a *a");
    expect(html("[".repeat(3000) + "x")).toContain("[[[");
    expect(Date.now() - start).toBeLessThan(5000);
  });
});
