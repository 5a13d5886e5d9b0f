// Load balancers as the API has them: a service with `spec.lb` (port rules
// and certificates), no image, publishing each source port as a host port
// (crates/types/src/lb.rs, crates/cli/src/lb.rs). The form's rules become
// that service; the API's error names the field at fault
// (`spec.lb.port_rules[1].hostname`), which the form shows beside it.

import type { ApiObject } from "./api";

export const PROTOCOLS = ["http", "https", "tcp", "tls"] as const;
export type LbProtocol = (typeof PROTOCOLS)[number];

export interface PortRule {
  source_port: number;
  protocol?: LbProtocol;
  hostname?: string;
  path?: string;
  priority?: number;
  target_service: string;
  target_port?: number;
  backend_name?: string;
}

export interface LbConfig {
  port_rules: PortRule[];
  certificates?: string[];
  default_certificate?: string;
}

export interface BalancerSpec {
  image?: string;
  scale?: number;
  mode?: string;
  stack?: string;
  ports?: { host_port?: number; container_port: number; protocol?: string }[];
  lb?: LbConfig | null;
}

export type BalancerObject = ApiObject<BalancerSpec, { running?: number; pending?: number } | null>;

export interface CertificateSpec {
  certificate: string;
  key: string;
}
export type CertificateObject = ApiObject<CertificateSpec>;

/** One rule as the form edits it: text, as typed. */
export interface RuleForm {
  sourcePort: string;
  protocol: LbProtocol;
  hostname: string;
  path: string;
  targetService: string;
  targetPort: string;
}

export function emptyRule(): RuleForm {
  return { sourcePort: "80", protocol: "http", hostname: "", path: "", targetService: "", targetPort: "" };
}

export function isBalancer(service: BalancerObject): boolean {
  return service.spec.lb != null;
}

/** A whole number as a number; anything else as typed, for the API to refuse. */
function port(text: string): number | string {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : t;
}

export function ruleOf(form: RuleForm): PortRule {
  const rule: Record<string, unknown> = {
    source_port: port(form.sourcePort),
    protocol: form.protocol,
    target_service: form.targetService.trim(),
  };
  if (form.hostname.trim()) rule.hostname = form.hostname.trim();
  if (form.path.trim()) rule.path = form.path.trim();
  if (form.targetPort.trim()) rule.target_port = port(form.targetPort);
  // Sent as typed: the API checks it and names the field.
  return rule as unknown as PortRule;
}

/** The service `corral lb create` would make from these rules. */
export function balancerOf(name: string, scale: number, rules: RuleForm[], certificates: string[]): unknown {
  const portRules = rules.map(ruleOf);
  const ports = [...new Set(portRules.map((r) => r.source_port))]
    .filter((p) => typeof p === "number" && p > 0)
    .sort((a, b) => a - b)
    .map((p) => ({ host_port: p, container_port: p, protocol: "tcp" }));
  const lb: LbConfig = { port_rules: portRules };
  if (certificates.length > 0) lb.certificates = certificates;
  return { kind: "Service", meta: { name: name.trim() }, spec: { image: "", scale, ports, lb } };
}

/** A rule as `corral lb ls` prints it: `443/https shop.example.com/api -> web:8080`. */
export function ruleText(rule: PortRule): string {
  let out = String(rule.source_port);
  if (rule.protocol && rule.protocol !== "http") out += `/${rule.protocol}`;
  if (rule.hostname || rule.path) out += ` ${rule.hostname ?? ""}${rule.path ?? ""}`;
  out += ` -> ${rule.target_service}`;
  if (rule.target_port) out += `:${rule.target_port}`;
  if (rule.priority) out += ` priority=${rule.priority}`;
  return out;
}

/** The certificates a balancer names (its list, then its default). */
export function certificatesOf(lb: LbConfig): string[] {
  const names = [...(lb.certificates ?? [])];
  if (lb.default_certificate && !names.includes(lb.default_certificate)) names.push(lb.default_certificate);
  return names;
}

/** Where an API error's field points in the form. */
export type FieldPlace =
  | { at: "rule"; index: number; field: keyof RuleForm }
  | { at: "name" | "certificates" | "form" };

const RULE_FIELDS: Record<string, keyof RuleForm> = {
  source_port: "sourcePort",
  protocol: "protocol",
  hostname: "hostname",
  path: "path",
  target_service: "targetService",
  target_port: "targetPort",
};

export function placeOf(field: string | undefined): FieldPlace {
  if (!field) return { at: "form" };
  const rule = /^(?:spec\.lb\.)?port_rules\[(\d+)\]\.(\w+)/.exec(field);
  if (rule) {
    const f = RULE_FIELDS[rule[2] ?? ""];
    if (f) return { at: "rule", index: Number(rule[1]), field: f };
  }
  if (field === "meta.name" || field === "name") return { at: "name" };
  if (/certificate/.test(field)) return { at: "certificates" };
  return { at: "form" };
}
