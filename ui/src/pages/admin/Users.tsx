// `/admin/users`: create a user, set a password, remove one. No watch of
// users: the list is read on opening and after each change.

import { useState, type ReactElement } from "react";

import type { Client } from "../../api";
import type { UserObject } from "../../admin";

import { Alert, failureOf, message, useList, type FieldFailure } from "./shared";

function byName(a: UserObject, b: UserObject): number {
  return a.meta.name.localeCompare(b.meta.name);
}


function UserRow({ client, user, self }: { client: Client; user: UserObject; self: string }): ReactElement {
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

function NewUser({ client }: { client: Client }): ReactElement {
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

export function Users({ client, self }: { client: Client; self: string }): ReactElement {
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
              <UserRow key={u.meta.name} client={client} user={u} self={self} />
            ))}
          </tbody>
        </table>
      )}
      <NewUser client={client} />
    </>
  );
}

