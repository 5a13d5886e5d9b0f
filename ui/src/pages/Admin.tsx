// The admin pages (`/admin/users`, `/admin/apikeys`, `/admin/audit`), for
// admins only (the API refuses others): users (create, set a password,
// remove), API keys (create, the secret shown once, deactivate/activate,
// remove) and the audit log (newest first, by user and action, followed
// by reading it again every 5 s). Users and keys have no watch: lists are
// read on opening and after each change. No streams.

import type { ReactElement } from "react";

import type { Client } from "../api";
import { Link } from "../Link";
import { adminPath, ADMIN_PAGES, type AdminPage } from "../route";
import { ApiKeys } from "./admin/ApiKeys";
import { Audit } from "./admin/Audit";
import { Users } from "./admin/Users";

const TITLES: Record<AdminPage, string> = { users: "Users", apikeys: "API keys", audit: "Audit log" };

export function Admin({
  client,
  page,
  self,
  environments,
}: {
  client: Client;
  page: AdminPage;
  self: string;
  environments: string[];
}): ReactElement {
  return (
    <main>
      <h1>Administration</h1>
      <nav aria-label="Admin pages" className="pages">
        <ul>
          {ADMIN_PAGES.map((p) => (
            <li key={p} aria-current={p === page ? "page" : undefined}>
              <Link to={adminPath(p)}>{TITLES[p]}</Link>
            </li>
          ))}
        </ul>
      </nav>
      {page === "users" && <Users client={client} self={self} />}
      {page === "apikeys" && <ApiKeys client={client} environments={environments} />}
      {page === "audit" && <Audit client={client} />}
    </main>
  );
}
