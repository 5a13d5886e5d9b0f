// `/admin/apikeys`: create an API key (its secret shown once), deactivate,
// activate and remove keys. No watch of keys: read after each change.

import { useState, type ReactElement } from "react";

import type { Client } from "../../api";
import { keyScope, ROLES, type ApiKeyObject, type Role, type SecretCreated } from "../../admin";

import { Alert, failureOf, message, useList, type FieldFailure } from "./shared";

function newestFirst(a: ApiKeyObject, b: ApiKeyObject): number {
  return b.meta.created.localeCompare(a.meta.created);
}


function KeyRow({ client, apiKey }: { client: Client; apiKey: ApiKeyObject }): ReactElement {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = apiKey.meta.name;
  const base = `/v1/apikeys/${encodeURIComponent(id)}`;
  async function act(method: string, path: string): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      await client.request<unknown>(method, path);
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  }
  const active = apiKey.spec.active;
  return (
    <tr>
      <td>
        <code>{id}</code>
      </td>
      <td>{apiKey.spec.user}</td>
      <td>{apiKey.spec.description ?? ""}</td>
      <td>{keyScope(apiKey.spec)}</td>
      <td>
        <span className={`pill ${active ? "running" : "failed"}`}>{active ? "active" : "inactive"}</span>
      </td>
      <td>{apiKey.status?.last_used ?? ""}</td>
      <td>
        <div className="row-actions">
          <button
            type="button"
            aria-label={`${active ? "Deactivate" : "Activate"} ${id}`}
            disabled={busy}
            onClick={() => void act("POST", `${base}/${active ? "deactivate" : "activate"}`)}
          >
            {active ? "Deactivate" : "Activate"}
          </button>
          <button
            type="button"
            disabled={busy}
            onClick={() => {
              if (window.confirm(`Remove API key ${id}?`)) void act("DELETE", base);
            }}
            aria-label={`Remove ${id}`}
          >
            Remove
          </button>
          <Alert text={error} />
        </div>
      </td>
    </tr>
  );
}

function NewKey({ client, environments }: { client: Client; environments: string[] }): ReactElement {
  const [description, setDescription] = useState("");
  const [env, setEnv] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [error, setError] = useState<FieldFailure | null>(null);
  const [secret, setSecret] = useState<SecretCreated | null>(null);
  const [copied, setCopied] = useState(false);
  const [busy, setBusy] = useState(false);
  async function submit(): Promise<void> {
    setBusy(true);
    setError(null);
    setSecret(null);
    setCopied(false);
    try {
      const body = env ? { description, environment: env, role } : { description };
      setSecret(await client.request<SecretCreated>("POST", "/v1/apikeys", body));
      setDescription("");
    } catch (e) {
      setError(failureOf(e));
    } finally {
      setBusy(false);
    }
  }
  return (
    <section aria-labelledby="new-key" className="panel">
      <h2 id="new-key">New API key</h2>
      <p className="empty">A key belongs to you and acts with your rights, or with a role in one environment (at most yours).</p>
      <form
        className="form form-row"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label>
          Description
          <input value={description} onChange={(e) => { setDescription(e.target.value); }} />
          <Alert text={error?.field === "description" ? error.message : null} />
        </label>
        <label>
          Key environment
          <select value={env} onChange={(e) => { setEnv(e.target.value); }}>
            <option value="">none: an account key</option>
            {environments.map((e) => (
              <option key={e} value={e}>
                {e}
              </option>
            ))}
          </select>
        </label>
        {env && (
          <label>
            Key role
            <select value={role} onChange={(e) => { setRole(e.target.value as Role); }}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
        )}
        <button type="submit" disabled={busy}>
          Create API key
        </button>
        <Alert text={error && error.field !== "description" ? error.message : null} />
      </form>
      {secret && (
        <div className="command secret-once" role="group" aria-label="New API key secret">
          <label>
            Secret of {secret.id}
            <input readOnly value={secret.token} onFocus={(e) => { e.target.select(); }} />
          </label>
          <button
            type="button"
            onClick={() => {
              navigator.clipboard.writeText(secret.token).then(
                () => { setCopied(true); },
                (e: unknown) => { setError({ message: `copy failed: ${message(e)}`, field: "" }); },
              );
            }}
          >
            Copy
          </button>
          <button type="button" onClick={() => { setSecret(null); }}>
            Done
          </button>
          {copied && <span role="status">copied</span>}
          <p className="reason">Shown only now: the server keeps a hash, not the secret.</p>
        </div>
      )}
    </section>
  );
}

export function ApiKeys({ client, environments }: { client: Client; environments: string[] }): ReactElement {
  const keys = useList(client, "/v1/apikeys", newestFirst);
  const items = keys.items ?? [];
  return (
    <>
      <h2 className="page-title">
        API keys <span className="count">{keys.items?.length ?? ""}</span>
      </h2>
      {keys.error && (
        <p role="alert" className="error">
          {keys.error}
        </p>
      )}
      {keys.items && keys.items.length === 0 && <p className="empty">No API keys yet.</p>}
      {items.length > 0 && (
        <table aria-label="API keys">
          <thead>
            <tr>
              <th>Id</th>
              <th>User</th>
              <th>Description</th>
              <th>Scope</th>
              <th>State</th>
              <th>Last used</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((k) => (
              <KeyRow key={k.meta.name} client={client} apiKey={k} />
            ))}
          </tbody>
        </table>
      )}
      <NewKey client={client} environments={environments} />
    </>
  );
}

