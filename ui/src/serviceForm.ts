// The pure parts of the service form: a service's spec as form fields and
// back (keeping what the form does not show), the checks the API makes on
// single fields, the field an API error names mapped to its input, the
// command line split into arguments, and a rolling upgrade's progress.

import type { ApiObject } from "./api";
import type { InstanceObject, ServiceStatus } from "./model";

export type Protocol = "tcp" | "udp";
export type MountKind = "volume" | "bind" | "tmpfs";
export type ProbeType = "none" | "http" | "tcp" | "command";
export type RuleOn = "node_label" | "node_name" | "node_role" | "container_label" | "instance";

export interface PortSpec {
  host_port?: number;
  container_port: number;
  protocol?: Protocol;
}
export interface VolumeMount {
  kind?: MountKind;
  source?: string;
  target: string;
  read_only?: boolean;
}
export type Probe =
  | { type: "http"; port: number; request_line: string }
  | { type: "tcp"; port: number }
  | { type: "command"; command: string[] };
export interface HealthCheck {
  probe: Probe;
  interval_ms?: number;
  timeout_ms?: number;
  healthy_threshold?: number;
  unhealthy_threshold?: number;
  start_period_ms?: number;
  [more: string]: unknown;
}
export interface PlacementRule {
  on: RuleOn;
  key?: string;
  value?: string;
  name?: string;
  equal?: boolean;
  strength?: "hard" | "soft";
}
export interface Placement {
  rules?: PlacementRule[];
  [more: string]: unknown;
}
export interface UpdateConfig {
  batch_size?: number;
  interval_ms?: number;
  order?: "stop-first" | "start-first";
  failure_action?: "rollback" | "pause" | "continue";
  monitor_ms?: number;
}

/** A service's spec as the API sends it; fields the form does not show are kept as they are. */
export interface FullServiceSpec {
  image: string;
  command?: string[];
  env?: Record<string, string>;
  ports?: PortSpec[];
  scale?: number;
  restart?: string;
  volumes?: VolumeMount[];
  health_check?: HealthCheck;
  placement?: Placement;
  update?: UpdateConfig;
  rollback?: UpdateConfig;
  stack?: string;
  mode?: string;
  links?: { service: string; alias: string }[];
  depends_on?: { service: string; condition?: string }[];
  [more: string]: unknown;
}
export type FullServiceObject = ApiObject<FullServiceSpec, ServiceStatus>;

export interface EnvRow {
  key: string;
  value: string;
}
export interface PortRow {
  host: string;
  container: string;
  protocol: Protocol;
}
export interface VolumeRow {
  kind: MountKind;
  source: string;
  target: string;
  readOnly: boolean;
}
export interface RuleRow {
  on: RuleOn;
  key: string;
  value: string;
  equal: boolean;
  soft: boolean;
}

export interface ServiceForm {
  name: string;
  image: string;
  command: string;
  scale: string;
  restart: string;
  env: EnvRow[];
  ports: PortRow[];
  volumes: VolumeRow[];
  probe: ProbeType;
  probePort: string;
  probeRequest: string;
  probeCommand: string;
  /** Seconds, as typed. */
  interval: string;
  timeout: string;
  startPeriod: string;
  healthyThreshold: string;
  unhealthyThreshold: string;
  rules: RuleRow[];
  batchSize: string;
  batchInterval: string;
  order: "stop-first" | "start-first";
  failureAction: "rollback" | "pause" | "continue";
}

/** Errors by form field (`image`, `ports.1.host`, `env.0.key`, ...); `form` for the rest. */
export type FieldErrors = Record<string, string>;

// ---- the command line ----

/** Splits a command line as a POSIX shell would (quotes and backslashes; no expansion). */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line.charAt(i);
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && i + 1 < line.length && '"\\$`'.includes(line.charAt(i + 1))) word += line.charAt(++i);
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < line.length) {
      word += line.charAt(++i);
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`the quote ${quote} is not closed`);
  if (inWord) words.push(word);
  return words;
}

