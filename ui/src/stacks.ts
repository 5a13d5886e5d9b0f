// The pure parts of the Stacks page: the compose files a deploy sends, what
// a plan was made of, where the API's error points in them, a stack's
// services with their health, and the graph of their links.

import type { ApiObject } from "./api";
import type { AppRef } from "./catalog";
import type { ServiceObject } from "./model";

/** A compose file as the API takes and gives it (`SourceFile`). */
export interface SourceFile {
  name: string;
  content: string;
}

export interface StackSpec {
  files?: SourceFile[];
  variables?: Record<string, string>;
  /** The catalog template the stack was launched from. */
  app?: AppRef;
}
export interface StackStatus {
  services?: string[];
  warnings?: string[];
}
export type StackObject = ApiObject<StackSpec, StackStatus>;

export interface ServiceChange {
  service: string;
  fields: string[];
  upgrade: boolean;
}
export interface PlannedInstance {
  instance: string;
  node: string;
  reason: string;
}
/** What a deploy does, or with `dry_run` would do (`StackPlan`). */
export interface StackPlan {
  stack: string;
  created: string[];
  changed: ServiceChange[];
  removed: string[];
  unchanged: string[];
  placements: PlannedInstance[];
  volumes: string[];
  secrets?: string[];
  configs?: string[];
  warnings: string[];
  applied: boolean;
}

export const COMPOSE_FILE = "docker-compose.yml";

/** docker-compose files first, then rancher-compose files (the order the API reads them in). */
export function orderFiles(files: readonly SourceFile[]): SourceFile[] {
  const rancher = (f: SourceFile): number => (/rancher-compose/i.test(f.name) ? 1 : 0);
  return [...files].sort((a, b) => rancher(a) - rancher(b));
}

/**
 * The files after an upload: a file of the same name replaces the one
 * there, another is added; the order stays the API's.
 */
export function withFiles(files: readonly SourceFile[], added: readonly SourceFile[]): SourceFile[] {
  const next = [...files];
  for (const file of added) {
    const at = next.findIndex((f) => f.name === file.name);
    if (at >= 0) next[at] = file;
    else next.push(file);
  }
  return orderFiles(next);
}

/** The files a deploy sends: those with content, in the API's order. */
export function filesToSend(files: readonly SourceFile[]): SourceFile[] {
  return orderFiles(files.filter((f) => f.content.trim() !== ""));
}

/** What a plan was made of; a deploy is allowed only while this is unchanged. */
export function planKey(stack: string, files: readonly SourceFile[]): string {
  return JSON.stringify([stack, filesToSend(files)]);
}

/** Where in the compose files the API's error points (`FILE:LINE: KEY: message`). */
export interface Located {
  file: string;
  line: number;
  key: string;
  message: string;
}

export function locate(error: string, files: readonly string[]): Located | null {
  // The API's text is `FIELD: FILE:LINE: KEY: message` (the field is the key).
  for (const file of files) {
    const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const match = new RegExp(`(?:^|: )${escaped}:(\\d+): (.*?): ([\\s\\S]*)$`).exec(error);
    if (!match) continue;
    return { file, line: Number(match[1]), key: match[2] ?? "", message: match[3] ?? "" };
  }
  return null;
}

/** The line `line` (1-based) of `text`, if it has one. */
export function lineOf(text: string, line: number): string | null {
  if (line < 1) return null;
  return text.split("\n")[line - 1] ?? null;
}

/** A stack's name must be a valid object name (as `validate_name`). */
export function nameError(name: string): string | null {
  if (name === "") return "must not be empty";
  if (name.length > 63) return "is longer than 63 characters";
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name)) {
    return "must consist of lowercase letters, digits and '-', and start and end with a letter or digit";
  }
  return null;
}

/** The name a service has in its stack's compose file (`<stack>-<service>` without the prefix). */
export function composeName(stack: string, service: string): string {
  return service.startsWith(`${stack}-`) ? service.slice(stack.length + 1) : service;
}

/** The services of one stack, by name. */
export function servicesOf<S extends ApiObject<{ stack?: string }>>(stack: string, services: readonly S[]): S[] {
  return services.filter((s) => s.spec.stack === stack);
}

/** The services of every stack, by stack name (one pass, for a list of stacks). */
export function servicesByStack<S extends ApiObject<{ stack?: string }>>(services: readonly S[]): Map<string, S[]> {
  const by = new Map<string, S[]>();
  for (const s of services) {
    if (!s.spec.stack) continue;
    const list = by.get(s.spec.stack) ?? [];
    list.push(s);
    by.set(s.spec.stack, list);
  }
  return by;
}

export interface StackSummary {
  services: number;
  scale: number;
  running: number;
  /** The worst health of its services: unhealthy, degraded, initializing, healthy, or "–". */
  health: string;
}

const HEALTH_ORDER = ["unhealthy", "degraded", "initializing", "healthy"];

export function summarize(services: readonly ServiceObject[]): StackSummary {
  let worst = HEALTH_ORDER.length;
  for (const s of services) {
    const at = HEALTH_ORDER.indexOf(s.status.health ?? "");
    if (at >= 0 && at < worst) worst = at;
  }
  return {
    services: services.length,
    scale: services.reduce((n, s) => n + (s.spec.scale ?? 0), 0),
    running: services.reduce((n, s) => n + (s.status.running ?? 0), 0),
    health: HEALTH_ORDER[worst] ?? "–",
  };
}

/** A link or dependency between two services of a stack, by compose name. */
export interface Edge {
  from: string;
  to: string;
  kind: "link" | "depends_on";
  /** The link's alias, or the dependency's condition. */
  detail: string;
}

export interface LinkedSpec {
  links?: { service: string; alias: string }[];
  depends_on?: { service: string; condition?: string }[];
}

export function edgesOf(stack: string, services: readonly ApiObject<LinkedSpec>[]): Edge[] {
  const edges: Edge[] = [];
  for (const s of services) {
    const from = composeName(stack, s.meta.name);
    for (const l of s.spec.links ?? []) {
      edges.push({ from, to: l.service, kind: "link", detail: l.alias === l.service ? "" : l.alias });
    }
    for (const d of s.spec.depends_on ?? []) {
      edges.push({ from, to: d.service, kind: "depends_on", detail: d.condition ?? "service_started" });
    }
  }
  return edges;
}

/**
 * Layers for drawing: a service's layer is one more than the deepest of
 * the services it links to or depends on (those are drawn left of it).
 * Cycles (which compose refuses) are cut where found.
 */
export function layers(nodes: readonly string[], edges: readonly Edge[]): Map<string, number> {
  const known = new Set(nodes);
  const out = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (node: string): number => {
    const done = out.get(node);
    if (done !== undefined) return done;
    if (visiting.has(node)) return 0;
    visiting.add(node);
    let d = 0;
    for (const e of edges) {
      if (e.from === node && known.has(e.to) && e.to !== node) d = Math.max(d, depth(e.to) + 1);
    }
    visiting.delete(node);
    out.set(node, d);
    return d;
  };
  for (const n of nodes) depth(n);
  return out;
}

/** A browser-safe file name for a download (the server's names are plain; this keeps them so). */
export function downloadName(name: string, fallback: string): string {
  const plain = name.replace(/[/\\\0]/g, "_");
  return plain === "" || plain === "." || plain === ".." ? fallback : plain;
}
