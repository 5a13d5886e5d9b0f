import { describe, expect, it } from "vitest";

import {
  closeStdinMessage,
  decodeOutput,
  encodeStdin,
  execProtocols,
  execUrl,
  parseControl,
  resizeMessage,
} from "./exec";

describe("exec frames", () => {
  it("puts stdin's id before the bytes", () => {
    expect([...encodeStdin(new TextEncoder().encode("ls\r"))]).toEqual([0, 108, 115, 13]);
  });

  it("reads stdout and stderr, and nothing else", () => {
    const out = decodeOutput(new Uint8Array([1, 104, 105]));
    expect(out?.stream).toBe(1);
    expect(new TextDecoder().decode(out?.bytes)).toBe("hi");
    expect(decodeOutput(new Uint8Array([2]))?.bytes.length).toBe(0);
    expect(decodeOutput(new Uint8Array([0, 1]))).toBeNull();
    expect(decodeOutput(new Uint8Array([]))).toBeNull();
  });

  it("writes the client's controls as the server reads them", () => {
    expect(JSON.parse(resizeMessage(80, 24))).toEqual({ type: "resize", cols: 80, rows: 24 });
    expect(JSON.parse(closeStdinMessage())).toEqual({ type: "close_stdin" });
  });

  it("reads the server's controls", () => {
    expect(parseControl('{"type":"exit","code":3}')).toEqual({ type: "exit", code: 3 });
    expect(parseControl('{"type":"exit","code":null}')).toEqual({ type: "exit", code: null });
    expect(parseControl('{"type":"error","message":"gone"}')).toEqual({ type: "error", message: "gone" });
    expect(parseControl('{"type":"other"}')).toBeNull();
    expect(parseControl("nope")).toBeNull();
  });

  it("addresses the socket beside the page, the CSRF token as a subprotocol", () => {
    expect(execUrl("https://h:7480", "dev", "web-1", ["sh"])).toBe(
      "wss://h:7480/v1/environments/dev/instances/web-1/exec?command=sh&tty=true&stdin=true",
    );
    expect(execProtocols("9f3c")).toEqual(["corral.exec.v1", "corral.csrf.9f3c"]);
  });
});
