import { describe, expect, it } from "vitest";

import { adminPageOf, adminPath, pageOf, pathOf } from "./route";

describe("the addresses of an environment's pages", () => {
  it("reads each page from its address, and writes it back", () => {
    const cases = [
      ["/environments/dev", { page: "dashboard" }],
      ["/environments/dev/hosts", { page: "hosts" }],
      ["/environments/dev/services", { page: "services" }],
      ["/environments/dev/balancers", { page: "balancers" }],
      ["/environments/dev/members", { page: "members" }],
      ["/environments/dev/services/web", { page: "service", name: "web" }],
      ["/environments/dev/instances/web-1", { page: "instance", name: "web-1" }],
      ["/environments/dev/stacks", { page: "stacks" }],
      ["/environments/dev/stacks/shop", { page: "stack", name: "shop" }],
      ["/environments/dev/catalog", { page: "catalog" }],
      ["/environments/dev/catalog/library/hello", { page: "template", id: "library/hello" }],
      ["/environments/dev/catalog/my%20cat/a%3Fb", { page: "template", id: "my cat/a?b" }],
    ] as const;
    for (const [path, page] of cases) {
      expect(pageOf(path)).toEqual(page);
      expect(pathOf("dev", page)).toBe(path);
    }
  });

  it("takes an unknown or broken address for the dashboard", () => {
    expect(pageOf("/environments/dev/nothing")).toEqual({ page: "dashboard" });
    expect(pageOf("/environments/dev/instances/%E0")).toEqual({ page: "dashboard" });
    expect(pageOf("/login")).toEqual({ page: "dashboard" });
    expect(pageOf("/environments/dev/catalog/library")).toEqual({ page: "catalog" });
    expect(pageOf("/environments/dev/catalog/library/%E0")).toEqual({ page: "catalog" });
  });
});

describe("the admin pages' addresses", () => {
  it("reads each from its address, and writes it back", () => {
    for (const page of ["users", "apikeys", "audit"] as const) {
      expect(adminPageOf(adminPath(page))).toBe(page);
    }
    expect(adminPageOf("/admin")).toBe("users");
    expect(adminPageOf("/admin/nothing")).toBe("users");
    expect(adminPageOf("/environments/admin")).toBeNull();
    expect(adminPageOf("/administrators")).toBeNull();
  });
});
