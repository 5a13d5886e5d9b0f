// Load balancers and certificates of an environment. A balancer is a
// service with port rules (`spec.lb`): listed live with its rules, targets
// and certificates, created from a form of rules, removed. Certificates:
// names and expiry read from the public PEM (the API never answers a key,
// and this page never shows one), added by pasting or uploading the PEMs,
// removed. Two streams while open (services, certificates).

import { useState, type ReactElement, type ReactNode } from "react";

import { ApiError, type Client } from "../api";
import {
  balancerOf,
  certificatesOf,
  emptyRule,
  isBalancer,
  placeOf,
  PROTOCOLS,
  ruleText,
  type BalancerObject,
  type CertificateObject,
  type FieldPlace,
  type LbProtocol,
  type RuleForm,
} from "../balancers";
import { besideField } from "../forms";
import { useLive } from "../useLive";
import { daysLeft, summarize } from "../x509";

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function envPath(env: string, rest: string): string {
  return `/v1/environments/${encodeURIComponent(env)}/${rest}`;
}

interface FormError {
  message: string;
  place: FieldPlace;
}

function errorOf(e: unknown): FormError {
  const place = placeOf(e instanceof ApiError ? e.field : undefined);
  return { message: place.at === "form" ? message(e) : besideField(e), place };
}

/** The error beside a field, when it names that field. */
function FieldError({ error, id }: { error: string | null; id: string }): ReactNode {
  if (!error) return null;
  return (
    <span role="alert" id={id} className="error inline">
      {error}
    </span>
  );
}

function samePlace(a: FieldPlace, b: FieldPlace): boolean {
  if (a.at === "rule" && b.at === "rule") return a.index === b.index && a.field === b.field;
  return a.at === b.at;
}