/** The arguments as one command line that `splitWords` reads back. */
export function joinWords(words: readonly string[]): string {
  return words.map((w) => (/^[A-Za-z0-9_\-.,/:=@%+]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(" ");
}

// ---- spec to form and back ----

function seconds(ms: number | undefined, fallback: number): string {
  return String((ms ?? fallback) / 1000);
}

export function formOf(name: string, spec?: FullServiceSpec): ServiceForm {
  const hc = spec?.health_check;
  const probe = hc?.probe;
  let probeCommand = "";
  if (probe?.type === "command") {
    const [first, ...rest] = probe.command;
    probeCommand = first === "CMD-SHELL" ? rest.join(" ") : joinWords(first === "CMD" ? rest : probe.command);
  }
  return {
    name,
    image: spec?.image ?? "",
    command: joinWords(spec?.command ?? []),
    scale: String(spec?.scale ?? 1),
    restart: spec?.restart ?? "always",
    env: Object.entries(spec?.env ?? {}).map(([key, value]) => ({ key, value })),
    ports: (spec?.ports ?? []).map((p) => ({
      host: p.host_port ? String(p.host_port) : "",
      container: String(p.container_port),
      protocol: p.protocol ?? "tcp",
    })),
    volumes: (spec?.volumes ?? []).map((v) => ({
      kind: v.kind ?? "volume",
      source: v.source ?? "",
      target: v.target,
      readOnly: v.read_only ?? false,
    })),
    probe: probe?.type ?? "none",
    probePort: probe && probe.type !== "command" ? String(probe.port) : "",
    probeRequest: probe?.type === "http" ? probe.request_line : "GET /",
    probeCommand,
    interval: seconds(hc?.interval_ms, 2000),
    timeout: seconds(hc?.timeout_ms, 2000),
    startPeriod: seconds(hc?.start_period_ms, 0),
    healthyThreshold: String(hc?.healthy_threshold ?? 2),
    unhealthyThreshold: String(hc?.unhealthy_threshold ?? 3),
    rules: (spec?.placement?.rules ?? []).map((r) => ({
      on: r.on,
      key: r.key ?? "",
      value: r.on === "instance" ? (r.name ?? "") : (r.value ?? ""),
      equal: r.equal ?? true,
      soft: r.strength === "soft",
    })),
    batchSize: String(spec?.update?.batch_size ?? 1),
    batchInterval: seconds(spec?.update?.interval_ms, 0),
    order: spec?.update?.order ?? "stop-first",
    failureAction: spec?.update?.failure_action ?? "rollback",
  };
}

export const emptyPort: PortRow = { host: "", container: "", protocol: "tcp" };
export const emptyVolume: VolumeRow = { kind: "volume", source: "", target: "", readOnly: false };
export const emptyRule: RuleRow = { on: "node_label", key: "", value: "", equal: true, soft: false };

/** Rules with a key (`node_label`, `container_label`). */
export function ruleHasKey(on: RuleOn): boolean {
  return on === "node_label" || on === "container_label";
}

function isBlankPort(p: PortRow): boolean {
  return p.host.trim() === "" && p.container.trim() === "";
}
function isBlankVolume(v: VolumeRow): boolean {
  return v.source.trim() === "" && v.target.trim() === "";
}
function isBlankRule(r: RuleRow): boolean {
  return r.key.trim() === "" && r.value.trim() === "";
}

/** An integer from `min` to `max`, or the reason it is not. */
function integer(text: string, min: number, max: number): number | string {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return `must be a whole number from ${min} to ${max}`;
  const n = Number(t);
  if (n < min || n > max) return `must be from ${min} to ${max}`;
  return n;
}

/** Seconds (decimals allowed) as milliseconds, or the reason they are not. */
function millis(text: string): number | string {
  const t = text.trim();
  if (!/^\d+(\.\d+)?$/.test(t)) return "must be a number of seconds";
  return Math.round(Number(t) * 1000);
}

export const MAX_SCALE = 10_000;

/**
 * The checks the API makes on single fields (object name, image, scale,
 * variable names, port numbers) and the form's own (numbers, quotes). Rules
 * across fields, such as a host port published twice, are the API's: its
 * error is shown at the field it names.
 */
export function validate(form: ServiceForm, creating: boolean): FieldErrors {
  const errors: FieldErrors = {};
  if (creating) {
    const name = form.name;
    if (name === "") errors.name = "must not be empty";
    else if (name.length > 63) errors.name = "is longer than 63 characters";
    else if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name)) {
      errors.name = "must consist of lowercase letters, digits and '-', and start and end with a letter or digit";
    }
  }
  if (form.image.trim() === "") errors.image = "must not be empty";
  else if (/\s/.test(form.image)) errors.image = "must not contain whitespace";
  try {
    splitWords(form.command);
  } catch (e) {
    errors.command = e instanceof Error ? e.message : String(e);
  }
  const scale = integer(form.scale, 0, MAX_SCALE);
  if (typeof scale === "string") errors.scale = scale;
  const seen = new Set<string>();
  form.env.forEach((row, i) => {
    if (row.key === "" && row.value === "") return;
    if (row.key === "" || row.key.includes("=") || row.key.includes("\0")) {
      errors[`env.${i}.key`] = "variable names must be non-empty and contain no '=' or NUL";
    } else if (seen.has(row.key)) errors[`env.${i}.key`] = `${row.key} is set twice`;
    seen.add(row.key);
  });
  form.ports.forEach((row, i) => {
    if (isBlankPort(row)) return;
    const c = integer(row.container, 1, 65535);
    if (typeof c === "string") errors[`ports.${i}.container`] = c;
    if (row.host.trim() !== "") {
      const h = integer(row.host, 1, 65535);
      if (typeof h === "string") errors[`ports.${i}.host`] = h;
    }
  });
  form.volumes.forEach((row, i) => {
    if (isBlankVolume(row)) return;
    if (row.target.trim() === "") errors[`volumes.${i}.target`] = "the path in the container is required";
    if (row.kind === "bind" && row.source.trim() === "") errors[`volumes.${i}.source`] = "a bind mount needs a host path";
  });
  if (form.probe === "http" || form.probe === "tcp") {
    const p = integer(form.probePort, 1, 65535);
    if (typeof p === "string") errors["health.port"] = p;
  }
  if (form.probe === "command" && form.probeCommand.trim() === "") errors["health.command"] = "must not be empty";
  if (form.probe === "http" && form.probeRequest.trim() === "") errors["health.request"] = "must not be empty";
  if (form.probe !== "none") {
    for (const [field, text] of [
      ["health.interval", form.interval],
      ["health.timeout", form.timeout],
      ["health.start_period", form.startPeriod],
    ] as const) {
      const ms = millis(text);
      if (typeof ms === "string") errors[field] = ms;
    }
    for (const [field, text] of [
      ["health.healthy", form.healthyThreshold],
      ["health.unhealthy", form.unhealthyThreshold],
    ] as const) {
      const n = integer(text, 1, 1000);
      if (typeof n === "string") errors[field] = n;
    }
  }
  form.rules.forEach((row, i) => {
    if (isBlankRule(row)) return;
    if (ruleHasKey(row.on) && row.key.trim() === "") errors[`rules.${i}.key`] = "must not be empty";
    if (row.value.trim() === "") errors[`rules.${i}.value`] = "must not be empty";
  });
  const batch = integer(form.batchSize, 1, MAX_SCALE);
  if (typeof batch === "string") errors["update.batch_size"] = batch;
  const wait = millis(form.batchInterval);
  if (typeof wait === "string") errors["update.interval"] = wait;
  return errors;
}

