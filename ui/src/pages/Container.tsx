// A container (an instance) of an environment: its state, a log viewer
// that streams, a shell in the browser, and live stats graphs. Three
// streams while open (the instances' watch, the log, the stats) and the
// shell's WebSocket; all closed when the page is left.

import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { useEffect, useMemo, useRef, useState, type ReactElement } from "react";

import { ApiError, type Client } from "../api";
import {
  closeStdinMessage,
  decodeOutput,
  encodeStdin,
  execProtocols,
  execUrl,
  parseControl,
  resizeMessage,
} from "../exec";
import { Link } from "../Link";
import { appendLog, emptyLog, logText, searchLog, type LogBuffer } from "../logs";
import { formatBytes, instanceHealth, instanceState, type InstanceObject } from "../model";
import { pathOf } from "../route";
import { StatsGraph } from "../StatsGraph";
import { MINUTE, KEEP_MS, WINDOWS, addSample, formatRate, parseStatsLine, windowOf, type StatsSample, type WindowMinutes } from "../stats";
import { useLive } from "../useLive";

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function instancePath(env: string, name: string): string {
  return `/v1/environments/${encodeURIComponent(env)}/instances/${encodeURIComponent(name)}`;
}

function portsOf(instance: InstanceObject): string {
  const ports = instance.spec.launch?.ports ?? [];
  if (ports.length === 0) return "–";
  return ports
    .map((p) => `${p.host_port ? `${p.host_port}:` : ""}${p.container_port}/${p.protocol ?? "tcp"}`)
    .join(", ");
}

// ---- Logs ----

const TAIL = 1000;

