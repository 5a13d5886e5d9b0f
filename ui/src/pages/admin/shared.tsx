// What the admin pages share: error text, a field error's place, the alert
// under a control, and a live list (listed, then watched).

import { useMemo, type ReactNode } from "react";

import { ApiError, type ApiObject, type Client } from "../../api";
import { besideField } from "../../forms";
import { useLiveAt } from "../../useLive";

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface FieldFailure {
  message: string;
  field: string;
}

export function failureOf(e: unknown): FieldFailure {
  return { message: besideField(e), field: e instanceof ApiError ? (e.field ?? "") : "" };
}

export function Alert({ text, id }: { text: string | null | undefined; id?: string }): ReactNode {
  if (!text) return null;
  return (
    <span role="alert" id={id} className="error inline">
      {text}
    </span>
  );
}

/** A list the API lists and watches at `path`, live, sorted by `order`. */
export function useList<O extends ApiObject>(client: Client, path: string, order: (a: O, b: O) => number): { items: O[] | null; error: string | null } {
  const live = useLiveAt<O>(client, path);
  const items = useMemo(() => [...live.items].sort(order), [live.items, order]);
  const error = live.status === "failed" || live.status === "reconnecting" ? live.error : null;
  return { items: live.status === "loading" ? null : items, error };
}
