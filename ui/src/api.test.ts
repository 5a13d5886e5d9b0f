import { describe, expect, it } from "vitest";

import { ApiError, environmentPath, errorOf, isWrite, splitLines } from "./api";

describe("splitLines", () => {
  it("answers whole lines and keeps the unfinished rest", () => {
    expect(splitLines('{"a":1}\n{"b":2}\n{"c"')).toEqual({
      lines: ['{"a":1}', '{"b":2}'],
      rest: '{"c"',
    });
  });

  it("skips blank lines", () => {
    expect(splitLines("\n\n{}\n")).toEqual({ lines: ["{}"], rest: "" });
  });
});

describe("errorOf", () => {
  it("reads the API's error and the field it names", async () => {
    const response = new Response(JSON.stringify({ error: "scale: too big", field: "scale" }), {
      status: 400,
    });
    const error = await errorOf(response);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(400);
    expect(error.message).toBe("scale: too big");
    expect(error.field).toBe("scale");
  });

  it("falls back to the status and text of a body that is not the API's", async () => {
    const error = await errorOf(new Response("bad gateway", { status: 502 }));
    expect(error.message).toBe("502: bad gateway");
    expect(error.field).toBeUndefined();
  });
});

it("escapes environment names in paths", () => {
  expect(environmentPath("a b", "services")).toBe("/v1/environments/a%20b/services");
});

describe("the CSRF token", () => {
  it("goes with writes only", () => {
    expect(isWrite("GET")).toBe(false);
    expect(isWrite("head")).toBe(false);
    expect(isWrite("POST")).toBe(true);
    expect(isWrite("PUT")).toBe(true);
    expect(isWrite("DELETE")).toBe(true);
  });
});
