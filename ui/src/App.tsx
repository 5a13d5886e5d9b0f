// The shell: the login page without a session; with one, the header (the
// environment switcher, the user, log out) over the environment's dashboard.

import { Suspense, lazy, useEffect, useMemo, useState, type ReactElement } from "react";

import { ApiError, Client, type WhoAmI } from "./api";
import { ConnectionBanner } from "./ConnectionBanner";
import { EnvironmentSwitcher } from "./EnvironmentSwitcher";
import { Link } from "./Link";
import { Admin } from "./pages/Admin";
import { Balancers } from "./pages/Balancers";
import { Catalog } from "./pages/Catalog";
import { Dashboard } from "./pages/Dashboard";
import { Hosts } from "./pages/Hosts";
import { Services } from "./pages/Services";
import { Stacks } from "./pages/Stacks";
import { Login } from "./pages/Login";
import { Members } from "./pages/Members";
import { adminPageOf, adminPath, dashboardPath, environmentOf, navigate, pageOf, pathOf, usePath, type Page } from "./route";
import { ThemeToggle } from "./ThemeToggle";
import { clearHint, loggedInHint, saveHint, type Session } from "./session";

// The container page brings the terminal (xterm.js, most of the UI's
// weight): loaded when first opened, not with the first page.
const Container = lazy(() => import("./pages/Container").then((m) => ({ default: m.Container })));

/** A session being looked for: the cookie may hold one (a reload). */
const RESUMING: Session = { user: "", csrf: "" };

export function App(): ReactElement {
  // With the hint of a login, whoami tells whether the cookie still holds a
  // session (and gives its CSRF token); without it, the login form.
  const [session, setSession] = useState<Session | null>(() => (loggedInHint() ? RESUMING : null));
  const [who, setWho] = useState<WhoAmI | null>(null);
  const [error, setError] = useState<string | null>(null);
  const path = usePath();
  const client = useMemo(() => new Client("", session?.csrf || null), [session]);

  function endSession(): void {
    clearHint();
    setSession(null);
    setWho(null);
    navigate("/login", true);
  }

  useEffect(() => {
    if (!session) return;
    const abort = new AbortController();
    client.whoami(abort.signal).then(
      (me) => {
        if (session === RESUMING) {
          setSession({ user: me.user, csrf: me.csrf_token ?? "" });
        }
        setWho(me);
      },
      (e: unknown) => {
        if (abort.signal.aborted) return;
        if (e instanceof ApiError && e.status === 401) {
          // The session expired or was revoked: log in again.
          clearHint();
          setSession(null);
          return;
        }
        setError(e instanceof Error ? e.message : String(e));
      },
    );
    return () => { abort.abort(); };
  }, [client, session]);

  // An address without a visible environment opens the first one.
  useEffect(() => {
    const first = who?.environments[0];
    const env = environmentOf(path);
    if (adminPageOf(path) && who?.admin) return;
    if (first && !who.environments.some((e) => e.environment === env)) {
      navigate(dashboardPath(first.environment), true);
    }
  }, [who, path]);

  if (!session) {
    return (
      <>
        <div className="login-theme">
          <ThemeToggle />
        </div>
        <Login
        onLoggedIn={(s) => {
          saveHint(s.user);
          setError(null);
          setSession(s);
        }}
        />
      </>
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
      {who?.admin && (
        <nav aria-label="Administration" className="admin-link">
          <Link to={adminPath("users")}>Admin</Link>
        </nav>
      )}
      <span className="user">
        {session.user}
        {who?.admin ? " (admin)" : ""}
      </span>
      <ThemeToggle />
      <button type="button" onClick={() => void logout()}>
        Log out
      </button>
    </header>
  );
  const banner = <ConnectionBanner />;

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
  const admin = adminPageOf(path);
  if (admin && who.admin) {
    return (
      <>
        {header}
        {banner}
        <Admin client={client} page={admin} self={who.user} environments={who.environments.map((e) => e.environment)} />
      </>
    );
  }
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
  const page = pageOf(path);
  const name = visible.environment;
  const tab = (to: Page, label: string): ReactElement => {
    const current =
      page.page === to.page ||
      (to.page === "services" && page.page === "service") ||
      (to.page === "stacks" && page.page === "stack") ||
      (to.page === "catalog" && page.page === "template");
    return (
      <li aria-current={current ? "page" : undefined}>
        <Link to={pathOf(name, to)}>{label}</Link>
      </li>
    );
  };
  return (
    <>
      {header}
      {banner}
      <main>
        <h1>
          {name} <span className="role">your role: {visible.role}</span>
        </h1>
        <nav aria-label="Pages" className="pages">
          <ul>
            {tab({ page: "dashboard" }, "Dashboard")}
            {tab({ page: "hosts" }, "Hosts")}
            {tab({ page: "stacks" }, "Stacks")}
            {tab({ page: "catalog" }, "Catalog")}
            {tab({ page: "services" }, "Services")}
            {tab({ page: "balancers" }, "Load balancers")}
            {tab({ page: "members" }, "Members")}
          </ul>
        </nav>
        {page.page === "dashboard" && <Dashboard client={client} env={name} />}
        {page.page === "hosts" && <Hosts client={client} env={name} role={visible.role} fingerprint={who.ca_fingerprint ?? ""} />}
        {page.page === "services" && <Services client={client} env={name} role={visible.role} />}
        {page.page === "service" && (
          <Services client={client} env={name} role={visible.role} service={page.name} />
        )}
        {page.page === "stacks" && <Stacks client={client} env={name} role={visible.role} />}
        {page.page === "stack" && <Stacks client={client} env={name} role={visible.role} stack={page.name} />}
        {page.page === "catalog" && <Catalog client={client} env={name} role={visible.role} />}
        {page.page === "template" && <Catalog client={client} env={name} role={visible.role} template={page.id} />}
        {page.page === "balancers" && <Balancers client={client} env={name} role={visible.role} />}
        {page.page === "members" && <Members client={client} env={name} role={visible.role} admin={who.admin} />}
        {page.page === "instance" && (
          <Suspense fallback={<p role="status">loading…</p>}>
            <Container key={page.name} client={client} env={name} name={page.name} />
          </Suspense>
        )}
      </main>
    </>
  );
}
