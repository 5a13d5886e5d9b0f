import { describe, expect, it } from "vitest";

import type { InstanceObject } from "./model";
import {
  formFieldOf,
  formOf,
  joinWords,
  sameJson,
  specOf,
  splitWords,
  upgradeProgress,
  validate,
  type FullServiceObject,
  type FullServiceSpec,
} from "./serviceForm";

describe("the command line", () => {
  it("splits as a shell does and joins back", () => {
    expect(splitWords(`sh -c 'sleep 3600'`)).toEqual(["sh", "-c", "sleep 3600"]);
    expect(splitWords(`echo "a \\"b\\"" c\\ d ''`)).toEqual(["echo", 'a "b"', "c d", ""]);
    expect(splitWords("  ")).toEqual([]);
    expect(() => splitWords("echo 'a")).toThrow(/not closed/);
    for (const words of [["sh", "-c", "echo it's $HOME"], ["a=b", "x y"], []]) {
      expect(splitWords(joinWords(words))).toEqual(words);
    }
  });
});

const spec: FullServiceSpec = {
  image: "busybox:latest",
  command: ["sh", "-c", "sleep 3600"],
  env: { A: "1" },
  ports: [{ host_port: 8080, container_port: 80, protocol: "tcp" }],
  scale: 2,
  restart: "always",
  volumes: [{ kind: "volume", source: "data", target: "/data" }],
  health_check: {
    probe: { type: "command", command: ["CMD-SHELL", "true"] },
    interval_ms: 1000,
    timeout_ms: 2000,
    healthy_threshold: 1,
    unhealthy_threshold: 3,
    start_period_ms: 0,
    initializing_timeout_ms: 60000,
  },
  placement: { rules: [{ on: "node_label", key: "disk", value: "ssd", equal: false, strength: "soft" }], max_per_node: 1 },
  update: { batch_size: 1, interval_ms: 0, order: "stop-first", failure_action: "rollback", monitor_ms: 60000 },
  stack: "shop",
  links: [{ service: "db", alias: "db" }],
};

describe("the form of a service", () => {
  it("shows a spec and gives it back, keeping what it does not show", () => {
    const form = formOf("web", spec);
    expect(form.command).toBe("sh -c 'sleep 3600'");
    expect(form.probeCommand).toBe("true");
    expect(form.interval).toBe("1");
    expect(validate(form, false)).toEqual({});
    const back = specOf(form, spec).spec;
    expect(back.stack).toBe("shop");
    expect(back.links).toEqual(spec.links);
    expect(back.placement?.max_per_node).toBe(1);
    expect(back.health_check?.initializing_timeout_ms).toBe(60000);
    expect(sameJson({ ...back, volumes: spec.volumes }, spec)).toBe(true);
    expect(back.volumes).toEqual([{ kind: "volume", source: "data", target: "/data", read_only: false }]);
  });

  it("drops blank rows, and without a probe there is no health check", () => {
    const form = { ...formOf("web"), image: "x", ports: [{ host: "", container: "", protocol: "tcp" as const }] };
    const { spec: out, rows } = specOf(form);
    expect(out.ports).toEqual([]);
    expect(out.health_check).toBeUndefined();
    expect(rows.ports).toEqual([]);
  });

  it("checks single fields as the API does", () => {
    const form = {
      ...formOf("Web"),
      image: "bad image",
      scale: "10001",
      command: "echo 'x",
      env: [{ key: "A=B", value: "1" }],
      ports: [{ host: "0", container: "70000", protocol: "tcp" as const }],
      probe: "tcp" as const,
      probePort: "",
    };
    expect(validate(form, true)).toEqual({
      name: expect.stringMatching(/lowercase/) as string,
      image: "must not contain whitespace",
      command: "the quote ' is not closed",
      scale: "must be from 0 to 10000",
      "env.0.key": "variable names must be non-empty and contain no '=' or NUL",
      "ports.0.container": "must be from 1 to 65535",
      "ports.0.host": "must be from 1 to 65535",
      "health.port": "must be a whole number from 1 to 65535",
    });
    expect(validate({ ...formOf("web"), image: "x" }, false)).toEqual({});
  });
});

describe("the field an API error names", () => {
  it("is mapped to the form's input, across blank rows", () => {
    const form = {
      ...formOf("web", spec),
      ports: [
        { host: "", container: "", protocol: "tcp" as const },
        { host: "8080", container: "80", protocol: "tcp" as const },
        { host: "8080", container: "81", protocol: "tcp" as const },
      ],
      env: [{ key: "A", value: "1" }, { key: "B", value: "2" }],
    };
    const { rows } = specOf(form, spec);
    expect(formFieldOf("spec.ports[1].host_port", rows)).toBe("ports.2.host");
    expect(formFieldOf("spec.ports[0].container_port", rows)).toBe("ports.1.container");
    expect(formFieldOf("spec.image", rows)).toBe("image");
    expect(formFieldOf("meta.name", rows)).toBe("name");
    expect(formFieldOf("spec.scale", rows)).toBe("scale");
    expect(formFieldOf("spec.env.B", rows)).toBe("env.1.key");
    expect(formFieldOf("spec.health_check.interval_ms", rows)).toBe("health.interval");
    expect(formFieldOf("spec.placement.rules[0].on", rows)).toBe("rules.0.value");
    expect(formFieldOf("spec.container_labels", rows)).toBe("form");
    expect(formFieldOf(undefined, rows)).toBe("form");
  });
});

describe("a rolling upgrade's progress", () => {
  const v1 = { ...spec, scale: 0, update: undefined };
  const v2 = { ...v1, env: { A: "2" } };
  function instance(n: number, launch: object, state: "running" | "starting", health: "healthy" | "initializing"): InstanceObject {
    return {
      kind: "Instance",
      meta: { environment: "default", name: `web-${n}`, uid: "", revision: 1, generation: 1, labels: {}, created: "" },
      spec: { service: "web", launch: JSON.parse(JSON.stringify(launch)) as object },
      status: { state, health },
    };
  }
  it("counts the instances on the new revision and the batch under way", () => {
    const service: FullServiceObject = {
      kind: "Service",
      meta: { environment: "default", name: "web", uid: "", revision: 9, generation: 2, labels: {}, created: "" },
      spec: { ...spec, scale: 3, env: { A: "2" } },
      status: {
        upgrade: { state: "upgrading", revision: 2, started_at: "" },
        history: [
          { revision: 1, launch: v1 },
          { revision: 2, launch: v2 },
        ],
      },
    };
    const progress = upgradeProgress(service, [
      instance(1, v2, "running", "healthy"),
      instance(2, v2, "starting", "initializing"),
      instance(3, v1, "running", "healthy"),
    ]);
    expect(progress).toMatchObject({ wanted: 3, updated: 2, ready: 1, old: 1, batch: 2, batches: 3, state: "upgrading" });
    expect(upgradeProgress({ ...service, status: {} }, [])).toBeNull();
  });
});
