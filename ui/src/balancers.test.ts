import { describe, expect, it } from "vitest";

import { balancerOf, certificatesOf, emptyRule, placeOf, ruleText } from "./balancers";

describe("a load balancer from the form", () => {
  it("is a service without image publishing each source port once", () => {
    const rules = [
      { ...emptyRule(), targetService: "web", targetPort: "8080" },
      { ...emptyRule(), sourcePort: "443", protocol: "https" as const, hostname: "shop.example.com", path: "/api", targetService: "shop/api" },
      { ...emptyRule(), hostname: " api.example.com ", targetService: "api" },
    ];
    expect(balancerOf(" edge ", 2, rules, ["shop"])).toEqual({
      kind: "Service",
      meta: { name: "edge" },
      spec: {
        image: "",
        scale: 2,
        ports: [
          { host_port: 80, container_port: 80, protocol: "tcp" },
          { host_port: 443, container_port: 443, protocol: "tcp" },
        ],
        lb: {
          port_rules: [
            { source_port: 80, protocol: "http", target_service: "web", target_port: 8080 },
            { source_port: 443, protocol: "https", hostname: "shop.example.com", path: "/api", target_service: "shop/api" },
            { source_port: 80, protocol: "http", hostname: "api.example.com", target_service: "api" },
          ],
          certificates: ["shop"],
        },
      },
    });
  });

  it("sends a port that is not a number as typed, for the API to name", () => {
    const body = balancerOf("edge", 1, [{ ...emptyRule(), sourcePort: "eighty", targetService: "web" }], []) as {
      spec: { ports: unknown[]; lb: { port_rules: { source_port: unknown }[]; certificates?: unknown } };
    };
    expect(body.spec.lb.port_rules[0]?.source_port).toBe("eighty");
    expect(body.spec.ports).toEqual([]);
    expect(body.spec.lb.certificates).toBeUndefined();
  });
});

it("prints rules as the CLI does", () => {
  expect(ruleText({ source_port: 80, protocol: "http", target_service: "web" })).toBe("80 -> web");
  expect(
    ruleText({ source_port: 443, protocol: "https", hostname: "a.example.com", path: "/v1", target_service: "shop/api", target_port: 9000, priority: 2 }),
  ).toBe("443/https a.example.com/v1 -> shop/api:9000 priority=2");
  expect(certificatesOf({ port_rules: [], certificates: ["a"], default_certificate: "b" })).toEqual(["a", "b"]);
  expect(certificatesOf({ port_rules: [], certificates: ["a"], default_certificate: "a" })).toEqual(["a"]);
});

it("places the API's error beside the field it names", () => {
  expect(placeOf("spec.lb.port_rules[1].hostname")).toEqual({ at: "rule", index: 1, field: "hostname" });
  expect(placeOf("spec.lb.port_rules[0].target_service")).toEqual({ at: "rule", index: 0, field: "targetService" });
  expect(placeOf("spec.lb.certificates[0]")).toEqual({ at: "certificates" });
  expect(placeOf("meta.name")).toEqual({ at: "name" });
  expect(placeOf("spec.ports")).toEqual({ at: "form" });
  expect(placeOf(undefined)).toEqual({ at: "form" });
});
