// `/admin/audit`: the audit log, newest first, by user (asked of the API)
// and action (filtered here), read again every 5 s while followed.

import { useEffect, useState, type ReactElement } from "react";

import type { Client } from "../../api";
import { actionOf, auditPath, filterAudit, type AuditList, type AuditRecord } from "../../admin";
import { isNetworkError, reportConnection } from "../../connection";

import { message } from "./shared";

const FOLLOW_MS = 5_000;

export function Audit({ client }: { client: Client }): ReactElement {
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
