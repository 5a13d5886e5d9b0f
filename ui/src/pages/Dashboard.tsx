// The dashboard of one environment: hosts, stacks, services and instances,
// each a live list (list, then watch), and what is pending and why.

import type { ReactElement, ReactNode } from "react";

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
    <section aria-labelledby={id} className="panel">
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
  const byService = instancesByService(instances.items);
  const pending = pendingInstances(instances.items);
  const onNode = countBy(instances.items, (i) => i.spec.node ?? "");

  return (
    <div className="dashboard">
      <p className="summary">
        <Counts counts={countBy(instances.items, instanceState)} />
        <Counts counts={countBy(instances.items, instanceHealth).filter(([h]) => h !== "none")} />
      </p>

      <Section id="pending" title="Pending" live={instances}>
        {pending.length === 0 ? (
          <Empty what="pending instances" />
        ) : (
          <table aria-labelledby="pending">
            <thead>
              <tr>
                <th>Instance</th>
                <th>Service</th>
                <th>Why</th>
              </tr>
            </thead>
            <tbody>
              {pending.map((p) => (
                <tr key={p.name}>
                  <td>{p.name}</td>
                  <td>{p.service}</td>
                  <td className="reason">{p.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>

      <Section id="hosts" title="Hosts" live={nodes}>
        {nodes.items.length === 0 ? (
          <Empty what="hosts" />
        ) : (
          <table aria-labelledby="hosts">
            <thead>
              <tr>
                <th>Host</th>
                <th>State</th>
                <th>Address</th>
                <th>CPU</th>
                <th>Memory</th>
                <th>Instances</th>
              </tr>
            </thead>
            <tbody>
              {nodes.items.map((n) => (
                <tr key={n.meta.name}>
                  <td>{n.meta.name}</td>
                  <td>
                    {n.status.state ?? "joining"}
                    {n.spec.draining ? " (draining)" : n.spec.unschedulable ? " (cordoned)" : ""}
                  </td>
                  <td>{n.status.address ?? ""}</td>
                  <td>{n.status.cpu_millis ? `${n.status.cpu_millis / 1000} cores` : "–"}</td>
                  <td>{formatBytes(n.status.memory_bytes)}</td>
                  <td>{onNode.find(([name]) => name === n.meta.name)?.[1] ?? 0}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>

      <Section id="stacks" title="Stacks" live={stacks}>
        {stacks.items.length === 0 ? (
          <Empty what="stacks" />
        ) : (
          <table aria-labelledby="stacks">
            <thead>
              <tr>
                <th>Stack</th>
                <th>Services</th>
              </tr>
            </thead>
            <tbody>
              {stacks.items.map((s) => (
                <tr key={s.meta.name}>
                  <td>{s.meta.name}</td>
                  <td>{(s.status.services ?? []).join(", ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>

      <Section id="services" title="Services" live={services}>
        {services.items.length === 0 ? (
          <Empty what="services" />
        ) : (
          <table aria-labelledby="services">
            <thead>
              <tr>
                <th>Service</th>
                <th>Stack</th>
                <th>Image</th>
                <th>Scale</th>
                <th>Running</th>
                <th>Instances</th>
                <th>Health</th>
              </tr>
            </thead>
            <tbody>
              {services.items.map((s) => (
                <tr key={s.meta.name}>
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
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>

      <Section id="instances" title="Instances" live={instances}>
        {instances.items.length === 0 ? (
          <Empty what="instances" />
        ) : (
          <table aria-labelledby="instances">
            <thead>
              <tr>
                <th>Instance</th>
                <th>Service</th>
                <th>Host</th>
                <th>State</th>
                <th>Health</th>
                <th>Restarts</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {instances.items.map((i) => (
                <tr key={i.meta.name}>
                  <td>
                    <Link to={pathOf(env, { page: "instance", name: i.meta.name })}>{i.meta.name}</Link>
                  </td>
                  <td>{i.spec.service}</td>
                  <td>{i.spec.node || "–"}</td>
                  <td className={`state ${instanceState(i)}`}>{instanceState(i)}</td>
                  <td>{instanceHealth(i)}</td>
                  <td>{i.status?.restarts ?? 0}</td>
                  <td className="reason">{i.status?.reason ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  );
}
