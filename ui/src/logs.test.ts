import { describe, expect, it } from "vitest";

import { appendLog, emptyLog, highlight, logText, searchLog } from "./logs";

describe("the log buffer", () => {
  it("joins chunks into whole lines and keeps the unfinished one", () => {
    let log = appendLog(emptyLog(), "one\ntw");
    expect(log.lines).toEqual(["one"]);
    expect(log.rest).toBe("tw");
    log = appendLog(log, "o\r\nthree\n");
    expect(log.lines).toEqual(["one", "two", "three"]);
    expect(log.rest).toBe("");
    expect(logText(log)).toBe("one\ntwo\nthree\n");
    expect(logText(appendLog(log, "four"))).toBe("one\ntwo\nthree\nfour");
  });

  it("drops the oldest lines past its bound and counts them", () => {
    const log = appendLog(appendLog(emptyLog(), "a\nb\nc\n", 2), "d\n", 2);
    expect(log.lines).toEqual(["c", "d"]);
    expect(log.dropped).toBe(2);
  });
});

describe("the log search", () => {
  it("keeps every line without a query", () => {
    expect(searchLog(["a", "b"], "").map((l) => l.number)).toEqual([1, 2]);
  });

  it("keeps the lines that contain the query, any case, marking each match", () => {
    const found = searchLog(["GET /a 200", "hello World", "world world"], "world");
    expect(found.map((l) => l.number)).toEqual([2, 3]);
    expect(found[0]?.pieces).toEqual([
      { text: "hello ", match: false },
      { text: "World", match: true },
    ]);
    expect(found[1]?.pieces.filter((p) => p.match).length).toBe(2);
  });

  it("marks a match at the start, at the end and an empty line", () => {
    expect(highlight("abab", "ab")).toEqual([
      { text: "ab", match: true },
      { text: "ab", match: true },
    ]);
    expect(highlight("", "x")).toEqual([{ text: "", match: false }]);
  });
});
