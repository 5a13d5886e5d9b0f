// The session a login made: its bearer token and user, kept for the tab
// (sessionStorage), so a reload stays logged in and a closed tab does not.

export interface Session {
  token: string;
  user: string;
}

const KEY = "corral.session";

function isSession(value: unknown): value is Session {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.token === "string" && typeof record.user === "string";
}

export function loadSession(storage: Storage = sessionStorage): Session | null {
  try {
    const parsed: unknown = JSON.parse(storage.getItem(KEY) ?? "null");
    return isSession(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session, storage: Storage = sessionStorage): void {
  storage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(storage: Storage = sessionStorage): void {
  storage.removeItem(KEY);
}
