// The exec WebSocket's frames (crates/api/src/exec.rs): binary messages
// are a stream id byte (0 stdin, 1 stdout, 2 stderr) then bytes; text
// messages are JSON controls.

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const PROTOCOL = "corral.exec.v1";
export const CSRF_PREFIX = "corral.csrf.";

/** A control from the server. */
export type ServerControl = { type: "exit"; code: number | null } | { type: "error"; message: string };

/** A binary message carrying `bytes` to the command's stdin. */
export function encodeStdin(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const frame = new Uint8Array(bytes.length + 1);
  frame[0] = STDIN;
  frame.set(bytes, 1);
  return frame;
}

/** A binary message from the server: its stream and bytes, or null if empty or unknown. */
export function decodeOutput(frame: Uint8Array): { stream: number; bytes: Uint8Array } | null {
  const stream = frame[0];
  if (stream !== STDOUT && stream !== STDERR) return null;
  return { stream, bytes: frame.subarray(1) };
}

export function resizeMessage(cols: number, rows: number): string {
  return JSON.stringify({ type: "resize", cols, rows });
}

export function closeStdinMessage(): string {
  return JSON.stringify({ type: "close_stdin" });
}

/** A text message from the server, or null when it is none we know. */
export function parseControl(text: string): ServerControl | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const record = value as Record<string, unknown>;
  if (record.type === "exit") {
    return { type: "exit", code: typeof record.code === "number" ? record.code : null };
  }
  if (record.type === "error") {
    return { type: "error", message: typeof record.message === "string" ? record.message : "the session failed" };
  }
  return null;
}

/** The socket's address: `wss://` (or `ws://`) beside the page, `command` split on spaces. */
export function execUrl(origin: string, env: string, instance: string, command: string[]): string {
  const base = origin.replace(/^http/, "ws");
  const query = new URLSearchParams();
  for (const arg of command) query.append("command", arg);
  query.set("tty", "true");
  query.set("stdin", "true");
  return `${base}/v1/environments/${encodeURIComponent(env)}/instances/${encodeURIComponent(instance)}/exec?${query.toString()}`;
}

/**
 * The subprotocols a browser offers: the protocol, and the session's CSRF
 * token (the session itself goes as its cookie; a WebSocket cannot send
 * headers, and an upgrade that starts a command is a write).
 */
export function execProtocols(csrf: string): string[] {
  return [PROTOCOL, CSRF_PREFIX + csrf];
}