function LogViewer({ client, env, name }: { client: Client; env: string; name: string }): ReactElement {
  const [log, setLog] = useState<LogBuffer>(emptyLog);
  const [follow, setFollow] = useState(true);
  const [query, setQuery] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const box = useRef<HTMLPreElement>(null);

  useEffect(() => {
    // Follow off: the stream closed (the cleanup below), the lines stay.
    if (!follow) return;
    const abort = new AbortController();
    // Following again starts over from the last lines.
    setLog(emptyLog());
    setError(null);
    setLoading(true);
    client
      .stream(
        `${instancePath(env, name)}/logs?follow=true&tail=${TAIL}`,
        (text) => { setLog((l) => appendLog(l, text)); },
        abort.signal,
      )
      .then(
        () => { setLoading(false); },
        (e: unknown) => {
          if (abort.signal.aborted) return;
          setLoading(false);
          setError(message(e));
        },
      );
    return () => {
      abort.abort();
      setLoading(false);
    };
  }, [client, env, name, follow]);

  // Following: keep the newest line in view.
  useEffect(() => {
    const el = box.current;
    if (follow && el) el.scrollTop = el.scrollHeight;
  }, [log, follow]);

  const found = useMemo(() => searchLog(log.lines, query), [log.lines, query]);

  function download(): void {
    const blob = new Blob([logText(log)], { type: "text/plain" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `${name}.log`;
    a.click();
    URL.revokeObjectURL(url);
  }

  return (
    <section aria-labelledby="logs" className="panel">
      <h2 id="logs">
        Logs <span className="count">{log.lines.length} lines</span>
        {loading && follow && <span className="badge">following</span>}
      </h2>
      <div className="toolbar">
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => { setFollow(e.target.checked); }} /> Follow
        </label>
        <label>
          Search <input type="search" value={query} onChange={(e) => { setQuery(e.target.value); }} />
        </label>
        {query !== "" && <span className="count">{found.length} matching</span>}
        <button type="button" onClick={download} disabled={log.lines.length === 0 && log.rest === ""}>
          Download
        </button>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {log.dropped > 0 && <p className="empty">{log.dropped} older lines dropped.</p>}
      <pre className="log" ref={box} aria-label="Log lines" tabIndex={0}>
        {found.map((line) => (
          <div key={line.number} className="line">
            {line.pieces.map((p, i) => (p.match ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
          </div>
        ))}
        {query === "" && log.rest !== "" && <div className="line">{log.rest}</div>}
      </pre>
    </section>
  );
}

// ---- Shell ----

type ShellState =
  | { state: "closed" }
  | { state: "connecting" }
  | { state: "open" }
  | { state: "exited"; code: number | null }
  | { state: "failed"; error: string };

/**
 * What the API says about an exec the browser's WebSocket could not open
 * (it shows no status nor body): the same address asked over fetch, whose
 * gate answers a refusal (403 for a read-only user) with its error.
 */
async function whyRefused(client: Client, env: string, name: string): Promise<string> {
  // Asked twice: a first answer lost to a connection the socket's failure
  // closed is not the server's reason.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await client.request<unknown>("GET", `${instancePath(env, name)}/exec?command=sh&tty=true&stdin=true`);
    } catch (e) {
      // Any answer of the API is its reason (403 for a read-only user, 404,
      // 409 for an instance not running, ...).
      if (e instanceof ApiError) return e.message;
    }
  }
  return "the shell could not connect (the server refused it or the connection failed)";
}

function Shell({ client, env, name }: { client: Client; env: string; name: string }): ReactElement {
  const [shell, setShell] = useState<ShellState>({ state: "closed" });
  const [session, setSession] = useState(0);
  const host = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = host.current;
    if (session === 0 || !el || !client.csrf) return;
    const term = new Terminal({ convertEol: false, cursorBlink: true, fontSize: 14 });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    const socket = new WebSocket(execUrl(window.location.origin, env, name, ["sh"]), execProtocols(client.csrf));
    socket.binaryType = "arraybuffer";
    const encoder = new TextEncoder();
    const decoder = new TextDecoder();
    let opened = false;
    let ended = false;
    setShell({ state: "connecting" });

    const resize = (): void => {
      try {
        fit.fit();
      } catch {
        // Not laid out yet.
      }
      if (socket.readyState === WebSocket.OPEN) socket.send(resizeMessage(term.cols, term.rows));
    };
    const observer = new ResizeObserver(resize);
    observer.observe(el);
    window.addEventListener("resize", resize);

    socket.onopen = () => {
      opened = true;
      setShell({ state: "open" });
      resize();
      term.focus();
    };
    socket.onmessage = (event: MessageEvent<ArrayBuffer | string>) => {
      if (typeof event.data === "string") {
        const control = parseControl(event.data);
        if (control?.type === "exit") {
          ended = true;
          setShell({ state: "exited", code: control.code });
        } else if (control?.type === "error") {
          ended = true;
          setShell({ state: "failed", error: control.message });
        }
        return;
      }
      const out = decodeOutput(new Uint8Array(event.data));
      if (out) term.write(decoder.decode(out.bytes, { stream: true }));
    };
    socket.onclose = () => {
      if (ended) return;
      if (!opened) {
        void whyRefused(client, env, name).then((error) => { setShell({ state: "failed", error }); });
      } else {
        setShell({ state: "failed", error: "the connection closed before the command ended" });
      }
    };
    const input = term.onData((data) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(encodeStdin(encoder.encode(data)));
    });

    return () => {
      ended = true;
      input.dispose();
      observer.disconnect();
      window.removeEventListener("resize", resize);
      if (socket.readyState === WebSocket.OPEN) socket.send(closeStdinMessage());
      socket.close();
      term.dispose();
    };
  }, [client, env, name, session]);

  const running = shell.state === "connecting" || shell.state === "open";
  return (
    <section aria-labelledby="shell" className="panel">
      <h2 id="shell">Shell</h2>
      <div className="toolbar">
        {!running && (
          <button type="button" onClick={() => { setSession((s) => s + 1); }}>
            {session === 0 ? "Open shell" : "Open a new shell"}
          </button>
        )}
        {running && (
          <button type="button" onClick={() => { setSession(0); setShell({ state: "closed" }); }}>
            Close shell
          </button>
        )}
        <span role="status" className="shell-state">
          {shell.state === "connecting" && "connecting…"}
          {shell.state === "open" && "connected: sh"}
          {shell.state === "exited" && `exited with code ${shell.code ?? "unknown"}`}
        </span>
      </div>
      {shell.state === "failed" && (
        <p role="alert" className="error">
          {shell.error}
        </p>
      )}
      {session > 0 && <div className="terminal" ref={host} aria-label="Terminal" />}
    </section>
  );
}

// ---- Stats ----

