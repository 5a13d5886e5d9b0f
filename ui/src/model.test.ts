import { expect, it } from "vitest";

import { countBy, formatBytes, pendingInstances, type InstanceObject } from "./model";

function instance(name: string, state: "pending" | "running" | null, reason = ""): InstanceObject {
  return {
    kind: "instance",
    meta: { environment: "default", name, uid: name, revision: 1, generation: 1, labels: {}, created: "" },
    spec: { service: "web" },
    status: state === null ? null : { state, reason },
  };
}

it("counts by a key in first-seen order", () => {
  expect(countBy(["a", "b", "a"], (x) => x)).toEqual([
    ["a", 2],
    ["b", 1],
  ]);
});

it("lists pending instances with the scheduler's reason", () => {
  const pending = pendingInstances([
    instance("web-1", "running"),
    instance("web-2", "pending", "no node has 4 GiB of memory free (2 nodes)"),
    instance("web-3", null),
  ]);
  expect(pending).toEqual([
    { name: "web-2", service: "web", reason: "no node has 4 GiB of memory free (2 nodes)" },
    { name: "web-3", service: "web", reason: "waiting for the scheduler" },
  ]);
});

it("formats bytes", () => {
  expect(formatBytes(undefined)).toBe("–");
  expect(formatBytes(512)).toBe("512 B");
  expect(formatBytes(3 * 1024 ** 3)).toBe("3.0 GiB");
});
