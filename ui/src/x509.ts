// What the certificates page shows of a certificate: its names (the
// subject's CN and the DNS names and addresses of subjectAltName) and its
// validity, read from the first CERTIFICATE block of the PEM the API
// answers (the API never answers the key). A small DER reader: the UI
// needs three fields, not an X.509 library.

export interface CertificateSummary {
  /** The subject's common name ("" when it has none). */
  commonName: string;
  /** subjectAltName's DNS names and IP addresses, else the CN. */
  names: string[];
  /** RFC 3339. */
  notBefore: string;
  notAfter: string;
}

interface Node {
  tag: number;
  /** The contents, without tag and length. */
  body: Uint8Array;
  /** Where the next element starts in the buffer read. */
  end: number;
}

function read(buf: Uint8Array, at: number): Node {
  const tag = buf[at];
  let len = buf[at + 1];
  if (tag === undefined || len === undefined) throw new Error("truncated DER");
  let start = at + 2;
  if (len & 0x80) {
    const count = len & 0x7f;
    if (count === 0 || count > 4) throw new Error("unsupported DER length");
    len = 0;
    for (let i = 0; i < count; i++) len = len * 256 + (buf[start + i] ?? 0);
    start += count;
  }
  const end = start + len;
  if (end > buf.length) throw new Error("truncated DER");
  return { tag, body: buf.subarray(start, end), end };
}

function children(node: Node): Node[] {
  const out: Node[] = [];
  for (let at = 0; at < node.body.length; ) {
    const child = read(node.body, at);
    out.push(child);
    at = child.end;
  }
  return out;
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const OID_CN = "550403";
const OID_SAN = "551d11";

/** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) as RFC 3339. */
export function derTime(node: Node): string {
  const s = text(node.body);
  const full = node.tag === 0x17 ? `${Number(s.slice(0, 2)) >= 50 ? "19" : "20"}${s}` : s;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(full);
  if (!m) throw new Error(`unsupported time ${s}`);
  return `${m[1] ?? ""}-${m[2] ?? ""}-${m[3] ?? ""}T${m[4] ?? ""}:${m[5] ?? ""}:${m[6] ?? ""}Z`;
}

function commonName(name: Node): string {
  for (const set of children(name)) {
    for (const attribute of children(set)) {
      const [oid, value] = children(attribute);
      if (oid && value && hex(oid.body) === OID_CN) return text(value.body);
    }
  }
  return "";
}

function ip(bytes: Uint8Array): string {
  if (bytes.length === 4) return [...bytes].join(".");
  const groups: string[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(":");
}

function altNames(extensions: Node): string[] {
  const names: string[] = [];
  const [list] = children(extensions);
  if (!list) return names;
  for (const extension of children(list)) {
    const parts = children(extension);
    const oid = parts[0];
    const value = parts[parts.length - 1];
    if (!oid || !value || hex(oid.body) !== OID_SAN) continue;
    for (const general of children(read(value.body, 0))) {
      if (general.tag === 0x82) names.push(text(general.body));
      if (general.tag === 0x87) names.push(ip(general.body));
    }
  }
  return names;
}

/** The DER of the first CERTIFICATE block of `pem`, or null. */
export function firstCertificate(pem: string): Uint8Array | null {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) return null;
  try {
    const binary = atob((m[1] ?? "").replace(/\s+/g, ""));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** The names and validity of the first certificate in `pem`; null if it does not parse. */
export function summarize(pem: string): CertificateSummary | null {
  const der = firstCertificate(pem);
  if (!der) return null;
  try {
    const [tbs] = children(read(der, 0));
    if (!tbs) return null;
    const fields = children(tbs);
    // Skip the explicit version ([0]) when present.
    const rest = fields[0]?.tag === 0xa0 ? fields.slice(1) : fields;
    const [, , , validity, subject, , ...optional] = rest;
    if (!validity || !subject) return null;
    const [from, to] = children(validity);
    if (!from || !to) return null;
    const cn = commonName(subject);
    const extensions = optional.find((n) => n.tag === 0xa3);
    const alt = extensions ? altNames(extensions) : [];
    return {
      commonName: cn,
      names: alt.length > 0 ? alt : cn ? [cn] : [],
      notBefore: derTime(from),
      notAfter: derTime(to),
    };
  } catch {
    return null;
  }
}

/** Days from `now` until `notAfter` (negative once expired), rounded down. */
export function daysLeft(notAfter: string, now: number): number {
  return Math.floor((Date.parse(notAfter) - now) / 86_400_000);
}
