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

/** The pages of an environment, after its name in the address. */
export type Page =
  | { page: "dashboard" }
  | { page: "hosts" }
  | { page: "services" }
  | { page: "balancers" }
  | { page: "members" }
  | { page: "service"; name: string }
  | { page: "instance"; name: string }
  | { page: "stacks" }
  | { page: "stack"; name: string }
  | { page: "catalog" }
  /** A template of the catalog, by `CATALOG/TEMPLATE`. */
  | { page: "template"; id: string };

function pagePath(page: Page): string {
  switch (page.page) {
    case "dashboard":
      return "";
    case "hosts":
    case "services":
    case "balancers":
    case "members":
      return `/${page.page}`;
    case "service":
      return `/services/${encodeURIComponent(page.name)}`;
    case "instance":
      return `/instances/${encodeURIComponent(page.name)}`;
    case "stacks":
      return "/stacks";
    case "stack":
      return `/stacks/${encodeURIComponent(page.name)}`;
    case "catalog":
      return "/catalog";
    case "template":
      return `/catalog/${page.id.split("/").map(encodeURIComponent).join("/")}`;
  }
}

export function pathOf(env: string, page: Page): string {
  return dashboardPath(env) + pagePath(page);
}

/** The page an address names inside its environment (the dashboard if none). */
export function pageOf(path: string): Page {
  if (!path.startsWith(PREFIX)) return { page: "dashboard" };
  const parts = path.slice(PREFIX.length).split("/").slice(1);
  let name: string;
  try {
    name = decodeURIComponent(parts[1] ?? "");
  } catch {
    return { page: "dashboard" };
  }
  switch (parts[0]) {
    case "hosts":
      return { page: "hosts" };
    case "balancers":
      return { page: "balancers" };
    case "members":
      return { page: "members" };
    case "services":
      return name ? { page: "service", name } : { page: "services" };
    case "instances":
      return name ? { page: "instance", name } : { page: "dashboard" };
    case "stacks":
      return name ? { page: "stack", name } : { page: "stacks" };
    case "catalog": {
      // `catalog/CATALOG/TEMPLATE`: both parts, else the catalog's list.
      let template: string;
      try {
        template = decodeURIComponent(parts[2] ?? "");
      } catch {
        return { page: "catalog" };
      }
      return name && template ? { page: "template", id: `${name}/${template}` } : { page: "catalog" };
    }
    default:
      return { page: "dashboard" };
  }
}

/** The admin pages (`/admin/users`, `/admin/apikeys`, `/admin/audit`). */
export const ADMIN_PAGES = ["users", "apikeys", "audit"] as const;
export type AdminPage = (typeof ADMIN_PAGES)[number];

export function adminPath(page: AdminPage): string {
  return `/admin/${page}`;
}

/** The admin page an address names (`/admin` is the users), or null. */
export function adminPageOf(path: string): AdminPage | null {
  if (path !== "/admin" && !path.startsWith("/admin/")) return null;
  const rest = path.slice("/admin/".length).split("/")[0] ?? "";
  return ADMIN_PAGES.find((p) => p === rest) ?? "users";
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
