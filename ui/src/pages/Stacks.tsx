// Stacks of an environment: the live list with their services' counts and
// health, and Deploy (compose files pasted or uploaded; Plan is a dry run,
// Deploy is allowed only after a plan of exactly the text there is). A
// stack's page (`stack` set): its services with scale +/-, the graph of
// their links and dependencies, Redeploy, Export and Remove, and for a
// stack launched from the catalog its template, version, Upgrade and Roll
// back (AppPanel). Three streams while open (stacks, services, instances).

import { useMemo, useState, type ReactElement } from "react";

import { ApiError, type Client } from "../api";
import { Link } from "../Link";
import { countBy, instanceState, instancesByService, type InstanceObject } from "../model";
import { navigate, pathOf } from "../route";
import type { FullServiceObject } from "../serviceForm";
import {
  COMPOSE_FILE,
  composeName,
  downloadName,
  edgesOf,
  filesToSend,
  layers,
  lineOf,
  locate,
  nameError,
  planKey,
  servicesByStack,
  servicesOf,
  summarize,
  withFiles,
  type Edge,
  type Located,
  type SourceFile,
  type StackObject,
  type StackPlan,
} from "../stacks";
import { useLive } from "../useLive";
import { WindowedTable } from "../WindowedTable";
import { AppPanel } from "./AppPanel";
import { PlanView } from "./PlanView";
import { Counts, Scale, canChangeWorkloads } from "./Services";

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function stackPath(env: string, name: string): string {
  return `/v1/environments/${encodeURIComponent(env)}/stacks/${encodeURIComponent(name)}`;
}

interface DeployError {
  /** The file and line it points at, when the API names them. */
  at: Located | null;
  /** The API's field (`name`, `files`, `services.web`, ...). */
  field: string | undefined;
  message: string;
}

