import { describe, expect, it } from "vitest";

import type { ApiObject } from "./api";
import type { ServiceSpec, ServiceStatus } from "./model";
import {
  composeName,
  downloadName,
  edgesOf,
  filesToSend,
  layers,
  lineOf,
  locate,
  nameError,
  planKey,
  servicesByStack,
  servicesOf,
  summarize,
  withFiles,
} from "./stacks";

type Linked = ApiObject<ServiceSpec & { links?: { service: string; alias: string }[]; depends_on?: { service: string; condition?: string }[] }, ServiceStatus>;

function service(name: string, stack: string, health: string, scale: number, running: number, links: object = {}): Linked {
  return {
    kind: "Service",
    meta: { environment: "default", name, uid: name, revision: 1, generation: 1, labels: {}, created: "" },
    spec: { image: "busybox", stack, scale, ...links },
    status: { health, running },
  };
}

describe("the compose files of a deploy", () => {
  it("puts docker-compose files before rancher-compose files, and an upload replaces a file of its name", () => {
    const pasted = { name: "docker-compose.yml", content: "services: {}\n" };
    const rancher = { name: "rancher-compose.yml", content: "version: '2'\n" };
    const next = withFiles([pasted], [rancher, { name: "docker-compose.yml", content: "services:\n  a: {}\n" }]);
    expect(next.map((f) => f.name)).toEqual(["docker-compose.yml", "rancher-compose.yml"]);
    expect(next[0]?.content).toBe("services:\n  a: {}\n");
    expect(withFiles([rancher], [pasted]).map((f) => f.name)).toEqual(["docker-compose.yml", "rancher-compose.yml"]);
  });

  it("sends only files with content, and a plan is of the name and exactly that text", () => {
    const compose = { name: "docker-compose.yml", content: "services: {}\n" };
    const files = [compose, { name: "rancher-compose.yml", content: "  \n" }];
    expect(filesToSend(files)).toEqual([compose]);
    const key = planKey("shop", files);
    expect(planKey("shop", [{ ...compose }])).toBe(key);
    expect(planKey("shop", [{ name: "docker-compose.yml", content: "services: {} \n" }])).not.toBe(key);
    expect(planKey("shop2", files)).not.toBe(key);
  });

  it("checks a stack's name as the API does", () => {
    expect(nameError("shop-1")).toBeNull();
    expect(nameError("")).toBe("must not be empty");
    expect(nameError("Shop")).toMatch(/lowercase/);
    expect(nameError("shop-")).toMatch(/start and end/);
    expect(nameError("a".repeat(64))).toMatch(/63/);
  });
});

describe("where an error points", () => {
  it("reads FILE:LINE: KEY: message for a known file", () => {
    const files = ["docker-compose.yml", "rancher-compose.yml"];
    expect(locate("docker-compose.yml:3: services.web.imag: unknown key", files)).toEqual({
      file: "docker-compose.yml",
      line: 3,
      key: "services.web.imag",
      message: "unknown key",
    });
    expect(locate("rancher-compose.yml:0: (root): the file is empty", files)?.line).toBe(0);
    expect(locate("services.db.x: docker-compose.yml:15: services.db.x: unknown key", files)).toEqual({
      file: "docker-compose.yml",
      line: 15,
      key: "services.db.x",
      message: "unknown key",
    });
    expect(locate("services.web: something else", files)).toBeNull();
    expect(locate("other.yml:3: a: b", files)).toBeNull();
  });

  it("finds the line it names", () => {
    expect(lineOf("a\nb\nc", 2)).toBe("b");
    expect(lineOf("a", 0)).toBeNull();
    expect(lineOf("a", 5)).toBeNull();
  });
});

describe("a stack's services", () => {
  it("names them as the compose file does and sums them up", () => {
    expect(composeName("shop", "shop-web")).toBe("web");
    expect(composeName("shop", "other")).toBe("other");
    const s = summarize([service("shop-web", "shop", "healthy", 2, 2), service("shop-db", "shop", "degraded", 1, 0)]);
    expect(s).toEqual({ services: 2, scale: 3, running: 2, health: "degraded" });
    expect(summarize([]).health).toBe("–");
  });

  it("draws links and dependencies, the services depended on left", () => {
    const web = service("shop-web", "shop", "", 1, 1, {
      links: [{ service: "db", alias: "database" }],
      depends_on: [{ service: "cache", condition: "service_healthy" }],
    });
    const cache = service("shop-cache", "shop", "", 1, 1, { depends_on: [{ service: "db" }] });
    const db = service("shop-db", "shop", "", 1, 1);
    const edges = edgesOf("shop", [web, cache, db]);
    expect(edges).toEqual([
      { from: "web", to: "db", kind: "link", detail: "database" },
      { from: "web", to: "cache", kind: "depends_on", detail: "service_healthy" },
      { from: "cache", to: "db", kind: "depends_on", detail: "service_started" },
    ]);
    const at = layers(["web", "cache", "db"], edges);
    expect([at.get("db"), at.get("cache"), at.get("web")]).toEqual([0, 1, 2]);
    // A cycle does not loop forever.
    const cycle = layers(["a", "b"], [
      { from: "a", to: "b", kind: "link", detail: "" },
      { from: "b", to: "a", kind: "link", detail: "" },
    ]);
    expect(cycle.size).toBe(2);
  });

  it("keeps download names plain", () => {
    expect(downloadName("docker-compose.yml", "x")).toBe("docker-compose.yml");
    expect(downloadName("../a/b", "x")).toBe(".._a_b");
    expect(downloadName("..", "x")).toBe("x");
  });
});

describe("servicesByStack", () => {
  it("groups the services by their stack in one pass, as servicesOf does one by one", () => {
    const all = [service("shop-web", "shop", "healthy", 1, 1), service("blog-db", "blog", "", 1, 0), service("shop-db", "shop", "", 1, 1)];
    const lone: Linked = { ...service("lone", "", "", 1, 1) };
    const by = servicesByStack([...all, lone]);
    expect(by.get("shop")).toEqual(servicesOf("shop", all));
    expect(by.get("blog")?.map((s) => s.meta.name)).toEqual(["blog-db"]);
    expect([...by.keys()].sort()).toEqual(["blog", "shop"]);
  });
});
