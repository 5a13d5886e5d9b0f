// The hosts of an environment: each node's state, labels, capacity, live
// CPU/memory/disk bars (one stream of every node's samples), the
// instances on it; drain, activate, remove; Add Host with the one-line
// command and a fresh registration token. Three streams while open.

import { useEffect, useMemo, useState, type ReactElement } from "react";

import type { Client } from "../api";
import { Link } from "../Link";
import { formatBytes, instanceState, instancesByNode, type InstanceObject, type NodeObject } from "../model";
import { pathOf } from "../route";
import { parseStatsLine, percentOf, type StatsLine } from "../stats";
import { useLive } from "../useLive";
import { WindowedTable } from "../WindowedTable";

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Roles that may change hosts (the API decides; this only hides buttons). */
export function canWrite(role: string): boolean {
  return role === "owner" || role === "member" || role === "admin";
}

function Bar({ label, percent, text }: { label: string; percent: number; text: string }): ReactElement {
  return (
    <div className="bar-row">
      <span className="bar-label">{label}</span>
      <meter
        aria-label={label}
        min={0}
        max={100}
        value={percent}
        high={85}
        optimum={0}
      />
      <span className="bar-text">{text}</span>
    </div>
  );
}

function useNodeStats(client: Client, env: string): { latest: ReadonlyMap<string, StatsLine>; error: string | null } {
  const [latest, setLatest] = useState<ReadonlyMap<string, StatsLine>>(new Map());
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    setLatest(new Map());
    setError(null);
    client
      .streamLines(
        `/v1/environments/${encodeURIComponent(env)}/stats?nodes=true&follow=true`,
        (line) => {
          const sample = parseStatsLine(line);
          if (sample?.kind !== "node") return;
          setLatest((m) => {
            const old = m.get(sample.name);
            if (old && old.time_ms > sample.time_ms) return m;
            return new Map(m).set(sample.name, sample);
          });
        },
        abort.signal,
      )
      .catch((e: unknown) => {
        if (!abort.signal.aborted) setError(message(e));
      });
    return () => { abort.abort(); };
  }, [client, env]);
  return { latest, error };
}

/** The line `corral host add-command` prints (crates/cli/src/host.rs). */
export function agentCommand(origin: string, fingerprint: string, token: string): string {
  const pin = fingerprint ? ` --ca-fingerprint ${fingerprint}` : "";
  return `corral agent --server ${origin}${pin} --registration-token ${token}`;
}

interface TokenCreated {
  id: string;
  token: string;
  expires?: string;
}

function AddHost({ client, env, fingerprint }: { client: Client; env: string; fingerprint: string }): ReactElement {
  const [created, setCreated] = useState<TokenCreated | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  async function create(): Promise<void> {
    setError(null);
    setCopied(false);
    try {
      setCreated(
        await client.request<TokenCreated>("POST", `/v1/environments/${encodeURIComponent(env)}/tokens`, {
          ttl_s: 86_400,
        }),
      );
    } catch (e) {
      setError(message(e));
    }
  }
  const command = created ? agentCommand(window.location.origin, fingerprint, created.token) : "";
  return (
    <section aria-labelledby="add-host" className="panel">
      <h2 id="add-host">Add Host</h2>
      <p>
        Run the command on the new host (with Docker): it joins {env} with a registration token that expires in a day.
      </p>
      <button type="button" onClick={() => void create()}>
        {created ? "New token" : "Make the command"}
      </button>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {created && (
        <div className="command">
          <label>
            Command
            <input readOnly value={command} aria-label="Command" onFocus={(e) => { e.target.select(); }} />
          </label>
          <button
            type="button"
            onClick={() => {
              navigator.clipboard.writeText(command).then(
                () => { setCopied(true); },
                (e: unknown) => { setError(`copy failed: ${message(e)}`); },
              );
            }}
          >
            Copy
          </button>
          {copied && <span role="status">copied</span>}
          <p className="empty">
            {created.expires ? `Valid until ${created.expires}. ` : ""}`corral token rm {created.id} -E {env}` revokes it.
          </p>
        </div>
      )}
    </section>
  );
}