/** The rows each index of a list in the sent spec came from (blank rows are not sent). */
export interface RowIndex {
  ports: number[];
  volumes: number[];
  rules: number[];
  env: string[];
}

function num(text: string): number {
  return Number(text.trim());
}

function indexed<T>(rows: readonly T[], blank: (row: T) => boolean): [T, number][] {
  return rows.map((row, i): [T, number] => [row, i]).filter(([row]) => !blank(row));
}

/** The spec the form describes, over `base` (what the service has now; its other fields are kept). */
export function specOf(form: ServiceForm, base?: FullServiceSpec): { spec: FullServiceSpec; rows: RowIndex } {
  const ports = indexed(form.ports, isBlankPort);
  const volumes = indexed(form.volumes, isBlankVolume);
  const rules = indexed(form.rules, isBlankRule);
  const env = form.env.filter((r) => !(r.key === "" && r.value === ""));
  const spec: FullServiceSpec = {
    ...base,
    image: form.image.trim(),
    command: splitWords(form.command),
    scale: num(form.scale),
    restart: form.restart,
    env: Object.fromEntries(env.map((r) => [r.key, r.value])),
    ports: ports.map(([p]) => ({
      host_port: p.host.trim() === "" ? 0 : num(p.host),
      container_port: num(p.container),
      protocol: p.protocol,
    })),
    volumes: volumes.map(([v]) => ({ kind: v.kind, source: v.source.trim(), target: v.target.trim(), read_only: v.readOnly })),
    placement: {
      ...base?.placement,
      rules: rules.map(([r]): PlacementRule => {
        const strength = r.soft ? "soft" : "hard";
        const value = r.value.trim();
        if (r.on === "instance") return { on: r.on, name: value, equal: r.equal, strength };
        if (ruleHasKey(r.on)) return { on: r.on, key: r.key.trim(), value, equal: r.equal, strength };
        return { on: r.on, value, equal: r.equal, strength };
      }),
    },
    update: {
      ...base?.update,
      batch_size: num(form.batchSize),
      interval_ms: Math.round(num(form.batchInterval) * 1000),
      order: form.order,
      failure_action: form.failureAction,
    },
  };
  if (form.probe === "none") {
    delete spec.health_check;
  } else {
    const probe: Probe =
      form.probe === "http"
        ? { type: "http", port: num(form.probePort), request_line: form.probeRequest.trim() }
        : form.probe === "tcp"
          ? { type: "tcp", port: num(form.probePort) }
          : { type: "command", command: ["CMD-SHELL", form.probeCommand.trim()] };
    spec.health_check = {
      ...base?.health_check,
      probe,
      interval_ms: Math.round(num(form.interval) * 1000),
      timeout_ms: Math.round(num(form.timeout) * 1000),
      start_period_ms: Math.round(num(form.startPeriod) * 1000),
      healthy_threshold: num(form.healthyThreshold),
      unhealthy_threshold: num(form.unhealthyThreshold),
    };
  }
  return {
    spec,
    rows: {
      ports: ports.map(([, i]) => i),
      volumes: volumes.map(([, i]) => i),
      rules: rules.map(([, i]) => i),
      env: form.env.map((r) => r.key),
    },
  };
}

