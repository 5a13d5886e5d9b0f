// "Connection lost — reconnecting…" while a live list cannot reach the
// server (connection.ts); gone when the watches resume.

import { useSyncExternalStore, type ReactNode } from "react";

import { connectionLost, subscribeConnection } from "./connection";

export function ConnectionBanner(): ReactNode {
  const lost = useSyncExternalStore(subscribeConnection, connectionLost);
  if (!lost) return null;
  return (
    <div role="status" aria-live="polite" className="connection-lost">
      Connection lost — reconnecting…
    </div>
  );
}