function NewBalancer({
  client,
  env,
  services,
  certificates,
}: {
  client: Client;
  env: string;
  services: string[];
  certificates: string[];
}): ReactElement {
  const [name, setName] = useState("");
  const [scale, setScale] = useState("1");
  const [rules, setRules] = useState<RuleForm[]>([emptyRule()]);
  const [certs, setCerts] = useState<string[]>([]);
  const [error, setError] = useState<FormError | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<string | null>(null);

  const at = (place: FieldPlace): string | null => (error && samePlace(error.place, place) ? error.message : null);
  function setRule(index: number, change: Partial<RuleForm>): void {
    setRules((rs) => rs.map((r, i) => (i === index ? { ...r, ...change } : r)));
  }
  async function submit(): Promise<void> {
    setBusy(true);
    setError(null);
    setCreated(null);
    try {
      await client.request<unknown>(
        "POST",
        envPath(env, "services"),
        balancerOf(name, Number(scale) || 0, rules, certs),
      );
      setCreated(name.trim());
      setName("");
      setRules([emptyRule()]);
      setCerts([]);
    } catch (e) {
      setError(errorOf(e));
    } finally {
      setBusy(false);
    }
  }
  const input = (label: string, value: string, onChange: (v: string) => void, place: FieldPlace, id: string, extra?: { list?: string; placeholder?: string }): ReactElement => {
    const problem = at(place);
    return (
      <label>
        {label}
        <input
          value={value}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? `${id}-error` : undefined}
          list={extra?.list}
          placeholder={extra?.placeholder}
          onChange={(e) => { onChange(e.target.value); }}
        />
        <FieldError error={problem} id={`${id}-error`} />
      </label>
    );
  };
  return (
    <section aria-labelledby="new-balancer" className="panel">
      <h2 id="new-balancer">New load balancer</h2>
      <form
        className="form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <div className="form-row">
          {input("Name", name, setName, { at: "name" }, "lb-name")}
          <label>
            Scale
            <input type="number" min={0} value={scale} onChange={(e) => { setScale(e.target.value); }} />
          </label>
        </div>
        <datalist id="lb-targets">
          {services.map((s) => (
            <option key={s} value={s} />
          ))}
        </datalist>
        {rules.map((rule, index) => (
          <fieldset key={index} className="form-row rule">
            <legend>Rule {index + 1}</legend>
            {input("Source port", rule.sourcePort, (v) => { setRule(index, { sourcePort: v }); }, { at: "rule", index, field: "sourcePort" }, `rule-${index}-source`)}
            <label>
              Protocol
              <select
                value={rule.protocol}
                onChange={(e) => { setRule(index, { protocol: e.target.value as LbProtocol }); }}
              >
                {PROTOCOLS.map((p) => (
                  <option key={p} value={p}>
                    {p}
                  </option>
                ))}
              </select>
              <FieldError error={at({ at: "rule", index, field: "protocol" })} id={`rule-${index}-protocol-error`} />
            </label>
            {input("Hostname", rule.hostname, (v) => { setRule(index, { hostname: v }); }, { at: "rule", index, field: "hostname" }, `rule-${index}-hostname`, { placeholder: "any" })}
            {input("Path", rule.path, (v) => { setRule(index, { path: v }); }, { at: "rule", index, field: "path" }, `rule-${index}-path`, { placeholder: "/" })}
            {input("Target service", rule.targetService, (v) => { setRule(index, { targetService: v }); }, { at: "rule", index, field: "targetService" }, `rule-${index}-target`, { list: "lb-targets", placeholder: "service or stack/service" })}
            {input("Target port", rule.targetPort, (v) => { setRule(index, { targetPort: v }); }, { at: "rule", index, field: "targetPort" }, `rule-${index}-target-port`, { placeholder: "the source port" })}
            {rules.length > 1 && (
              <button
                type="button"
                aria-label={`Remove rule ${index + 1}`}
                onClick={() => { setRules((rs) => rs.filter((_, i) => i !== index)); }}
              >
                ✕
              </button>
            )}
          </fieldset>
        ))}
        <div className="toolbar">
          <button type="button" onClick={() => { setRules((rs) => [...rs, emptyRule()]); }}>
            Add rule
          </button>
        </div>
        <fieldset className="form-row">
          <legend>Certificates (for https and tls rules)</legend>
          {certificates.length === 0 && <span className="empty">No certificates in {env}.</span>}
          {certificates.map((c) => (
            <label key={c} className="check">
              <input
                type="checkbox"
                checked={certs.includes(c)}
                onChange={(e) => {
                  const on = e.target.checked;
                  setCerts((cs) => (on ? [...cs, c] : cs.filter((x) => x !== c)));
                }}
              />
              {c}
            </label>
          ))}
          <FieldError error={at({ at: "certificates" })} id="lb-certs-error" />
        </fieldset>
        <div className="toolbar">
          <button type="submit" disabled={busy}>
            Create load balancer
          </button>
          {created && <span role="status">created {created}</span>}
        </div>
        <FieldError error={at({ at: "form" })} id="lb-form-error" />
      </form>
    </section>
  );
}

function BalancerRow({
  client,
  env,
  balancer,
  writable,
}: {
  client: Client;
  env: string;
  balancer: BalancerObject;
  writable: boolean;
}): ReactElement {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const name = balancer.meta.name;
  const lb = balancer.spec.lb ?? { port_rules: [] };
  async function remove(): Promise<void> {
    if (!window.confirm(`Remove load balancer ${name}?`)) return;
    setBusy(true);
    setError(null);
    try {
      await client.request<unknown>("DELETE", envPath(env, `services/${encodeURIComponent(name)}`));
    } catch (e) {
      setError(message(e));
      setBusy(false);
    }
  }
  const ports = [...new Set(lb.port_rules.map((r) => r.source_port))].join(", ");
  return (
    <tr>
      <td>{name}</td>
      <td>{balancer.spec.mode === "global" ? "global" : (balancer.spec.scale ?? 0)}</td>
      <td>{balancer.status?.running ?? 0}</td>
      <td>{ports}</td>
      <td>
        <ul className="rules">
          {lb.port_rules.map((r, i) => (
            <li key={i}>
              <code>{ruleText(r)}</code>
            </li>
          ))}
        </ul>
      </td>
      <td>{certificatesOf(lb).join(", ")}</td>
      {writable && (
        <td>
          <button type="button" disabled={busy} onClick={() => void remove()}>
            Remove {name}
          </button>
          {error && (
            <span role="alert" className="error inline">
              {error}
            </span>
          )}
        </td>
      )}
    </tr>
  );
}

