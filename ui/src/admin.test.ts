import { expect, it } from "vitest";

import {
  auditPath,
  canManageMembers,
  filterAudit,
  keyScope,
  subjectLabel,
  subjectOf,
  type AuditRecord,
} from "./admin";

function record(time_ms: number, verb: string, object: string, summary = ""): AuditRecord {
  return { time_ms, time: "", user: "admin", method: "session", client: "", environment: "", verb, object, code: 200, summary };
}

it("names members by user or group", () => {
  expect(subjectOf("user", " bob ")).toBe("bob");
  expect(subjectOf("group", "ops")).toBe("group:ops");
  expect(subjectLabel("group:ops")).toBe("ops (group)");
  expect(subjectLabel("bob")).toBe("bob");
  expect(["owner", "admin", "member", "read-only"].map(canManageMembers)).toEqual([true, true, false, false]);
});

it("asks the audit log for a user, and filters actions in the browser, newest first", () => {
  expect(auditPath("", 200)).toBe("/v1/audit?limit=200");
  expect(auditPath(" bob ", 50)).toBe("/v1/audit?limit=50&user=bob");
  const records = [
    record(1, "POST /v1/users", "users/bob"),
    record(3, "POST /v1/apikeys/{name}/deactivate", "apikeys/k1"),
    record(2, "GET /v1/whoami", "", "role owner"),
  ];
  expect(filterAudit(records, "").map((r) => r.time_ms)).toEqual([3, 2, 1]);
  expect(filterAudit(records, "USERS/").map((r) => r.time_ms)).toEqual([1]);
  expect(filterAudit(records, "deactivate").map((r) => r.time_ms)).toEqual([3]);
  expect(filterAudit(records, "owner").map((r) => r.time_ms)).toEqual([2]);
});

it("says what an API key may do", () => {
  expect(keyScope({ user: "bob", active: true })).toBe("account (the user's rights)");
  expect(keyScope({ user: "bob", active: true, environment: "dev", role: "read-only" })).toBe("read-only in dev");
});
