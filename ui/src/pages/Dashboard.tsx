// The dashboard of one environment: hosts, stacks, services and instances,
// each a live list (list, then watch), and what is pending and why.

import { useMemo, type ReactElement, type ReactNode } from "react";

import type { Client } from "../api";
import { Link } from "../Link";
import type { LiveSnapshot } from "../liveList";
import {
  countBy,
  formatBytes,
  instanceHealth,
  instanceState,
  instancesByService,
  pendingInstances,
  type InstanceObject,
  type NodeObject,
  type ServiceObject,
  type StackObject,
} from "../model";
import { pathOf } from "../route";
import { useLive } from "../useLive";
import { WindowedTable } from "../WindowedTable";

function LiveBadge({ live }: { live: LiveSnapshot<unknown> }): ReactElement | null {
  if (live.status === "live") return null;
  const text =
    live.status === "loading"
      ? "loading…"
      : live.status === "reconnecting"
        ? `reconnecting: ${live.error ?? ""}`
        : `failed: ${live.error ?? ""}`;
  return (
    <span role={live.status === "loading" ? "status" : "alert"} className={`badge ${live.status}`}>
      {text}
    </span>
  );
}

function Section({
  id,
  title,
  live,
  children,
}: {
  id: string;
  title: string;
  live: LiveSnapshot<unknown>;
  children: ReactNode;
}): ReactElement {
  return (
    // data-revision: the revision shown, for the UI benchmark to see a
    // watch's events rendered.
    <section aria-labelledby={id} className="panel" data-revision={live.revision}>
      <h2 id={id}>
        {title} <span className="count">{live.items.length}</span> <LiveBadge live={live} />
      </h2>
      {children}
    </section>
  );
}

function Counts({ counts }: { counts: [string, number][] }): ReactElement {
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

function Empty({ what }: { what: string }): ReactElement {
  return <p className="empty">No {what} yet.</p>;
}

export function Dashboard({ client, env }: { client: Client; env: string }): ReactElement {
  const nodes = useLive<NodeObject>(client, env, "nodes");
  const stacks = useLive<StackObject>(client, env, "stacks");
  const services = useLive<ServiceObject>(client, env, "services");
  const instances = useLive<InstanceObject>(client, env, "instances");
  // Derived once per change of the instances (at most once a frame), not
  // on every render nor per row.
  const derived = useMemo(() => {
    const items = instances.items;
    return {
      byService: instancesByService(items),
      pending: pendingInstances(items),
      onNode: new Map(countBy(items, (i) => i.spec.node ?? "")),
      states: countBy(items, instanceState),
      health: countBy(items, instanceHealth).filter(([h]) => h !== "none"),
    };
  }, [instances.items]);
  const { byService, pending, onNode } = derived;

  return (
    <div className="dashboard">
      <p className="summary">
        <Counts counts={derived.states} />
        <Counts counts={derived.health} />
      </p>

      <Section id="pending" title="Pending" live={instances}>
        {pending.length === 0 ? (
          <Empty what="pending instances" />
        ) : (
          <WindowedTable
            labelledBy="pending"
            what="Pending instances"
            columns={["Instance", "Service", "Why"]}
            rows={pending}
            rowKey={(p) => p.name}
            cells={(p) => (
              <>
                <td>{p.name}</td>
                <td>{p.service}</td>
                <td className="reason" title={p.reason}>
                  {p.reason}
                </td>
              </>
            )}
          />
        )}
      </Section>

      <Section id="hosts" title="Hosts" live={nodes}>
        {nodes.items.length === 0 ? (
          <Empty what="hosts" />
        ) : (
          <WindowedTable
            labelledBy="hosts"
            what="Hosts"
            columns={["Host", "State", "Address", "CPU", "Memory", "Instances"]}
            rows={nodes.items}
            rowKey={(n) => n.meta.name}
            cells={(n) => (
              <>
                <td>{n.meta.name}</td>
                <td>
                  {n.status.state ?? "joining"}
                  {n.spec.draining ? " (draining)" : n.spec.unschedulable ? " (cordoned)" : ""}
                </td>
                <td>{n.status.address ?? ""}</td>
                <td>{n.status.cpu_millis ? `${n.status.cpu_millis / 1000} cores` : "–"}</td>
                <td>{formatBytes(n.status.memory_bytes)}</td>
                <td>{onNode.get(n.meta.name) ?? 0}</td>
              </>
            )}
          />
        )}
      </Section>

      <Section id="stacks" title="Stacks" live={stacks}>
        {stacks.items.length === 0 ? (
          <Empty what="stacks" />
        ) : (
          <WindowedTable
            labelledBy="stacks"
            what="Stacks"
            columns={["Stack", "Services"]}
            rows={stacks.items}
            rowKey={(s) => s.meta.name}
            cells={(s) => (
              <>
                <td>{s.meta.name}</td>
                <td>{(s.status.services ?? []).join(", ")}</td>
              </>
            )}
          />
        )}
      </Section>

      <Section id="services" title="Services" live={services}>
        {services.items.length === 0 ? (
          <Empty what="services" />
        ) : (
          <WindowedTable
            labelledBy="services"
            what="Services"
            columns={["Service", "Stack", "Image", "Scale", "Running", "Instances", "Health"]}
            rows={services.items}
            rowKey={(s) => s.meta.name}
            cells={(s) => (
              <>
                <td>
                  <Link to={pathOf(env, { page: "service", name: s.meta.name })}>{s.meta.name}</Link>
                </td>
                <td>{s.spec.stack ?? ""}</td>
                <td>{s.spec.image}</td>
                <td>{s.spec.mode === "global" ? "global" : (s.spec.scale ?? 0)}</td>
                <td>{s.status.running ?? 0}</td>
                <td>
                  <Counts counts={countBy(byService.get(s.meta.name) ?? [], instanceState)} />
                </td>
                <td>{s.status.health || "–"}</td>
              </>
            )}
          />
        )}
      </Section>

      <Section id="instances" title="Instances" live={instances}>
        {instances.items.length === 0 ? (
          <Empty what="instances" />
        ) : (
          <WindowedTable
            labelledBy="instances"
            what="Instances"
            columns={["Instance", "Service", "Host", "State", "Health", "Restarts", "Reason"]}
            rows={instances.items}
            rowKey={(i) => i.meta.name}
            cells={(i) => (
              <>
                <td>
                  <Link to={pathOf(env, { page: "instance", name: i.meta.name })}>{i.meta.name}</Link>
                </td>
                <td>{i.spec.service}</td>
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
        )}
      </Section>
    </div>
  );
}
