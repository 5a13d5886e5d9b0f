// The UI's few addresses: `/login` and `/environments/NAME` (the dashboard),
// with the browser's history; the server answers index.html for each.

import { useEffect, useState } from "react";

const PREFIX = "/environments/";

export function dashboardPath(env: string): string {
  return PREFIX + encodeURIComponent(env);
}

/** The environment an address names, if it names one. */
export function environmentOf(path: string): string | null {
  if (!path.startsWith(PREFIX)) return null;
  const rest = path.slice(PREFIX.length).split("/")[0] ?? "";
  if (rest === "") return null;
  try {
    return decodeURIComponent(rest);
  } catch {
    return null;
  }
}

const listeners = new Set<(path: string) => void>();

export function navigate(path: string, replace = false): void {
  if (path === window.location.pathname) return;
  if (replace) window.history.replaceState(null, "", path);
  else window.history.pushState(null, "", path);
  for (const listener of listeners) listener(path);
}

/** The current path, following links and the back button. */
export function usePath(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const onPop = (): void => { setPath(window.location.pathname); };
    window.addEventListener("popstate", onPop);
    listeners.add(setPath);
    return () => {
      window.removeEventListener("popstate", onPop);
      listeners.delete(setPath);
    };
  }, []);
  return path;
}