function CertificateRow({
  client,
  env,
  certificate,
  writable,
  usedBy,
}: {
  client: Client;
  env: string;
  certificate: CertificateObject;
  writable: boolean;
  usedBy: string[];
}): ReactElement {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const name = certificate.meta.name;
  // Only the public certificate is read; the key is never rendered.
  const summary = summarize(certificate.spec.certificate);
  const left = summary ? daysLeft(summary.notAfter, Date.now()) : null;
  async function remove(): Promise<void> {
    if (!window.confirm(`Remove certificate ${name}?`)) return;
    setBusy(true);
    setError(null);
    try {
      await client.request<unknown>("DELETE", envPath(env, `certificates/${encodeURIComponent(name)}`));
    } catch (e) {
      setError(message(e));
      setBusy(false);
    }
  }
  return (
    <tr>
      <td>{name}</td>
      <td>{summary ? summary.names.join(", ") : <span className="reason">not a readable certificate</span>}</td>
      <td>
        {summary && (
          <>
            {summary.notAfter.slice(0, 10)}{" "}
            <span className={`pill ${left !== null && left < 0 ? "failed" : left !== null && left < 30 ? "pending" : "running"}`}>
              {left !== null && left < 0 ? "expired" : `${left ?? 0} days left`}
            </span>
          </>
        )}
      </td>
      <td>{usedBy.join(", ")}</td>
      {writable && (
        <td>
          <button type="button" disabled={busy} onClick={() => void remove()}>
            Remove {name}
          </button>
          {error && (
            <span role="alert" className="error inline">
              {error}
            </span>
          )}
        </td>
      )}
    </tr>
  );
}

function PemField({
  label,
  value,
  onChange,
  error,
  id,
  secret,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  error: string | null;
  id: string;
  secret?: boolean;
}): ReactElement {
  return (
    <div className="pem">
      <label>
        {label} (PEM)
        <textarea
          rows={5}
          value={value}
          spellCheck={false}
          autoComplete="off"
          className={secret ? "secret" : undefined}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? id : undefined}
          onChange={(e) => { onChange(e.target.value); }}
        />
      </label>
      <label>
        {label} file
        <input
          type="file"
          accept=".pem,.crt,.key,text/plain"
          onChange={(e) => {
            const file = e.target.files?.[0];
            if (file) void file.text().then(onChange);
          }}
        />
      </label>
      <FieldError error={error} id={id} />
    </div>
  );
}