/** Paste or upload compose files, plan them, then deploy exactly what was planned. */
function Deploy({
  client,
  env,
  stack,
  initial,
}: {
  client: Client;
  env: string;
  /** The stack to redeploy (its name fixed); none for a new one. */
  stack?: string;
  initial?: SourceFile[];
}): ReactElement {
  const [name, setName] = useState(stack ?? "");
  const [files, setFiles] = useState<SourceFile[]>(() =>
    initial && initial.length > 0 ? withFiles([], initial) : [{ name: COMPOSE_FILE, content: "" }],
  );
  const [plan, setPlan] = useState<{ key: string; plan: StackPlan } | null>(null);
  const [deployed, setDeployed] = useState<StackPlan | null>(null);
  const [error, setError] = useState<DeployError | null>(null);
  const [busy, setBusy] = useState(false);
  const key = planKey(name, files);
  const planned = plan !== null && plan.key === key;
  const invalidName = stack === undefined && name !== "" ? nameError(name) : null;

  async function send(dryRun: boolean): Promise<void> {
    const problem = nameError(name);
    if (problem) {
      setError({ at: null, field: "name", message: `stack name ${problem}` });
      return;
    }
    const sent = filesToSend(files);
    if (sent.length === 0) {
      setError({ at: null, field: "files", message: "paste or upload a compose file first" });
      return;
    }
    setBusy(true);
    setError(null);
    setDeployed(null);
    const sentKey = planKey(name, sent);
    try {
      const result = await client.request<StackPlan>("POST", `${stackPath(env, name)}/deploy`, {
        files: sent,
        dry_run: dryRun,
      });
      if (dryRun) {
        setPlan({ key: sentKey, plan: result });
      } else {
        setPlan(null);
        setDeployed(result);
        if (stack === undefined) navigate(pathOf(env, { page: "stack", name }));
      }
    } catch (e) {
      if (dryRun) setPlan(null);
      const field = e instanceof ApiError ? e.field : undefined;
      setError({ at: locate(message(e), sent.map((f) => f.name)), field, message: message(e) });
    } finally {
      setBusy(false);
    }
  }

  async function upload(list: FileList | null): Promise<void> {
    if (!list) return;
    try {
      const read = await Promise.all([...list].map(async (f) => ({ name: f.name, content: await f.text() })));
      // An uploaded docker-compose file takes the place of an empty pasted one.
      const replacesPasted = read.some((f) => !/rancher-compose/i.test(f.name));
      setFiles((now) => withFiles(now.filter((f) => !(replacesPasted && f.name === COMPOSE_FILE && f.content === "")), read));
    } catch (e) {
      setError({ at: null, field: "files", message: `could not read the file: ${message(e)}` });
    }
  }

  // An error the API ties to no file: under the name, or under the buttons.
  const nameAlert = error && !error.at && (error.field === "name" || error.field === "meta.name");
  const generalAlert = error && !error.at && !nameAlert;

  return (
    <section aria-labelledby="deploy" className="panel deploy">
      <h2 id="deploy">{stack ? `Redeploy ${stack}` : "Deploy a stack"}</h2>
      {stack === undefined && (
        <div className="field">
          <label htmlFor="stack-name">Stack name</label>
          <input
            id="stack-name"
            value={name}
            aria-invalid={invalidName !== null || Boolean(nameAlert)}
            onChange={(e) => {
              setName(e.target.value);
            }}
          />
          {invalidName && <span className="hint">{invalidName}</span>}
          {nameAlert && (
            <span role="alert" className="error inline field-error">
              {error.message}
            </span>
          )}
        </div>
      )}
      {files.map((file, i) => {
        const at = error?.at?.file === file.name ? error.at : null;
        const id = `compose-${i}`;
        return (
          <div className="field compose-file" key={file.name}>
            <label htmlFor={id}>{file.name}</label>
            <textarea
              id={id}
              rows={Math.min(24, Math.max(8, file.content.split("\n").length + 1))}
              spellCheck={false}
              value={file.content}
              aria-invalid={at !== null}
              placeholder={i === 0 ? "services:\n  web:\n    image: nginx" : ""}
              onChange={(e) => {
                const content = e.target.value;
                setFiles((now) => now.map((f, j) => (j === i ? { ...f, content } : f)));
              }}
            />
            {i > 0 && (
              <button
                type="button"
                aria-label={`Remove ${file.name}`}
                onClick={() => {
                  setFiles((now) => now.filter((_, j) => j !== i));
                }}
              >
                Remove file
              </button>
            )}
            {at && (
              <div role="alert" className="error inline field-error">
                {file.name}, line {at.line}
                {at.key ? ` (${at.key})` : ""}: {at.message}
                {lineOf(file.content, at.line) !== null && <pre className="error-line">{lineOf(file.content, at.line)}</pre>}
              </div>
            )}
          </div>
        );
      })}
      <div className="toolbar">
        <label htmlFor="compose-upload">Upload compose files</label>
        <input
          id="compose-upload"
          type="file"
          multiple
          accept=".yml,.yaml,text/yaml"
          onChange={(e) => {
            void upload(e.target.files);
            e.target.value = "";
          }}
        />
      </div>
      <div className="toolbar">
        <button type="button" disabled={busy} onClick={() => void send(true)}>
          Plan
        </button>
        <button
          type="button"
          disabled={busy || !planned}
          title={planned ? "deploy what the plan shows" : "plan the files as they are first"}
          onClick={() => void send(false)}
        >
          Deploy
        </button>
        {plan && !planned && <span className="hint">the files changed since the plan: plan again</span>}
      </div>
      {generalAlert && (
        <p role="alert" className="error">
          {error.message}
        </p>
      )}
      {plan && planned && <PlanView plan={plan.plan} />}
      {deployed && <PlanView plan={deployed} />}
    </section>
  );
}

const BOX_W = 150;
const BOX_H = 28;
const GAP_X = 70;
const GAP_Y = 18;

