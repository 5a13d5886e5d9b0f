// People and credentials as the API answers them (crates/types/src/access.rs,
// crates/api/src/access.rs; never a hash or a secret but the one answer of
// a new key), and the pure parts of the members and admin pages.

import type { ApiObject } from "./api";

export const ROLES = ["owner", "member", "restricted", "read-only"] as const;
export type Role = (typeof ROLES)[number];

export interface UserSpec {
  display_name?: string;
  admin?: boolean;
  provider?: string;
  disabled?: boolean;
}
export type UserObject = ApiObject<UserSpec, { last_login?: string; groups?: string[] } | null>;

export interface MemberSpec {
  /** A user name, or `group:NAME`. */
  subject: string;
  role: Role;
}
export type MemberObject = ApiObject<MemberSpec>;

export interface ApiKeySpec {
  description?: string;
  user: string;
  environment?: string;
  role?: Role;
  active: boolean;
}
export type ApiKeyObject = ApiObject<ApiKeySpec, { last_used?: string } | null>;

/** `POST /v1/apikeys` and `.../tokens` answer the secret once. */
export interface SecretCreated {
  id: string;
  token: string;
  expires?: string;
}

export interface AuditRecord {
  time_ms: number;
  time: string;
  user: string;
  method: string;
  client: string;
  environment: string;
  /** `POST /v1/users`. */
  verb: string;
  /** `users/bob`. */
  object: string;
  code: number;
  summary: string;
}

export interface AuditList {
  items: AuditRecord[];
}

/** What a members request names: a user, or `group:NAME`. */
export function subjectOf(kind: "user" | "group", name: string): string {
  const n = name.trim();
  return kind === "group" ? `group:${n}` : n;
}

/** A member's subject for people: `ops (group)` or the user's name. */
export function subjectLabel(subject: string): string {
  return subject.startsWith("group:") ? `${subject.slice("group:".length)} (group)` : subject;
}

/** Only owners (and admins) change members; the API decides either way. */
export function canManageMembers(role: string): boolean {
  return role === "owner" || role === "admin";
}

export function sortMembers(members: readonly MemberObject[]): MemberObject[] {
  return [...members].sort((a, b) => a.spec.subject.localeCompare(b.spec.subject));
}

/** `GET /v1/audit` for a user (exact, server-side) and at most `limit` records. */
export function auditPath(user: string, limit: number): string {
  const query = new URLSearchParams({ limit: String(limit) });
  if (user.trim()) query.set("user", user.trim());
  return `/v1/audit?${query.toString()}`;
}

/** A record's action: its verb, and the object it named. */
export function actionOf(record: AuditRecord): string {
  return record.object ? `${record.verb} ${record.object}` : record.verb;
}

/**
 * The records whose action contains `action` (any case; the API filters by
 * user and environment only), newest first.
 */
export function filterAudit(records: readonly AuditRecord[], action: string): AuditRecord[] {
  const wanted = action.trim().toLowerCase();
  return records
    .filter((r) => !wanted || actionOf(r).toLowerCase().includes(wanted) || r.summary.toLowerCase().includes(wanted))
    .sort((a, b) => b.time_ms - a.time_ms);
}

/** The API key's one line for people: `owner in dev`, or `account` (the user's own rights). */
export function keyScope(spec: ApiKeySpec): string {
  return spec.environment ? `${spec.role ?? "member"} in ${spec.environment}` : "account (the user's rights)";
}
