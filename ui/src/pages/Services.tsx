// Services of an environment: the list with scale +/- and "Create service",
// and one service's page (`service` set): its instances (links to each
// container), "Edit" (the service form), upgrade progress per batch,
// history and rollback. Two streams while open.

import { useMemo, useState, type ReactElement } from "react";

import type { Client } from "../api";
import { Link } from "../Link";
import { upgradeProgress, type FullServiceObject } from "../serviceForm";
import { ServiceForm } from "./ServiceForm";
import {
  countBy,
  instanceHealth,
  instanceState,
  instancesByService,
  type InstanceObject,
  type ServiceObject,
} from "../model";
import { navigate, pathOf } from "../route";
import { useLive } from "../useLive";
import { WindowedTable } from "../WindowedTable";

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Roles that may change workloads (the API decides; this hides buttons). */
export function canChangeWorkloads(role: string): boolean {
  return role !== "read-only";
}

function servicePath(env: string, name: string): string {
  return `/v1/environments/${encodeURIComponent(env)}/services/${encodeURIComponent(name)}`;
}

export function Scale({
  client,
  env,
  service,
  writable,
}: {
  client: Client;
  env: string;
  service: ServiceObject;
  writable: boolean;
}): ReactElement {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const name = service.meta.name;
  const scale = service.spec.scale ?? 0;
  if (service.spec.mode === "global") return <span>global</span>;
  async function set(to: number): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      await client.request<unknown>("POST", `${servicePath(env, name)}/scale`, { scale: to });
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  }
  return (
    <span className="scale-control">
      {writable && (
        <button type="button" aria-label={`Scale ${name} down`} disabled={busy || scale === 0} onClick={() => void set(scale - 1)}>
          −
        </button>
      )}
      <span aria-label={`Scale of ${name}`}>{scale}</span>
      {writable && (
        <button type="button" aria-label={`Scale ${name} up`} disabled={busy} onClick={() => void set(scale + 1)}>
          +
        </button>
      )}
      {error && (
        <span role="alert" className="error inline">
          {error}
        </span>
      )}
    </span>
  );
}

export function Counts({ counts }: { counts: [string, number][] }): ReactElement {
  return (
    <span className="counts">
      {counts.map(([key, n]) => (
        <span key={key} className={`pill ${key}`}>
          {n} {key}
        </span>
      ))}
    </span>
  );
}

