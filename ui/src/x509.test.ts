import { describe, expect, it } from "vitest";

import { daysLeft, summarize } from "./x509";

// openssl req -x509 -newkey ec ... -subj /CN=shop.example.com
//   -addext subjectAltName=DNS:shop.example.com,DNS:*.shop.example.com,IP:10.0.0.1
const WITH_SAN = `
-----BEGIN CERTIFICATE-----
MIIBxDCCAWqgAwIBAgIUfgfhaanGgA4ZvQhQOKMHH2w2QbYwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQc2hvcC5leGFtcGxlLmNvbTAeFw0yNjEyMDcwNjMxMjRaFw0y
NzAxMDYwNjMxMjRaMBsxGTAXBgNVBAMMEHNob3AuZXhhbXBsZS5jb20wWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAAShU+unj0UmCa7/9IGhqoBtG4GGDuaTD4H3v6dM
UkPaBbEbGulhnPTLiIRsYrKEusIb+OkDOkFe2y4NX1skUyz4o4GLMIGIMB0GA1Ud
DgQWBBQQO19u4RDhzx7EP4lGepUVmrKeOTAfBgNVHSMEGDAWgBQQO19u4RDhzx7E
P4lGepUVmrKeOTAPBgNVHRMBAf8EBTADAQH/MDUGA1UdEQQuMCyCEHNob3AuZXhh
bXBsZS5jb22CEiouc2hvcC5leGFtcGxlLmNvbYcECgAAATAKBggqhkjOPQQDAgNI
ADBFAiEA8MLymvEiUmdXUs8+tYGVgDxkNoV2JH0KFQKVFj/mlycCIE6GJBadAv8C
etxZim2ovq3tPeyiJd+1GzEXBKwdrL+j
-----END CERTIFICATE-----
`;

// The same without subjectAltName, valid ten years, with an O before the CN.
const CN_ONLY = `
-----BEGIN CERTIFICATE-----
MIIBrDCCAVOgAwIBAgIUHO4/Yq2OgD4DTLjQ+VgC9XeVtSYwCgYIKoZIzj0EAwIw
LDENMAsGA1UECgwEQWNtZTEbMBkGA1UEAwwSbGVnYWN5LmV4YW1wbGUub3JnMB4X
DTI2MTIwNzA2MzEzNVoXDTM2MTIwNDA2MzEzNVowLDENMAsGA1UECgwEQWNtZTEb
MBkGA1UEAwwSbGVnYWN5LmV4YW1wbGUub3JnMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEfq9OO7QqtwIYx3/PCC827Mla9jF7LcabqJKX7nRL455auHOOQ8yT4q3d
52UXhGuV81USu6oqkW2Jmofjlr+956NTMFEwHQYDVR0OBBYEFL2XKSbLllST1zG3
DYVemjJZ82dXMB8GA1UdIwQYMBaAFL2XKSbLllST1zG3DYVemjJZ82dXMA8GA1Ud
EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgS+PbFF+vv4YNhe4SnPBcDzk4
GL+DbBCmQRSgNCuaKyUCIG5r+dFnWFaVAWyG/JetvhkgQXhZwOGgNodn4M2jEg/d
-----END CERTIFICATE-----
`;

describe("a certificate's summary", () => {
  it("reads the alternative names and the validity", () => {
    expect(summarize(WITH_SAN)).toEqual({
      commonName: "shop.example.com",
      names: ["shop.example.com", "*.shop.example.com", "10.0.0.1"],
      notBefore: "2026-12-07T06:31:24Z",
      notAfter: "2027-01-06T06:31:24Z",
    });
  });

  it("falls back to the common name, and reads the first block of a chain", () => {
    const summary = summarize(`${CN_ONLY}\n${WITH_SAN}`);
    expect(summary?.names).toEqual(["legacy.example.org"]);
    expect(summary?.notAfter).toBe("2036-12-04T06:31:35Z");
  });

  it("answers null for what is not a certificate", () => {
    expect(summarize("")).toBeNull();
    expect(summarize("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")).toBeNull();
    expect(summarize("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----")).toBeNull();
  });

  it("counts the days left", () => {
    expect(daysLeft("2027-01-06T00:00:00Z", Date.parse("2027-01-01T00:00:00Z"))).toBe(5);
    expect(daysLeft("2027-01-06T00:00:00Z", Date.parse("2027-01-07T00:00:00Z"))).toBe(-1);
  });
});
