// What the admin pages share: error text, a field error's place, the alert
// under a control, and a list read with a plain request (no watch).

import { useCallback, useEffect, useState, type ReactNode } from "react";

import { ApiError, type ApiObject, type Client, type ListResponse } from "../../api";
import { besideField } from "../../forms";

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

/** A list read with GET (sorted by `order`), again after `refresh()`. */
export function useList<O extends ApiObject>(client: Client, path: string, order: (a: O, b: O) => number): { items: O[] | null; error: string | null; refresh: () => void } {
  const [items, setItems] = useState<O[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    client.request<ListResponse<O>>("GET", path, undefined, abort.signal).then(
      (list) => {
        setItems([...list.items].sort(order));
        setError(null);
      },
      (e: unknown) => { if (!abort.signal.aborted) setError(message(e)); },
    );
    return () => { abort.abort(); };
  }, [client, path, tick, order]);
  return { items, error, refresh: useCallback(() => { setTick((t) => t + 1); }, []) };
}