function ServiceDetail({
  client,
  env,
  service,
  instances,
  writable,
}: {
  client: Client;
  env: string;
  service: FullServiceObject;
  instances: InstanceObject[];
  writable: boolean;
}): ReactElement {
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState(false);
  const name = service.meta.name;
  const upgrade = service.status.upgrade;
  const history = service.status.history ?? [];
  const progress = upgradeProgress(service, instances);
  async function act(verb: "rollback" | "pause" | "resume"): Promise<void> {
    setError(null);
    try {
      await client.request<unknown>("POST", `${servicePath(env, name)}/${verb}`);
    } catch (e) {
      setError(message(e));
    }
  }
  return (
    <>
      {editing && (
        <ServiceForm
          client={client}
          env={env}
          service={service}
          onDone={() => { setEditing(false); }}
          onCancel={() => { setEditing(false); }}
        />
      )}
      <section aria-labelledby="service" className="panel">
        <h2 id="service">
          Service {name}{" "}
          {writable && !editing && (
            <button type="button" onClick={() => { setEditing(true); }}>
              Edit
            </button>
          )}
        </h2>
        <dl className="facts">
          <dt>Image</dt>
          <dd>{service.spec.image}</dd>
          <dt>Stack</dt>
          <dd>{service.spec.stack || "–"}</dd>
          <dt>Scale</dt>
          <dd>
            <Scale client={client} env={env} service={service} writable={writable} />
          </dd>
          <dt>Running</dt>
          <dd>{service.status.running ?? 0}</dd>
          <dt>Health</dt>
          <dd>{service.status.health || "–"}</dd>
        </dl>
      </section>
      <section aria-labelledby="upgrade" className="panel">
        <h2 id="upgrade">Upgrade</h2>
        {upgrade ? (
          <p aria-label="Upgrade state">
            <span className={`pill ${upgrade.state}`}>{upgrade.state}</span> to revision {upgrade.revision}
            {upgrade.reason ? ` (${upgrade.reason})` : ""}
            {upgrade.started_at ? `, started ${upgrade.started_at}` : ""}
            {upgrade.finished_at ? `, finished ${upgrade.finished_at}` : ""}
          </p>
        ) : (
          <p className="empty">No upgrade yet.</p>
        )}
        {progress && (
          <div className="progress">
            <progress aria-label="Upgrade progress" value={progress.updated} max={Math.max(1, progress.wanted)} />
            <span aria-label="Upgrade batches">
              batch {progress.batch} of {progress.batches} ({progress.batchSize} at a time): {progress.updated} of{" "}
              {progress.wanted} on revision {progress.revision}, {progress.ready} ready
              {progress.old > 0 ? `, ${progress.old} on older revisions` : ""}
              {progress.batchStartedMs > 0 ? `; batch started ${new Date(progress.batchStartedMs).toLocaleTimeString()}` : ""}
            </span>
          </div>
        )}
        {writable && (
          <div className="toolbar">
            {history.length > 1 && (
              <button type="button" onClick={() => void act("rollback")}>
                Roll back
              </button>
            )}
            {upgrade && (upgrade.state === "upgrading" || upgrade.state === "rolling-back") && (
              <button type="button" onClick={() => void act("pause")}>
                Pause
              </button>
            )}
            {upgrade?.state === "paused" && (
              <button type="button" onClick={() => void act("resume")}>
                Resume
              </button>
            )}
          </div>
        )}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <h3>History</h3>
        {history.length === 0 ? (
          <p className="empty">No earlier revisions.</p>
        ) : (
          <table aria-label="History">
            <thead>
              <tr>
                <th>Revision</th>
                <th>Image</th>
                <th>Made</th>
              </tr>
            </thead>
            <tbody>
              {history.map((h) => (
                <tr key={h.revision}>
                  <td>{h.revision}</td>
                  <td>{h.launch.image ?? ""}</td>
                  <td>{h.created_at ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section aria-labelledby="service-instances" className="panel">
        <h2 id="service-instances">
          Instances <span className="count">{instances.length}</span>
        </h2>
        <WindowedTable
          labelledBy="service-instances"
          what="Instances"
          columns={["Instance", "Host", "State", "Health", "Restarts", "Reason"]}
          rows={instances}
          rowKey={(i) => i.meta.name}
          cells={(i) => (
            <>
              <td>
                <Link to={pathOf(env, { page: "instance", name: i.meta.name })}>{i.meta.name}</Link>
              </td>
              <td>{i.spec.node || "–"}</td>
              <td className={`state ${instanceState(i)}`}>{instanceState(i)}</td>
              <td>{instanceHealth(i)}</td>
              <td>{i.status?.restarts ?? 0}</td>
              <td className="reason" title={i.status?.reason ?? ""}>
                {i.status?.reason ?? ""}
              </td>
            </>
          )}
        />
      </section>
    </>
  );
}

export function Services({
  client,
  env,
  role,
  service,
}: {
  client: Client;
  env: string;
  role: string;
  service?: string;
}): ReactElement {
  const services = useLive<FullServiceObject>(client, env, "services");
  const [creating, setCreating] = useState(false);
  const instances = useLive<InstanceObject>(client, env, "instances");
  const byService = useMemo(() => instancesByService(instances.items), [instances.items]);
  const writable = canChangeWorkloads(role);
  const failed = [services, instances].find((l) => l.status === "failed");
  if (service !== undefined) {
    const found = services.items.find((s) => s.meta.name === service);
    return (
      <div className="services">
        {failed && (
          <p role="alert" className="error">
            {failed.error}
          </p>
        )}
        {found ? (
          <ServiceDetail
            client={client}
            env={env}
            service={found}
            instances={byService.get(service) ?? []}
            writable={writable}
          />
        ) : (
          services.status !== "loading" && <p className="empty">No service {service} in {env}.</p>
        )}
      </div>
    );
  }
  return (
    <section aria-labelledby="services" className="panel services">
      <h2 id="services">
        Services <span className="count">{services.items.length}</span>{" "}
        {writable && !creating && (
          <button type="button" onClick={() => { setCreating(true); }}>
            Create service
          </button>
        )}
      </h2>
      {creating && (
        <ServiceForm
          client={client}
          env={env}
          onDone={(created) => {
            setCreating(false);
            navigate(pathOf(env, { page: "service", name: created }));
          }}
          onCancel={() => { setCreating(false); }}
        />
      )}
      {failed && (
        <p role="alert" className="error">
          {failed.error}
        </p>
      )}
      {services.items.length === 0 ? (
        services.status !== "loading" && <p className="empty">No services yet.</p>
      ) : (
        <WindowedTable
          labelledBy="services"
          what="Services"
          columns={["Service", "Stack", "Image", "Scale", "Instances", "Health"]}
          rows={services.items}
          rowKey={(s) => s.meta.name}
          rowHeight={44}
          cells={(s) => (
            <>
              <td>
                <Link to={pathOf(env, { page: "service", name: s.meta.name })}>{s.meta.name}</Link>
              </td>
              <td>{s.spec.stack ?? ""}</td>
              <td>{s.spec.image}</td>
              <td>
                <Scale client={client} env={env} service={s} writable={writable} />
              </td>
              <td>
                <Counts counts={countBy(byService.get(s.meta.name) ?? [], instanceState)} />
              </td>
              <td>{s.status.health || "–"}</td>
            </>
          )}
        />
      )}
    </section>
  );
}
