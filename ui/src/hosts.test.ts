import { describe, expect, it } from "vitest";

import { agentCommand, canWrite } from "./pages/Hosts";

describe("the hosts page", () => {
  it("builds the line corral host add-command prints", () => {
    expect(agentCommand("https://10.0.0.1:7480", "sha256:ab", "crl_r_x_y")).toBe(
      "corral agent --server https://10.0.0.1:7480 --ca-fingerprint sha256:ab --registration-token crl_r_x_y",
    );
    expect(agentCommand("http://h:1", "", "t")).toBe("corral agent --server http://h:1 --registration-token t");
  });

  it("shows host buttons to owners, members and admins only", () => {
    expect(["owner", "member", "admin", "restricted", "read-only"].map(canWrite)).toEqual([true, true, true, false, false]);
  });
});
