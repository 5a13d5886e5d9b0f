// The members of an environment and their roles. Everyone who sees the
// environment reads them; owners (and admins) add a user or a group with a
// role, change a role and remove a member. The list is live (listed, then
// watched), so a change by anyone shows without a reload.

import { useEffect, useMemo, useState, type ReactElement } from "react";

import { ApiError, type Client, type ListResponse } from "../api";
import { besideField } from "../forms";
import { useLiveAt } from "../useLive";
import {
  canManageMembers,
  ROLES,
  sortMembers,
  subjectLabel,
  subjectOf,
  type MemberObject,
  type Role,
  type UserObject,
} from "../admin";

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function membersPath(env: string, subject?: string): string {
  const base = `/v1/environments/${encodeURIComponent(env)}/members`;
  return subject === undefined ? base : `${base}/${encodeURIComponent(subject)}`;
}

function RoleSelect({ value, onChange, label, disabled }: { value: Role; onChange: (r: Role) => void; label: string; disabled?: boolean }): ReactElement {
  return (
    <select aria-label={label} value={value} disabled={disabled} onChange={(e) => { onChange(e.target.value as Role); }}>
      {ROLES.map((r) => (
        <option key={r} value={r}>
          {r}
        </option>
      ))}
    </select>
  );
}

function MemberRow({
  client,
  env,
  member,
  writable,
}: {
  client: Client;
  env: string;
  member: MemberObject;
  writable: boolean;
}): ReactElement {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const subject = member.spec.subject;
  const label = subjectLabel(subject);
  async function act(method: string, path: string, body?: unknown): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      await client.request<unknown>(method, path, body);
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  }
  return (
    <tr>
      <td>{label}</td>
      <td>{subject.startsWith("group:") ? "group" : "user"}</td>
      <td>
        {writable ? (
          <RoleSelect
            label={`Role of ${label}`}
            value={member.spec.role}
            disabled={busy}
            onChange={(role) => void act("POST", membersPath(env), { subject, role })}
          />
        ) : (
          member.spec.role
        )}
      </td>
      {writable && (
        <td>
          <button
            type="button"
            disabled={busy}
            onClick={() => {
              if (window.confirm(`Remove ${label} from ${env}?`)) void act("DELETE", membersPath(env, subject));
            }}
          >
            Remove {label}
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

function AddMember({ client, env, users }: { client: Client; env: string; users: string[] }): ReactElement {
  const [kind, setKind] = useState<"user" | "group">("user");
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [error, setError] = useState<{ message: string; field: string } | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      await client.request<unknown>("POST", membersPath(env), { subject: subjectOf(kind, name), role });
      setName("");
    } catch (e) {
      const field = e instanceof ApiError ? (e.field ?? "") : "";
      setError({ message: /subject/.test(field) ? besideField(e) : message(e), field });
    } finally {
      setBusy(false);
    }
  }
  const onSubject = error !== null && /subject/.test(error.field);
  return (
    <section aria-labelledby="add-member" className="panel">
      <h2 id="add-member">Add a member</h2>
      <form
        className="form form-row"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label>
          Member kind
          <select value={kind} onChange={(e) => { setKind(e.target.value === "group" ? "group" : "user"); }}>
            <option value="user">user</option>
            <option value="group">group (directory)</option>
          </select>
        </label>
        <label>
          {kind === "user" ? "User name" : "Group name"}
          <input
            value={name}
            list={kind === "user" ? "member-users" : undefined}
            aria-invalid={onSubject ? true : undefined}
            aria-describedby={onSubject ? "member-subject-error" : undefined}
            onChange={(e) => { setName(e.target.value); }}
          />
          {onSubject && (
            <span role="alert" id="member-subject-error" className="error inline">
              {error.message}
            </span>
          )}
        </label>
        <datalist id="member-users">
          {users.map((u) => (
            <option key={u} value={u} />
          ))}
        </datalist>
        <label>
          Role
          <RoleSelect label="Role" value={role} onChange={setRole} />
        </label>
        <button type="submit" disabled={busy}>
          Add member
        </button>
        {error && !onSubject && (
          <span role="alert" className="error inline">
            {error.message}
          </span>
        )}
      </form>
    </section>
  );
}

export function Members({ client, env, role, admin }: { client: Client; env: string; role: string; admin: boolean }): ReactElement {
  const live = useLiveAt<MemberObject>(client, membersPath(env));
  const members = useMemo(() => (live.status === "loading" ? null : sortMembers(live.items)), [live.status, live.items]);
  const error = live.status === "failed" || live.status === "reconnecting" ? live.error : null;
  const [users, setUsers] = useState<string[]>([]);
  const writable = canManageMembers(role);
  useEffect(() => {
    // Only admins may list users; for others the name is typed.
    if (!admin || !writable) return;
    const abort = new AbortController();
    client.request<ListResponse<UserObject>>("GET", "/v1/users", undefined, abort.signal).then(
      (list) => { setUsers(list.items.map((u) => u.meta.name).sort()); },
      () => undefined,
    );
    return () => { abort.abort(); };
  }, [client, admin, writable]);
  return (
    <div className="members">
      <h2 className="page-title">
        Members <span className="count">{members?.length ?? ""}</span>
      </h2>
      {!writable && (
        <div className="toolbar">
          <span className="empty">Only the environment&apos;s owners change its members.</span>
        </div>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {members && members.length === 0 && <p className="empty">No members yet (admins see every environment).</p>}
      {members && members.length > 0 && (
        <table aria-label="Members">
          <thead>
            <tr>
              <th>Member</th>
              <th>Kind</th>
              <th>Role</th>
              {writable && <th>Actions</th>}
            </tr>
          </thead>
          <tbody>
            {members.map((m) => (
              <MemberRow key={m.meta.name} client={client} env={env} member={m} writable={writable} />
            ))}
          </tbody>
        </table>
      )}
      {writable && <AddMember client={client} env={env} users={users} />}
    </div>
  );
}