function HostCard({
  client,
  env,
  node,
  instances,
  sample,
  writable,
}: {
  client: Client;
  env: string;
  node: NodeObject;
  instances: InstanceObject[];
  sample: StatsLine | undefined;
  writable: boolean;
}): ReactElement {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const name = node.meta.name;
  const base = `/v1/environments/${encodeURIComponent(env)}/nodes/${encodeURIComponent(name)}`;
  async function act(method: string, path: string): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      await client.request<unknown>(method, path);
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  }
  async function remove(): Promise<void> {
    if (!window.confirm(`Remove host ${name}? Its instances are rescheduled.`)) return;
    const force = instances.length > 0 && node.status.state === "active";
    await act("DELETE", force ? `${base}?force=true` : base);
  }
  const cores = (node.status.cpu_millis ?? 0) / 1000;
  const cpu = sample ? percentOf(sample.cpu_percent, cores * 100 || 100) : 0;
  const labels = Object.entries(node.meta.labels);
  const state = `${node.status.state ?? "joining"}${node.spec.draining ? " (draining)" : node.spec.unschedulable ? " (cordoned)" : ""}`;
  return (
    <article className="panel host" aria-labelledby={`host-${name}`}>
      <h3 id={`host-${name}`}>
        {name} <span className={`pill ${node.status.state ?? ""}`}>{state}</span>
      </h3>
      <p className="facts-line">
        {node.status.address ?? ""} · {cores ? `${cores} cores` : "–"} · {formatBytes(node.status.memory_bytes)}
        {labels.length > 0 && (
          <span className="labels">
            {labels.map(([k, v]) => (
              <span key={k} className="pill">
                {k}={v}
              </span>
            ))}
          </span>
        )}
      </p>
      {sample ? (
        <div className="bars">
          <Bar label={`CPU of ${name}`} percent={cpu} text={`${sample.cpu_percent.toFixed(1)} % of a core`} />
          <Bar
            label={`Memory of ${name}`}
            percent={percentOf(sample.memory_bytes, sample.memory_limit_bytes)}
            text={`${formatBytes(sample.memory_bytes)} of ${formatBytes(sample.memory_limit_bytes)}`}
          />
          <Bar
            label={`Disk of ${name}`}
            percent={percentOf(sample.disk_used_bytes ?? 0, sample.disk_total_bytes ?? 0)}
            text={`${formatBytes(sample.disk_used_bytes)} of ${formatBytes(sample.disk_total_bytes)}`}
          />
        </div>
      ) : (
        <p className="empty">No stats yet.</p>
      )}
      {writable && (
        <div className="toolbar">
          {node.spec.draining || node.spec.unschedulable ? (
            <button type="button" disabled={busy} onClick={() => void act("POST", `${base}/activate`)}>
              Activate {name}
            </button>
          ) : (
            <button type="button" disabled={busy} onClick={() => void act("POST", `${base}/drain`)}>
              Drain {name}
            </button>
          )}
          <button type="button" disabled={busy} onClick={() => void remove()}>
            Remove {name}
          </button>
        </div>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <h4>Instances {instances.length}</h4>
      <WindowedTable
        label={`Instances on ${name}`}
        what={`Instances on ${name}`}
        columns={["Instance", "State"]}
        rows={instances}
        rowKey={(i) => i.meta.name}
        cells={(i) => (
          <>
            <td>
              <Link to={pathOf(env, { page: "instance", name: i.meta.name })}>{i.meta.name}</Link>
            </td>
            <td className={`state ${instanceState(i)}`}>{instanceState(i)}</td>
          </>
        )}
      />
    </article>
  );
}

export function Hosts({
  client,
  env,
  role,
  fingerprint,
}: {
  client: Client;
  env: string;
  role: string;
  /** The server's CA fingerprint (`whoami`), for the Add Host command. */
  fingerprint: string;
}): ReactElement {
  const nodes = useLive<NodeObject>(client, env, "nodes");
  const instances = useLive<InstanceObject>(client, env, "instances");
  const { latest, error } = useNodeStats(client, env);
  const byNode = useMemo(() => instancesByNode(instances.items), [instances.items]);
  const writable = canWrite(role);
  return (
    <div className="hosts">
      <h2 className="page-title">
        Hosts <span className="count">{nodes.items.length}</span>
      </h2>
      {nodes.status === "failed" && (
        <p role="alert" className="error">
          {nodes.error}
        </p>
      )}
      {error && (
        <p role="alert" className="error">
          stats: {error}
        </p>
      )}
      {nodes.items.length === 0 && nodes.status !== "loading" && <p className="empty">No hosts yet.</p>}
      {nodes.items.map((n) => (
        <HostCard
          key={n.meta.name}
          client={client}
          env={env}
          node={n}
          instances={byNode.get(n.meta.name) ?? []}
          sample={latest.get(n.meta.name)}
          writable={writable}
        />
      ))}
      {writable && <AddHost client={client} env={env} fingerprint={fingerprint} />}
    </div>
  );
}