// ---- the API's field, as a form field ----

/** `spec.ports[1].host_port` → `["spec", "ports", "1", "host_port"]`. */
export function pathSegments(path: string): string[] {
  return path
    .replace(/\[(\d+)\]/g, ".$1")
    .split(".")
    .filter((s) => s !== "");
}

const PORT_FIELDS: Record<string, string> = { host_port: "host", container_port: "container", protocol: "protocol" };
const HEALTH_FIELDS: Record<string, string> = {
  interval_ms: "interval",
  timeout_ms: "timeout",
  start_period_ms: "start_period",
  healthy_threshold: "healthy",
  unhealthy_threshold: "unhealthy",
};
const SIMPLE: Record<string, string> = { image: "image", command: "command", scale: "scale", restart: "restart" };

/**
 * The form field an API error names (`field` of the error body), or `form`
 * when the form has no input for it. `rows` maps the indexes of the sent
 * lists back to the form's rows.
 */
export function formFieldOf(apiField: string | undefined, rows: RowIndex): string {
  if (!apiField) return "form";
  const [root, top, second, third] = pathSegments(apiField);
  if (root === "meta" && top === "name") return "name";
  if (root === "scale") return "scale";
  if (root !== "spec" || top === undefined) return "form";
  if (top in SIMPLE) return SIMPLE[top] ?? "form";
  const row = (list: number[]): number | undefined => (second === undefined ? undefined : list[Number(second)]);
  switch (top) {
    case "env": {
      const at = second === undefined ? -1 : rows.env.indexOf(second);
      return at >= 0 ? `env.${at}.key` : "env";
    }
    case "ports": {
      const at = row(rows.ports);
      if (at === undefined) return "ports";
      return `ports.${at}.${PORT_FIELDS[third ?? ""] ?? "container"}`;
    }
    case "volumes": {
      const at = row(rows.volumes);
      if (at === undefined) return "volumes";
      return `volumes.${at}.${third === "source" ? "source" : "target"}`;
    }
    case "health_check": {
      if (second === "probe") return "health.probe";
      return `health.${HEALTH_FIELDS[second ?? ""] ?? "probe"}`;
    }
    case "placement": {
      if (second !== "rules" || third === undefined) return "rules";
      const at = rows.rules[Number(third)];
      return at === undefined ? "rules" : `rules.${at}.value`;
    }
    case "update":
      return second === "interval_ms" ? "update.interval" : "update.batch_size";
    default:
      return "form";
  }
}