function useInstanceStats(
  client: Client,
  env: string,
  name: string,
): { series: StatsSample[]; error: string | null } {
  const [series, setSeries] = useState<StatsSample[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    setSeries([]);
    setError(null);
    const since = Date.now() - KEEP_MS;
    const path = `/v1/environments/${encodeURIComponent(env)}/stats?instance=${encodeURIComponent(name)}&since_ms=${since}&follow=true`;
    client
      .streamLines(
        path,
        (line) => {
          const sample = parseStatsLine(line);
          if (sample?.kind === "instance" && sample.name === name) setSeries((s) => addSample(s, sample));
        },
        abort.signal,
      )
      .catch((e: unknown) => {
        if (!abort.signal.aborted) setError(message(e));
      });
    return () => { abort.abort(); };
  }, [client, env, name]);
  return { series, error };
}

function useNow(everyMs: number): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => { setNow(Date.now()); }, everyMs);
    return () => { clearInterval(timer); };
  }, [everyMs]);
  return now;
}

function Stats({ client, env, name }: { client: Client; env: string; name: string }): ReactElement {
  const { series, error } = useInstanceStats(client, env, name);
  const [minutes, setMinutes] = useState<WindowMinutes>(5);
  const now = useNow(5000);
  const windowMs = minutes * MINUTE;
  // The newest sample may be a little ahead of this browser's clock.
  const end = Math.max(now, series[series.length - 1]?.time_ms ?? 0);
  const shown = windowOf(series, end, windowMs);
  const common = { samples: shown, nowMs: end, windowMs };
  return (
    <section aria-labelledby="stats" className="panel">
      <h2 id="stats">Stats</h2>
      <div className="toolbar" role="group" aria-label="Window">
        {WINDOWS.map((m) => (
          <button key={m} type="button" aria-pressed={m === minutes} onClick={() => { setMinutes(m); }}>
            {m} min
          </button>
        ))}
        {series.length === 0 && !error && <span className="empty">waiting for the first sample…</span>}
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <div className="graphs">
        <StatsGraph
          title="CPU"
          {...common}
          floor={1}
          format={(v) => `${v.toFixed(1)} %`}
          lines={[{ label: "cpu", value: (s) => s.cpu_percent, className: "a" }]}
        />
        <StatsGraph
          title="Memory"
          {...common}
          floor={1024 * 1024}
          format={(v) => formatBytes(v)}
          lines={[{ label: "used", value: (s) => s.memory_bytes, className: "a" }]}
        />
        <StatsGraph
          title="Network"
          {...common}
          floor={1024}
          format={formatRate}
          lines={[
            { label: "rx", value: (s) => s.net_rx_bytes_per_s, className: "a" },
            { label: "tx", value: (s) => s.net_tx_bytes_per_s, className: "b" },
          ]}
        />
        <StatsGraph
          title="Disk"
          {...common}
          floor={1024}
          format={formatRate}
          lines={[
            { label: "read", value: (s) => s.disk_read_bytes_per_s, className: "a" },
            { label: "write", value: (s) => s.disk_write_bytes_per_s, className: "b" },
          ]}
        />
      </div>
    </section>
  );
}

// ---- The page ----

export function Container({ client, env, name }: { client: Client; env: string; name: string }): ReactElement {
  const instances = useLive<InstanceObject>(client, env, "instances");
  const instance = instances.items.find((i) => i.meta.name === name);
  return (
    <div className="container-page">
      <h2 className="page-title">
        Container {name}
      </h2>
      <section aria-labelledby="status" className="panel">
        <h2 id="status">Status</h2>
        {instances.status === "failed" && (
          <p role="alert" className="error">
            {instances.error}
          </p>
        )}
        {instance ? (
          <dl className="facts">
            <dt>Service</dt>
            <dd>
              <Link to={pathOf(env, { page: "service", name: instance.spec.service })}>{instance.spec.service}</Link>
            </dd>
            <dt>State</dt>
            <dd className={`state ${instanceState(instance)}`}>{instanceState(instance)}</dd>
            <dt>Health</dt>
            <dd>{instanceHealth(instance)}</dd>
            <dt>Host</dt>
            <dd>{instance.spec.node || "–"}</dd>
            <dt>Ports</dt>
            <dd>{portsOf(instance)}</dd>
            <dt>Restarts</dt>
            <dd>{instance.status?.restarts ?? 0}</dd>
            <dt>Reason</dt>
            <dd className="reason">{instance.status?.reason || "–"}</dd>
          </dl>
        ) : (
          instances.status !== "loading" && <p className="empty">No instance {name} in {env}.</p>
        )}
      </section>
      <LogViewer client={client} env={env} name={name} />
      <Shell client={client} env={env} name={name} />
      <Stats client={client} env={env} name={name} />
    </div>
  );
}