/** The stack's services as boxes, the services they link to or depend on to their left. */
function Graph({ stack, nodes, edges }: { stack: string; nodes: string[]; edges: Edge[] }): ReactElement {
  const layer = layers(nodes, edges);
  const rows = new Map<number, number>();
  const at = new Map<string, { x: number; y: number }>();
  for (const n of nodes) {
    const l = layer.get(n) ?? 0;
    const r = rows.get(l) ?? 0;
    rows.set(l, r + 1);
    at.set(n, { x: 10 + l * (BOX_W + GAP_X), y: 10 + r * (BOX_H + GAP_Y) });
  }
  const width = 20 + (Math.max(0, ...layer.values()) + 1) * (BOX_W + GAP_X) - GAP_X;
  const height = 20 + Math.max(1, ...rows.values()) * (BOX_H + GAP_Y) - GAP_Y;
  return (
    <svg role="img" aria-label={`Links of stack ${stack}`} className="graph-links" width={width} height={height} viewBox={`0 0 ${width} ${height}`}>
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" />
        </marker>
      </defs>
      {edges.map((e, i) => {
        const from = at.get(e.from);
        const to = at.get(e.to);
        if (!from || !to) return null;
        return (
          <line
            key={i}
            className={`edge ${e.kind}`}
            x1={from.x}
            y1={from.y + BOX_H / 2}
            x2={to.x + BOX_W}
            y2={to.y + BOX_H / 2}
            markerEnd="url(#arrow)"
          />
        );
      })}
      {nodes.map((n) => {
        const p = at.get(n) ?? { x: 0, y: 0 };
        return (
          <g key={n}>
            <rect x={p.x} y={p.y} width={BOX_W} height={BOX_H} rx={4} className="node" />
            <text x={p.x + 8} y={p.y + BOX_H / 2 + 5}>
              {n}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

function download(file: SourceFile, fallback: string): void {
  const url = URL.createObjectURL(new Blob([file.content], { type: "text/yaml" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = downloadName(file.name, fallback);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 10_000);
}

function StackDetail({
  client,
  env,
  stack,
  services,
  instances,
  writable,
}: {
  client: Client;
  env: string;
  stack: StackObject;
  services: FullServiceObject[];
  instances: Map<string, InstanceObject[]>;
  writable: boolean;
}): ReactElement {
  const name = stack.meta.name;
  const [exported, setExported] = useState<SourceFile[] | null>(null);
  const [exportError, setExportError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [removeError, setRemoveError] = useState<string | null>(null);
  const [redeploying, setRedeploying] = useState(false);
  const nodes = services.map((s) => composeName(name, s.meta.name));
  const edges = edgesOf(name, services);
  const warnings = stack.status.warnings ?? [];

  async function exportFiles(): Promise<void> {
    setExportError(null);
    try {
      const files = await client.request<SourceFile[]>("GET", `${stackPath(env, name)}/export`);
      setExported(files);
      files.forEach((f, i) => {
        download(f, `${name}-${i + 1}.yml`);
      });
    } catch (e) {
      setExportError(message(e));
    }
  }

  async function remove(): Promise<void> {
    setRemoveError(null);
    try {
      await client.request<unknown>("DELETE", stackPath(env, name));
      navigate(pathOf(env, { page: "stacks" }));
    } catch (e) {
      setRemoveError(message(e));
    }
  }

  return (
    <>
      <section aria-labelledby="stack" className="panel">
        <h2 id="stack">Stack {name}</h2>
        <div className="toolbar">
          <button type="button" onClick={() => void exportFiles()}>
            Export
          </button>
          {writable && (
            <button type="button" aria-pressed={redeploying} onClick={() => { setRedeploying((r) => !r); }}>
              Redeploy
            </button>
          )}
          {writable && !confirming && (
            <button type="button" onClick={() => { setConfirming(true); }}>
              Remove
            </button>
          )}
        </div>
        {exportError && (
          <p role="alert" className="error">
            {exportError}
          </p>
        )}
        {confirming && (
          <div role="group" aria-label="Confirm removal" className="confirm">
            <p>
              Remove stack {name} and its {services.length} services with their containers?
            </p>
            <button type="button" onClick={() => void remove()}>
              Remove stack {name}
            </button>
            <button type="button" onClick={() => { setConfirming(false); }}>
              Cancel
            </button>
            {removeError && (
              <p role="alert" className="error">
                {removeError}
              </p>
            )}
          </div>
        )}
        {warnings.length > 0 && (
          <ul aria-label="Warnings" className="warnings">
            {warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        )}
        <WindowedTable
          label={`Services of ${name}`}
          what={`Services of ${name}`}
          columns={["Service", "Image", "Scale", "Instances", "Health", "Links", "Depends on"]}
          rows={services}
          rowKey={(s) => s.meta.name}
          rowHeight={44}
          cells={(s) => (
            <>
              <td>
                <Link to={pathOf(env, { page: "service", name: s.meta.name })}>{composeName(name, s.meta.name)}</Link>
              </td>
              <td>{s.spec.image}</td>
              <td>
                <Scale client={client} env={env} service={s} writable={writable} />
              </td>
              <td>
                <Counts counts={countBy(instances.get(s.meta.name) ?? [], instanceState)} />
              </td>
              <td>
                <span className={`pill ${s.status.health ?? ""}`}>{s.status.health || "–"}</span>
              </td>
              <td>{(s.spec.links ?? []).map((l) => (l.alias === l.service ? l.service : `${l.service} as ${l.alias}`)).join(", ")}</td>
              <td>{(s.spec.depends_on ?? []).map((d) => `${d.service} (${d.condition ?? "service_started"})`).join(", ")}</td>
            </>
          )}
        />
      </section>
      {stack.spec.app && <AppPanel client={client} env={env} stack={name} app={stack.spec.app} writable={writable} />}
      <section aria-labelledby="links" className="panel">
        <h2 id="links">Links</h2>
        {edges.length === 0 ? (
          <p className="empty">Its services declare no links or dependencies.</p>
        ) : (
          <>
            <Graph stack={name} nodes={nodes} edges={edges} />
            <ul aria-label="Links and dependencies">
              {edges.map((e, i) => (
                <li key={i}>
                  {e.from} → {e.to}: {e.kind === "link" ? `link${e.detail ? ` as ${e.detail}` : ""}` : `depends on (${e.detail})`}
                </li>
              ))}
            </ul>
          </>
        )}
      </section>
      {exported && (
        <section aria-label="Exported files" className="panel">
          <h2>Exported</h2>
          {exported.map((f) => (
            <details key={f.name}>
              <summary>{f.name}</summary>
              <pre className="exported">{f.content}</pre>
            </details>
          ))}
        </section>
      )}
      {redeploying && <Deploy client={client} env={env} stack={name} initial={stack.spec.files ?? []} />}
    </>
  );
}

export function Stacks({
  client,
  env,
  role,
  stack,
}: {
  client: Client;
  env: string;
  role: string;
  stack?: string;
}): ReactElement {
  const stacks = useLive<StackObject>(client, env, "stacks");
  const services = useLive<FullServiceObject>(client, env, "services");
  const instances = useLive<InstanceObject>(client, env, "instances");
  const byService = useMemo(() => instancesByService(instances.items), [instances.items]);
  const byStack = useMemo(() => servicesByStack(services.items), [services.items]);
  const writable = canChangeWorkloads(role);
  const failed = [stacks, services, instances].find((l) => l.status === "failed");
  const failure = failed && (
    <p role="alert" className="error">
      {failed.error}
    </p>
  );
  if (stack !== undefined) {
    const found = stacks.items.find((s) => s.meta.name === stack);
    return (
      <div className="stacks">
        {failure}
        {found ? (
          <StackDetail
            client={client}
            env={env}
            stack={found}
            services={servicesOf(stack, services.items)}
            instances={byService}
            writable={writable}
          />
        ) : (
          stacks.status !== "loading" && <p className="empty">No stack {stack} in {env}.</p>
        )}
      </div>
    );
  }
  return (
    <div className="stacks">
      <section aria-labelledby="stacks" className="panel">
        <h2 id="stacks">
          Stacks <span className="count">{stacks.items.length}</span>
        </h2>
        {failure}
        {stacks.items.length === 0 ? (
          stacks.status !== "loading" && <p className="empty">No stacks yet.</p>
        ) : (
          <WindowedTable
            labelledBy="stacks"
            what="Stacks"
            columns={["Stack", "Services", "Running", "Instances", "Health"]}
            rows={stacks.items}
            rowKey={(s) => s.meta.name}
            cells={(s) => {
              const own = byStack.get(s.meta.name) ?? [];
              const sum = summarize(own);
              const insts = own.flatMap((o) => byService.get(o.meta.name) ?? []);
              return (
                <>
                  <td>
                    <Link to={pathOf(env, { page: "stack", name: s.meta.name })}>{s.meta.name}</Link>
                  </td>
                  <td>{own.map((o) => composeName(s.meta.name, o.meta.name)).join(", ")}</td>
                  <td aria-label={`Running in ${s.meta.name}`}>
                    {sum.running} / {sum.scale}
                  </td>
                  <td>
                    <Counts counts={countBy(insts, instanceState)} />
                  </td>
                  <td>
                    <span className={`pill ${sum.health}`}>{sum.health}</span>
                  </td>
                </>
              );
            }}
          />
        )}
      </section>
      {writable && <Deploy client={client} env={env} />}
    </div>
  );
}
