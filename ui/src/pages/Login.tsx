// The login page: a local or directory (LDAP) user's name and password,
// sent to `POST /v1/login`; the server decides which of the two it is.

import { useState, type ReactElement, type SyntheticEvent } from "react";

import { ApiError, Client } from "../api";
import type { Session } from "../session";

export function Login({ onLoggedIn }: { onLoggedIn: (session: Session) => void }): ReactElement {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: SyntheticEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await new Client("", null).login(username, password);
      onLoggedIn({ csrf: answer.csrf_token, user: answer.user });
    } catch (e) {
      setError(e instanceof ApiError || e instanceof Error ? e.message : String(e));
      setBusy(false);
    }
  }

  return (
    <main className="login">
      <h1>Corral</h1>
      <form onSubmit={(e) => void submit(e)} aria-label="Log in">
        <label>
          User name
          <input
            name="username"
            autoComplete="username"
            value={username}
            onChange={(e) => { setUsername(e.target.value); }}
            required
            autoFocus
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => { setPassword(e.target.value); }}
            required
          />
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </main>
  );
}
