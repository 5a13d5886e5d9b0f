// The admin pages (`/admin/users`, `/admin/apikeys`, `/admin/audit`), for
// admins only (the API refuses others): users (create, set a password,
// remove), API keys (create, the secret shown once, deactivate/activate,
// remove) and the audit log (newest first, by user and action, followed
// by reading it again every 5 s). Users and keys have no watch: lists are
// read on opening and after each change. No streams.

import { useCallback, useEffect, useState, type ReactElement, type ReactNode } from "react";

import { ApiError, type ApiObject, type Client, type ListResponse } from "../api";
import {
  actionOf,
  auditPath,
  filterAudit,
  keyScope,
  ROLES,
  type ApiKeyObject,
  type AuditList,
  type AuditRecord,
  type Role,
  type SecretCreated,
  type UserObject,
} from "../admin";
import { isNetworkError, reportConnection } from "../connection";
import { besideField } from "../forms";
import { Link } from "../Link";
import { adminPath, ADMIN_PAGES, type AdminPage } from "../route";

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

interface FieldFailure {
  message: string;
  field: string;
}

function failureOf(e: unknown): FieldFailure {
  return { message: besideField(e), field: e instanceof ApiError ? (e.field ?? "") : "" };
}

function Alert({ text, id }: { text: string | null | undefined; id?: string }): ReactNode {
  if (!text) return null;
  return (
    <span role="alert" id={id} className="error inline">
      {text}
    </span>
  );
}

/** A list read with GET (sorted by `order`), again after `refresh()`. */
function useList<O extends ApiObject>(client: Client, path: string, order: (a: O, b: O) => number): { items: O[] | null; error: string | null; refresh: () => void } {
  const [items, setItems] = useState<O[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    client.request<ListResponse<O>>("GET", path, undefined, abort.signal).then(
      (list) => {
        setItems([...list.items].sort(order));
        setError(null);
      },
      (e: unknown) => { if (!abort.signal.aborted) setError(message(e)); },
    );
    return () => { abort.abort(); };
  }, [client, path, tick, order]);
  return { items, error, refresh: useCallback(() => { setTick((t) => t + 1); }, []) };
}

function byName(a: UserObject, b: UserObject): number {
  return a.meta.name.localeCompare(b.meta.name);
}

function newestFirst(a: ApiKeyObject, b: ApiKeyObject): number {
  return b.meta.created.localeCompare(a.meta.created);
}

function UserRow({ client, user, self, onChanged }: { client: Client; user: UserObject; self: string; onChanged: () => void }): ReactElement {
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const name = user.meta.name;
  const base = `/v1/users/${encodeURIComponent(name)}`;
  async function act(method: string, path: string, body: unknown, said: string): Promise<void> {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      await client.request<unknown>(method, path, body);
      setDone(said);
      setPassword("");
      onChanged();
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  }
  const local = (user.spec.provider ?? "local") === "local";
  return (
    <tr>
      <td>
        {name}
        {name === self ? " (you)" : ""}
      </td>
      <td>{user.spec.display_name ?? ""}</td>
      <td>{user.spec.provider ?? "local"}</td>
      <td>{user.spec.admin ? "admin" : ""}{user.spec.disabled ? " disabled" : ""}</td>
      <td>{user.status?.last_login ?? ""}</td>
      <td>
        <div className="row-actions">
          {local && (
            <form
              className="inline-form"
              noValidate
              onSubmit={(e) => {
                e.preventDefault();
                void act("PUT", `${base}/password`, { password }, "password set");
              }}
            >
              <input
                type="password"
                autoComplete="new-password"
                aria-label={`New password for ${name}`}
                placeholder="new password"
                value={password}
                onChange={(e) => { setPassword(e.target.value); }}
              />
              <button type="submit" aria-label={`Set password of ${name}`} disabled={busy || password === ""}>
                Set password
              </button>
            </form>
          )}
          <button
            type="button"
            disabled={busy}
            onClick={() => {
              if (window.confirm(`Remove user ${name}? Their sessions and keys stop working.`)) {
                void act("DELETE", base, undefined, "removed");
              }
            }}
          >
            Remove {name}
          </button>
          {done && <span role="status">{done}</span>}
          <Alert text={error} />
        </div>
      </td>
    </tr>
  );
}