// ---- a rolling upgrade's progress ----

/** Equal as JSON values (the order of an object's keys does not matter). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  }
  // As JSON: a key whose value is undefined is no key.
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => sameJson(ra[k], rb[k]));
}

export interface UpgradeProgress {
  state: string;
  revision: number;
  /** Instances wanted (the scale). */
  wanted: number;
  /** Live instances running the revision being rolled out. */
  updated: number;
  /** Of those, how many are ready (running and, with a health check, healthy). */
  ready: number;
  /** Instances still on an older revision. */
  old: number;
  batchSize: number;
  /** The batch under way (1-based), of `batches`. */
  batch: number;
  batches: number;
  /** When the current batch started (ms since the epoch), 0 before the first. */
  batchStartedMs: number;
  reason: string;
}

interface UpgradeWithBatch {
  state: string;
  revision: number;
  reason?: string;
  batch_started_ms?: number;
}

/** Where the service's latest rollout stands, counted from its live instances. */
export function upgradeProgress(
  service: FullServiceObject,
  instances: readonly InstanceObject[],
): UpgradeProgress | null {
  const up: UpgradeWithBatch | undefined = service.status.upgrade;
  if (!up) return null;
  const target = (service.status.history ?? []).find((h) => h.revision === up.revision)?.launch;
  const live = instances.filter((i) => i.spec.service === service.meta.name && !i.spec.removing);
  const onTarget = live.filter((i) => target !== undefined && sameJson(i.spec.launch, target));
  const ready = onTarget.filter(
    (i) => i.status?.state === "running" && (i.status.health ?? "none") !== "unhealthy" && i.status.health !== "initializing",
  );
  const config = up.state === "rolling-back" ? service.spec.rollback : service.spec.update;
  const batchSize = Math.max(1, config?.batch_size ?? 1);
  const wanted = service.spec.mode === "global" ? live.length : (service.spec.scale ?? 0);
  const batches = Math.max(1, Math.ceil(wanted / batchSize));
  const batch = Math.min(batches, Math.max(1, Math.ceil(onTarget.length / batchSize)));
  return {
    state: up.state,
    revision: up.revision,
    wanted,
    updated: onTarget.length,
    ready: ready.length,
    old: live.length - onTarget.length,
    batchSize,
    batch,
    batches,
    batchStartedMs: up.batch_started_ms ?? 0,
    reason: up.reason ?? "",
  };
}
