// The browser's session. Its token lives only in an HttpOnly,
// SameSite=Strict cookie the server set at login, which scripts cannot
// read; the page holds the session's CSRF token (in memory: whoami gives
// it again after a reload) and sends it with every write.
//
// localStorage keeps only a hint that a login happened (the user's name,
// no secret), so that a page without one shows the login form at once
// instead of asking whoami and drawing a 401.

export interface Session {
  user: string;
  /** What every write carries as `X-CSRF-Token`. */
  csrf: string;
}

const KEY = "corral.user";

/** The user who logged in last in this browser, if the hint is there. */
export function loggedInHint(storage: Storage = localStorage): string | null {
  const user = storage.getItem(KEY);
  return user && user.length > 0 ? user : null;
}

export function saveHint(user: string, storage: Storage = localStorage): void {
  storage.setItem(KEY, user);
}

export function clearHint(storage: Storage = localStorage): void {
  storage.removeItem(KEY);
}
