// The objects the dashboard shows, as the API sends them (only the fields it
// reads), and the counts it derives from them.

import type { ApiObject } from "./api";

export type InstanceState = "pending" | "starting" | "running" | "stopping" | "exited" | "failed";
export type Health = "none" | "initializing" | "healthy" | "unhealthy";

export interface NodeSpec {
  unschedulable?: boolean;
  draining?: boolean;
}
export interface NodeStatus {
  state?: "joining" | "active" | "disconnected";
  address?: string;
  hostname?: string;
  cpu_millis?: number;
  memory_bytes?: number;
}
export type NodeObject = ApiObject<NodeSpec, NodeStatus>;

export interface StackStatus {
  services?: string[];
  warnings?: string[];
}
export type StackObject = ApiObject<unknown, StackStatus>;

export interface ServiceSpec {
  image: string;
  scale?: number;
  stack?: string;
  mode?: string;
}
export interface UpgradeStatus {
  state: string;
  revision: number;
  reason?: string;
  started_at?: string;
  finished_at?: string;
}
export interface LaunchRevision {
  revision: number;
  launch: { image?: string };
  created_at?: string;
}
export interface ServiceStatus {
  running?: number;
  pending?: number;
  health?: string;
  upgrade?: UpgradeStatus;
  history?: LaunchRevision[];
}
export type ServiceObject = ApiObject<ServiceSpec, ServiceStatus>;

export interface PortSpec {
  host_port?: number;
  container_port: number;
  protocol?: string;
}

export interface InstanceSpec {
  service: string;
  launch?: { image?: string; command?: string[]; ports?: PortSpec[] };
  ordinal?: number;
  node?: string;
  removing?: boolean;
}
export interface InstanceStatus {
  state?: InstanceState;
  reason?: string;
  health?: Health;
  restarts?: number;
}
export type InstanceObject = ApiObject<InstanceSpec, InstanceStatus | null>;

export function instanceState(instance: InstanceObject): InstanceState {
  return instance.status?.state ?? "pending";
}

export function instanceHealth(instance: InstanceObject): Health {
  return instance.status?.health ?? "none";
}

/** How many of `items` fall under each key, in the order keys first appear. */
export function countBy<T>(items: readonly T[], key: (item: T) => string): [string, number][] {
  const counts = new Map<string, number>();
  for (const item of items) {
    const k = key(item);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts.entries()];
}

/** Instances waiting to be placed or started, with the scheduler's reason. */
export interface PendingInstance {
  name: string;
  service: string;
  reason: string;
}

export function pendingInstances(instances: readonly InstanceObject[]): PendingInstance[] {
  return instances
    .filter((i) => instanceState(i) === "pending")
    .map((i) => ({
      name: i.meta.name,
      service: i.spec.service,
      reason: i.status?.reason || "waiting for the scheduler",
    }));
}

/** The instances of each service, by service name. */
export function instancesByService(instances: readonly InstanceObject[]): Map<string, InstanceObject[]> {
  const by = new Map<string, InstanceObject[]>();
  for (const instance of instances) {
    const list = by.get(instance.spec.service) ?? [];
    list.push(instance);
    by.set(instance.spec.service, list);
  }
  return by;
}

/** The instances on each node, by node name. */
export function instancesByNode(instances: readonly InstanceObject[]): Map<string, InstanceObject[]> {
  const by = new Map<string, InstanceObject[]>();
  for (const instance of instances) {
    const node = instance.spec.node ?? "";
    if (node === "") continue;
    const list = by.get(node) ?? [];
    list.push(instance);
    by.set(node, list);
  }
  return by;
}

export function formatBytes(bytes: number | undefined): string {
  if (!bytes) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 && unit > 0 ? 1 : 0)} ${units[unit]}`;
}
