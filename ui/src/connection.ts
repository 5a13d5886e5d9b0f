// Whether the server can be reached, as the live lists see it: a list
// whose watch or listing failed with a network error (no answer at all,
// not an API error) reports itself lost until it lists again. The shell
// shows "Connection lost — reconnecting…" while any is lost.

const lost = new Set<object>();
const listeners = new Set<() => void>();
let snapshot = false;

function publish(): void {
  const next = lost.size > 0;
  if (next === snapshot) return;
  snapshot = next;
  for (const listener of listeners) listener();
}

/** `owner` (a live list, a poller) could (false) or could not (true) reach the server. */
export function reportConnection(owner: object, isLost: boolean): void {
  if (isLost) lost.add(owner);
  else lost.delete(owner);
  publish();
}

/** Whether some owner lost the server now. */
export function connectionLost(): boolean {
  return snapshot;
}

export function subscribeConnection(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** A failure without an answer (fetch's TypeError), as opposed to the API's refusal. */
export function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError;
}
