// The shell: the login page without a session; with one, the header (the
// environment switcher, the user, log out) over the environment's dashboard.

import { useEffect, useMemo, useState, type ReactElement } from "react";

import { ApiError, Client, type WhoAmI } from "./api";
import { EnvironmentSwitcher } from "./EnvironmentSwitcher";
import { Dashboard } from "./pages/Dashboard";
import { Login } from "./pages/Login";
import { dashboardPath, environmentOf, navigate, usePath } from "./route";
import { clearSession, loadSession, saveSession, type Session } from "./session";

export function App(): ReactElement {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [who, setWho] = useState<WhoAmI | null>(null);
  const [error, setError] = useState<string | null>(null);
  const path = usePath();
  const client = useMemo(() => new Client("", session?.token ?? null), [session]);

  function endSession(): void {
    clearSession();
    setSession(null);
    setWho(null);
    navigate("/login", true);
  }

  useEffect(() => {
    if (!session) return;
    const abort = new AbortController();
    client.whoami(abort.signal).then(setWho, (e: unknown) => {
      if (abort.signal.aborted) return;
      if (e instanceof ApiError && e.status === 401) {
        // The session expired or was revoked: log in again.
        clearSession();
        setSession(null);
        return;
      }
      setError(e instanceof Error ? e.message : String(e));
    });
    return () => { abort.abort(); };
  }, [client, session]);

  // An address without a visible environment opens the first one.
  useEffect(() => {
    const first = who?.environments[0];
    const env = environmentOf(path);
    if (first && !who.environments.some((e) => e.environment === env)) {
      navigate(dashboardPath(first.environment), true);
    }
  }, [who, path]);

  if (!session) {
    return (
      <Login
        onLoggedIn={(s) => {
          saveSession(s);
          setError(null);
          setSession(s);
        }}
      />
    );
  }

  async function logout(): Promise<void> {
    try {
      await client.logout();
    } catch {
      // The session ends here either way; the server's copy expires.
    }
    endSession();
  }

  const header = (
    <header className="top">
      <strong>Corral</strong>
      {who && who.environments.length > 0 && (
        <EnvironmentSwitcher
          environments={who.environments}
          current={environmentOf(path) ?? who.environments[0]?.environment ?? ""}
          onChange={(env) => { navigate(dashboardPath(env)); }}
        />
      )}
      <span className="user">
        {session.user}
        {who?.admin ? " (admin)" : ""}
      </span>
      <button type="button" onClick={() => void logout()}>
        Log out
      </button>
    </header>
  );

  if (error) {
    return (
      <>
        {header}
        <p role="alert" className="error">
          {error}
        </p>
      </>
    );
  }
  if (!who) return header;
  const env = environmentOf(path);
  const visible = who.environments.find((e) => e.environment === env);
  if (!visible) {
    return (
      <>
        {header}
        {who.environments.length === 0 && (
          <p className="empty">You are not a member of any environment yet.</p>
        )}
      </>
    );
  }
  return (
    <>
      {header}
      <main>
        <h1>
          {visible.environment} <span className="role">your role: {visible.role}</span>
        </h1>
        <Dashboard client={client} env={visible.environment} />
      </main>
    </>
  );
}