function NewUser({ client, onChanged }: { client: Client; onChanged: () => void }): ReactElement {
  const [name, setName] = useState("");
  const [display, setDisplay] = useState("");
  const [password, setPassword] = useState("");
  const [admin, setAdmin] = useState(false);
  const [error, setError] = useState<FieldFailure | null>(null);
  const [created, setCreated] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(): Promise<void> {
    setBusy(true);
    setError(null);
    setCreated(null);
    try {
      await client.request<unknown>("POST", "/v1/users", { name: name.trim(), password, admin, display_name: display });
      setCreated(name.trim());
      setName("");
      setDisplay("");
      setPassword("");
      setAdmin(false);
      onChanged();
    } catch (e) {
      setError(failureOf(e));
    } finally {
      setBusy(false);
    }
  }
  const on = (field: string): string | null => (error?.field === field ? error.message : null);
  const other = error && error.field !== "name" && error.field !== "password" ? error.message : null;
  return (
    <section aria-labelledby="new-user" className="panel">
      <h2 id="new-user">New user</h2>
      <form
        className="form form-row"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label>
          User name
          <input value={name} autoComplete="off" aria-invalid={on("name") ? true : undefined} aria-describedby={on("name") ? "user-name-error" : undefined} onChange={(e) => { setName(e.target.value); }} />
          <Alert text={on("name")} id="user-name-error" />
        </label>
        <label>
          Display name
          <input value={display} onChange={(e) => { setDisplay(e.target.value); }} />
        </label>
        <label>
          Password
          <input
            type="password"
            autoComplete="new-password"
            value={password}
            aria-invalid={on("password") ? true : undefined}
            aria-describedby={on("password") ? "user-password-error" : undefined}
            onChange={(e) => { setPassword(e.target.value); }}
          />
          <Alert text={on("password")} id="user-password-error" />
        </label>
        <label className="check">
          <input type="checkbox" checked={admin} onChange={(e) => { setAdmin(e.target.checked); }} />
          Admin
        </label>
        <button type="submit" disabled={busy}>
          Create user
        </button>
        {created && <span role="status">created {created}</span>}
        <Alert text={other} />
      </form>
    </section>
  );
}

function Users({ client, self }: { client: Client; self: string }): ReactElement {
  const users = useList(client, "/v1/users", byName);
  const items = users.items ?? [];
  return (
    <>
      <h2 className="page-title">
        Users <span className="count">{users.items?.length ?? ""}</span>
      </h2>
      {users.error && (
        <p role="alert" className="error">
          {users.error}
        </p>
      )}
      {users.items && (
        <table aria-label="Users">
          <thead>
            <tr>
              <th>Name</th>
              <th>Display name</th>
              <th>Provider</th>
              <th>Rights</th>
              <th>Last login</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((u) => (
              <UserRow key={u.meta.name} client={client} user={u} self={self} onChanged={users.refresh} />
            ))}
          </tbody>
        </table>
      )}
      <NewUser client={client} onChanged={users.refresh} />
    </>
  );
}

function KeyRow({ client, apiKey, onChanged }: { client: Client; apiKey: ApiKeyObject; onChanged: () => void }): ReactElement {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = apiKey.meta.name;
  const base = `/v1/apikeys/${encodeURIComponent(id)}`;
  async function act(method: string, path: string): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      await client.request<unknown>(method, path);
      onChanged();
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

function NewKey({ client, environments, onChanged }: { client: Client; environments: string[]; onChanged: () => void }): ReactElement {
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
      onChanged();
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

function ApiKeys({ client, environments }: { client: Client; environments: string[] }): ReactElement {
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
              <KeyRow key={k.meta.name} client={client} apiKey={k} onChanged={keys.refresh} />
            ))}
          </tbody>
        </table>
      )}
      <NewKey client={client} environments={environments} onChanged={keys.refresh} />
    </>
  );
}

