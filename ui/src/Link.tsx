// A link inside the UI: the browser's history, no reload.

import type { ReactElement, ReactNode } from "react";

import { navigate } from "./route";

export function Link({ to, children }: { to: string; children: ReactNode }): ReactElement {
  return (
    <a
      href={to}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}