function AddCertificate({ client, env }: { client: Client; env: string }): ReactElement {
  const [name, setName] = useState("");
  const [certificate, setCertificate] = useState("");
  const [key, setKey] = useState("");
  const [error, setError] = useState<{ message: string; field: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [added, setAdded] = useState<string | null>(null);
  // Remounts the file inputs after an upload, so that none still names a file.
  const [round, setRound] = useState(0);
  async function submit(): Promise<void> {
    setBusy(true);
    setError(null);
    setAdded(null);
    try {
      await client.request<unknown>("POST", envPath(env, "certificates"), {
        kind: "Certificate",
        meta: { name: name.trim() },
        spec: { certificate, key },
      });
      setAdded(name.trim());
      setName("");
      setCertificate("");
      // The key leaves the page as soon as the server has it.
      setKey("");
      setRound((r) => r + 1);
    } catch (e) {
      const field = e instanceof ApiError ? (e.field ?? "") : "";
      setError({ message: besideField(e), field });
    } finally {
      setBusy(false);
    }
  }
  const at = (test: (field: string) => boolean): string | null => (error && test(error.field) ? error.message : null);
  const other = at((f) => f !== "spec.certificate" && f !== "spec.key" && f !== "meta.name");
  return (
    <section aria-labelledby="add-certificate" className="panel">
      <h2 id="add-certificate">Add certificate</h2>
      <form
        className="form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label>
          Certificate name
          <input value={name} onChange={(e) => { setName(e.target.value); }} />
          <FieldError error={at((f) => f === "meta.name")} id="cert-name-error" />
        </label>
        <PemField key={`cert-${round}`} label="Certificate" value={certificate} onChange={setCertificate} error={at((f) => f === "spec.certificate")} id="cert-pem-error" />
        <PemField key={`key-${round}`} label="Private key" value={key} onChange={setKey} error={at((f) => f === "spec.key")} id="cert-key-error" secret />
        <div className="toolbar">
          <button type="submit" disabled={busy}>
            Add certificate
          </button>
          {added && <span role="status">added {added}</span>}
        </div>
        <FieldError error={other} id="cert-form-error" />
      </form>
    </section>
  );
}

function LiveBadge({ status, error }: { status: string; error: string | null }): ReactNode {
  if (status === "live" || status === "loading") return null;
  return <span className={`badge ${status}`}>{status}{error ? `: ${error}` : ""}</span>;
}

export function Balancers({ client, env, role }: { client: Client; env: string; role: string }): ReactElement {
  const services = useLive<BalancerObject>(client, env, "services");
  const certificates = useLive<CertificateObject>(client, env, "certificates");
  const balancers = services.items.filter(isBalancer);
  const targets = services.items.filter((s) => !isBalancer(s)).map((s) => (s.spec.stack ? `${s.spec.stack}/${s.meta.name}` : s.meta.name));
  const certNames = certificates.items.map((c) => c.meta.name);
  const balancersWritable = role !== "read-only";
  const certsWritable = role === "owner" || role === "member" || role === "admin";
  return (
    <div className="balancers">
      <h2 className="page-title">
        Load balancers <span className="count">{balancers.length}</span>{" "}
        <LiveBadge status={services.status} error={services.error} />
      </h2>
      {services.status === "failed" && (
        <p role="alert" className="error">
          {services.error}
        </p>
      )}
      {balancers.length === 0 && services.status !== "loading" ? (
        <p className="empty">No load balancers yet.</p>
      ) : (
        <table aria-label="Load balancers">
          <thead>
            <tr>
              <th>Name</th>
              <th>Scale</th>
              <th>Running</th>
              <th>Ports</th>
              <th>Rules and targets</th>
              <th>Certificates</th>
              {balancersWritable && <th>Actions</th>}
            </tr>
          </thead>
          <tbody>
            {balancers.map((b) => (
              <BalancerRow key={b.meta.name} client={client} env={env} balancer={b} writable={balancersWritable} />
            ))}
          </tbody>
        </table>
      )}
      {balancersWritable && <NewBalancer client={client} env={env} services={targets} certificates={certNames} />}

      <h2 className="page-title">
        Certificates <span className="count">{certificates.items.length}</span>{" "}
        <LiveBadge status={certificates.status} error={certificates.error} />
      </h2>
      {certificates.status === "failed" && (
        <p role="alert" className="error">
          {certificates.error}
        </p>
      )}
      {certificates.items.length === 0 && certificates.status !== "loading" ? (
        <p className="empty">No certificates yet.</p>
      ) : (
        <table aria-label="Certificates">
          <thead>
            <tr>
              <th>Name</th>
              <th>Domains</th>
              <th>Expires</th>
              <th>Used by</th>
              {certsWritable && <th>Actions</th>}
            </tr>
          </thead>
          <tbody>
            {certificates.items.map((c) => (
              <CertificateRow
                key={c.meta.name}
                client={client}
                env={env}
                certificate={c}
                writable={certsWritable}
                usedBy={balancers.filter((b) => certificatesOf(b.spec.lb ?? { port_rules: [] }).includes(c.meta.name)).map((b) => b.meta.name)}
              />
            ))}
          </tbody>
        </table>
      )}
      {certsWritable && <AddCertificate client={client} env={env} />}
    </div>
  );
}