const FOLLOW_MS = 5_000;

function Audit({ client }: { client: Client }): ReactElement {
  const [user, setUser] = useState("");
  const [action, setAction] = useState("");
  const [limit, setLimit] = useState(200);
  const [follow, setFollow] = useState(true);
  const [records, setRecords] = useState<AuditRecord[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    const owner = {};
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = (): void => {
      client.request<AuditList>("GET", auditPath(user, limit), undefined, abort.signal).then(
        (list) => {
          setRecords(list.items);
          setError(null);
          reportConnection(owner, false);
        },
        (e: unknown) => {
          if (abort.signal.aborted) return;
          setError(message(e));
          reportConnection(owner, isNetworkError(e));
        },
      ).finally(() => {
        if (follow && !abort.signal.aborted) timer = setTimeout(load, FOLLOW_MS);
      });
    };
    // A typed user name is asked for once typing pauses.
    const start = setTimeout(load, tick === 0 ? 0 : 300);
    return () => {
      abort.abort();
      clearTimeout(start);
      clearTimeout(timer);
      reportConnection(owner, false);
    };
  }, [client, user, limit, follow, tick]);
  const shown = filterAudit(records ?? [], action);
  return (
    <>
      <h2 className="page-title">
        Audit log <span className="count">{records ? `${shown.length} of ${records.length}` : ""}</span>
      </h2>
      <div className="toolbar">
        <label>
          Audit user
          <input value={user} placeholder="every user" onChange={(e) => { setUser(e.target.value); setTick((t) => t + 1); }} />
        </label>
        <label>
          Action
          <input value={action} placeholder="e.g. apikeys, DELETE" onChange={(e) => { setAction(e.target.value); }} />
        </label>
        <label>
          Newest
          <select value={limit} onChange={(e) => { setLimit(Number(e.target.value)); }}>
            {[100, 200, 1000, 5000].map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => { setFollow(e.target.checked); }} />
          Follow (every 5 s)
        </label>
        <button type="button" onClick={() => { setTick((t) => t + 1); }}>
          Refresh
        </button>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {records && (
        <table aria-label="Audit log" className="audit">
          <thead>
            <tr>
              <th>Time</th>
              <th>User</th>
              <th>Method</th>
              <th>Environment</th>
              <th>Action</th>
              <th>Code</th>
              <th>Summary</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((r, i) => (
              <tr key={`${r.time_ms}-${i}`} className={r.code >= 400 ? "refused" : undefined}>
                <td>{r.time.replace("T", " ").replace(/\.\d+Z$|Z$/, "")}</td>
                <td>{r.user}</td>
                <td>{r.method}</td>
                <td>{r.environment}</td>
                <td>
                  <code>{actionOf(r)}</code>
                </td>
                <td>{r.code}</td>
                <td>{r.summary}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

const TITLES: Record<AdminPage, string> = { users: "Users", apikeys: "API keys", audit: "Audit log" };

export function Admin({
  client,
  page,
  self,
  environments,
}: {
  client: Client;
  page: AdminPage;
  self: string;
  environments: string[];
}): ReactElement {
  return (
    <main>
      <h1>Administration</h1>
      <nav aria-label="Admin pages" className="pages">
        <ul>
          {ADMIN_PAGES.map((p) => (
            <li key={p} aria-current={p === page ? "page" : undefined}>
              <Link to={adminPath(p)}>{TITLES[p]}</Link>
            </li>
          ))}
        </ul>
      </nav>
      {page === "users" && <Users client={client} self={self} />}
      {page === "apikeys" && <ApiKeys client={client} environments={environments} />}
      {page === "audit" && <Audit client={client} />}
    </main>
  );
}
