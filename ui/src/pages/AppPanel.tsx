// On a stack's page, for a stack launched from a catalog template
// (`spec.app`): its template and version, "upgrade available: N" as
// `GET .../apps` says, **Upgrade** (the plan of a dry run first, then the
// upgrade: answers carried over, new questions defaulted, as `corral app
// upgrade` does) and **Roll back** (to the version and answers before the
// last upgrade) when the API allows it. One plain request, no stream.

import { useEffect, useState, type ReactElement } from "react";

import type { Client } from "../api";
import { appPath, appsPath, type AppInfo, type AppRef, type LaunchPlan } from "../catalog";
import { Link } from "../Link";
import { pathOf } from "../route";
import { PlanView } from "./PlanView";

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function AppPanel({
  client,
  env,
  stack,
  app,
  writable,
}: {
  client: Client;
  env: string;
  stack: string;
  app: AppRef;
  writable: boolean;
}): ReactElement {
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [readError, setReadError] = useState<string | null>(null);
  const [plan, setPlan] = useState<LaunchPlan | null>(null);
  const [confirmRollback, setConfirmRollback] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Read again whenever the stack's app changes (an upgrade or rollback, here or elsewhere).
  const appKey = `${app.template}:${app.version}:${app.previous ? `${app.previous.template}:${app.previous.version}` : ""}`;

  useEffect(() => {
    const abort = new AbortController();
    client.request<AppInfo[]>("GET", appsPath(env), undefined, abort.signal).then(
      (apps) => {
        setInfo(apps.find((a) => a.stack === stack) ?? null);
        setReadError(null);
      },
      (e: unknown) => {
        if (!abort.signal.aborted) setReadError(message(e));
      },
    );
    return () => { abort.abort(); };
  }, [client, env, stack, appKey]);

  const upgrade = info?.upgrade_available;

  async function reviewUpgrade(): Promise<void> {
    if (!upgrade) return;
    setBusy(true);
    setError(null);
    setConfirmRollback(false);
    try {
      setPlan(await client.request<LaunchPlan>("POST", `${appPath(env, stack)}/upgrade`, { version: upgrade, answers: {}, dry_run: true }));
    } catch (e) {
      setPlan(null);
      setError(message(e));
    } finally {
      setBusy(false);
    }
  }

  async function run(what: "upgrade" | "rollback"): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      if (what === "upgrade" && plan) {
        await client.request<LaunchPlan>("POST", `${appPath(env, stack)}/upgrade`, { version: plan.version, answers: {}, dry_run: false });
      } else {
        await client.request<LaunchPlan>("POST", `${appPath(env, stack)}/rollback`);
      }
      setPlan(null);
      setConfirmRollback(false);
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="app" className="panel app-panel">
      <h2 id="app">Catalog application</h2>
      <dl className="facts">
        <dt>Template</dt>
        <dd>
          <Link to={pathOf(env, { page: "template", id: app.template })}>{app.template}</Link>
        </dd>
        <dt>Version</dt>
        <dd aria-label="Template version">
          {app.version}
          {info?.catalog_version ? ` (${info.catalog_version})` : ""}
        </dd>
        {app.previous && (
          <>
            <dt>Before the last upgrade</dt>
            <dd>version {app.previous.version}</dd>
          </>
        )}
      </dl>
      {upgrade && (
        <p className="upgrade-available">
          <span className="pill pending">upgrade available: {upgrade}</span>
        </p>
      )}
      {readError && (
        <p role="alert" className="error">
          {readError}
        </p>
      )}
      {writable && (
        <div className="toolbar">
          {upgrade && (
            <button type="button" disabled={busy} onClick={() => void reviewUpgrade()}>
              Upgrade
            </button>
          )}
          {info?.can_roll_back && (
            <button
              type="button"
              disabled={busy}
              onClick={() => {
                setPlan(null);
                setConfirmRollback(true);
              }}
            >
              Roll back
            </button>
          )}
        </div>
      )}
      {plan && (
        <div role="group" aria-label="Confirm upgrade" className="confirm">
          <p>
            Upgrade {stack} from version {app.version} to version {plan.version} of {plan.template}, the answers carried over:
          </p>
          <PlanView plan={plan.plan} />
          <button type="button" disabled={busy} onClick={() => void run("upgrade")}>
            Upgrade to version {plan.version}
          </button>
          <button type="button" onClick={() => { setPlan(null); }}>
            Cancel
          </button>
        </div>
      )}
      {confirmRollback && app.previous && (
        <div role="group" aria-label="Confirm rollback" className="confirm">
          <p>
            Roll {stack} back to version {app.previous.version} of {app.previous.template}, with the answers it had then?
          </p>
          <button type="button" disabled={busy} onClick={() => void run("rollback")}>
            Roll back to version {app.previous.version}
          </button>
          <button type="button" onClick={() => { setConfirmRollback(false); }}>
            Cancel
          </button>
        </div>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}
