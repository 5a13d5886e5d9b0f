// The typed client of Corral's HTTP API: JSON over fetch with the session's
// cookie (sent by the browser; scripts never see it) and its CSRF token on
// every write, and watches read as JSON lines from a streamed response.

/** The envelope every object has (crates/types/src/meta.rs). */
export interface Meta {
  environment: string;
  name: string;
  uid: string;
  revision: number;
  generation: number;
  labels: Record<string, string>;
  created: string;
}

export interface ApiObject<S = unknown, T = unknown> {
  kind: string;
  meta: Meta;
  spec: S;
  status: T;
}

export interface ListResponse<O> {
  items: O[];
  revision: number;
}

export type WatchEventType = "created" | "updated" | "deleted" | "bookmark" | "expired";

export interface WatchEvent<O> {
  type: WatchEventType;
  object: O;
}

export interface LoginResponse {
  /** The session's CSRF token (a cookie login: the token itself is only in the cookie). */
  csrf_token: string;
  user: string;
  provider: string;
  expires: string;
}

export interface EnvironmentRole {
  environment: string;
  role: string;
}

export interface WhoAmI {
  user: string;
  admin: boolean;
  method: string;
  environments: EnvironmentRole[];
  /** What `corral agent --ca-fingerprint` pins (absent from older servers). */
  ca_fingerprint?: string;
  /** The session cookie's CSRF token (when the request came by cookie). */
  csrf_token?: string;
}

/** The kinds the dashboard follows, by their path segment. */
export type Plural = "nodes" | "stacks" | "services" | "instances" | "certificates";

/** An answer of the API that is not a success, with the field it names. */
export class ApiError extends Error {
  readonly status: number;
  readonly field: string | undefined;

  constructor(status: number, message: string, field?: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.field = field;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** The error the API answered (`{"error": ..., "field": ...}`), or the status line. */
export async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => "");
  try {
    const body: unknown = JSON.parse(text);
    if (isRecord(body) && typeof body.error === "string") {
      const field = typeof body.field === "string" ? body.field : undefined;
      return new ApiError(response.status, body.error, field);
    }
  } catch {
    // Not JSON: the status line says what there is to say.
  }
  const reason = text.trim() || response.statusText || "request failed";
  return new ApiError(response.status, `${response.status}: ${reason}`);
}

/**
 * Splits streamed text into whole lines: answers the complete lines and the
 * unfinished rest, which the caller prepends to the next chunk.
 */
export function splitLines(buffered: string): { lines: string[]; rest: string } {
  const parts = buffered.split("\n");
  const rest = parts.pop() ?? "";
  return { lines: parts.filter((line) => line.trim() !== ""), rest };
}

export function environmentPath(env: string, plural: Plural): string {
  return `/v1/environments/${encodeURIComponent(env)}/${plural}`;
}

/** Whether a request of `method` changes something (and so carries the CSRF token). */
export function isWrite(method: string): boolean {
  return !["GET", "HEAD", "OPTIONS"].includes(method.toUpperCase());
}

export class Client {
  readonly base: string;
  /** The session's CSRF token; null before login. */
  readonly csrf: string | null;

  constructor(base: string, csrf: string | null) {
    this.base = base;
    this.csrf = csrf;
  }

  private headers(method: string, json: boolean): Headers {
    const headers = new Headers({ accept: "application/json" });
    if (json) headers.set("content-type", "application/json");
    if (this.csrf && isWrite(method)) headers.set("x-csrf-token", this.csrf);
    return headers;
  }

  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const response = await fetch(this.base + path, {
      method,
      headers: this.headers(method, body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
    if (!response.ok) throw await errorOf(response);
    const text = await response.text();
    return (text ? JSON.parse(text) : null) as T;
  }

  /** A cookie login: the server sets the session cookie and answers its CSRF token. */
  login(username: string, password: string): Promise<LoginResponse> {
    return this.request<LoginResponse>("POST", "/v1/login", { username, password, cookie: true });
  }

  async logout(): Promise<void> {
    await this.request<unknown>("POST", "/v1/logout");
  }

  whoami(signal?: AbortSignal): Promise<WhoAmI> {
    return this.request<WhoAmI>("GET", "/v1/whoami", undefined, signal);
  }

  list<O>(env: string, plural: Plural, signal?: AbortSignal): Promise<ListResponse<O>> {
    return this.request<ListResponse<O>>("GET", environmentPath(env, plural), undefined, signal);
  }

  /**
   * Reads a streamed answer (logs, stats) chunk by chunk as text until it
   * ends or `signal` aborts; rejects with the API's error.
   */
  async stream(path: string, onText: (text: string) => void, signal: AbortSignal): Promise<void> {
    const response = await fetch(this.base + path, {
      headers: this.headers("GET", false),
      credentials: "same-origin",
      signal,
    });
    if (!response.ok) throw await errorOf(response);
    if (!response.body) throw new ApiError(0, "the answer has no body");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onText(value);
    }
  }

  /** `stream`, cut into whole lines. */
  async streamLines(path: string, onLine: (line: string) => void, signal: AbortSignal): Promise<void> {
    let rest = "";
    await this.stream(
      path,
      (text) => {
        const split = splitLines(rest + text);
        rest = split.rest;
        for (const line of split.lines) onLine(line);
      },
      signal,
    );
  }

  /**
   * Follows the events after `revision` until the stream ends (the server
   * stopped, `signal` aborted, or after an `expired` event), calling `onEvent`
   * for each. Resolves when the stream ends; rejects on an API error.
   */
  watch<O>(
    env: string,
    plural: Plural,
    revision: number,
    onEvent: (event: WatchEvent<O>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    return this.watchPath(environmentPath(env, plural), revision, onEvent, signal);
  }

  /** `watch` of any list the API answers at `path` (members, users, API keys). */
  async watchPath<O>(
    listPath: string,
    revision: number,
    onEvent: (event: WatchEvent<O>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const path = `${listPath}?watch=true&revision=${revision}`;
    const response = await fetch(this.base + path, {
      headers: this.headers("GET", false),
      credentials: "same-origin",
      signal,
    });
    if (!response.ok) throw await errorOf(response);
    if (!response.body) throw new ApiError(0, "the watch answered without a body");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      const split = splitLines(rest + value);
      rest = split.rest;
      for (const line of split.lines) onEvent(JSON.parse(line) as WatchEvent<O>);
    }
  }
}
