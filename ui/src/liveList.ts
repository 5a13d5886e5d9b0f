// A live list: lists a kind of one environment, then follows its watch from
// the listed revision; reconnects after the stream ends or fails, and lists
// again when the server says the watch expired.

import { ApiError, type ApiObject, type ListResponse, type WatchEvent } from "./api";
import { isNetworkError, reportConnection } from "./connection";

/** Where a live list reads from (a `Client` bound to a kind and environment). */
export interface ListSource<O> {
  list(signal: AbortSignal): Promise<ListResponse<O>>;
  watch(revision: number, onEvent: (event: WatchEvent<O>) => void, signal: AbortSignal): Promise<void>;
}

export type LiveStatus = "loading" | "live" | "reconnecting" | "failed";

export interface LiveSnapshot<O> {
  /** The objects by name, sorted by name. */
  items: readonly O[];
  status: LiveStatus;
  /** The last error, shown while reconnecting or failed. */
  error: string | null;
  revision: number;
}

/** The objects after one event; the same map when the event changes none. */
export function applyEvent<O extends ApiObject>(
  objects: ReadonlyMap<string, O>,
  event: WatchEvent<O>,
): ReadonlyMap<string, O> {
  const name = event.object.meta.name;
  switch (event.type) {
    case "created":
    case "updated": {
      const next = new Map(objects);
      next.set(name, event.object);
      return next;
    }
    case "deleted": {
      if (!objects.has(name)) return objects;
      const next = new Map(objects);
      next.delete(name);
      return next;
    }
    default:
      return objects;
  }
}

function sorted<O extends ApiObject>(objects: ReadonlyMap<string, O>): O[] {
  return [...objects.values()].sort((a, b) => a.meta.name.localeCompare(b.meta.name));
}

/** Errors a retry cannot mend: the caller must log in again or lacks the right. */
function permanent(error: unknown): boolean {
  return error instanceof ApiError && [400, 401, 403, 404].includes(error.status);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export interface LiveOptions {
  /** The first wait before reconnecting; doubles up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
}

export class LiveList<O extends ApiObject> {
  private objects: ReadonlyMap<string, O> = new Map();
  private snapshot: LiveSnapshot<O> = { items: [], status: "loading", error: null, revision: 0 };
  private readonly listeners = new Set<() => void>();
  private abort = new AbortController();
  private readonly source: ListSource<O>;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;

  constructor(source: ListSource<O>, options: LiveOptions = {}) {
    this.source = source;
    this.retryMs = options.retryMs ?? 500;
    this.maxRetryMs = options.maxRetryMs ?? 10_000;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): LiveSnapshot<O> => this.snapshot;

  private publish(change: Partial<LiveSnapshot<O>>): void {
    this.snapshot = { ...this.snapshot, ...change, items: sorted(this.objects) };
    for (const listener of this.listeners) listener();
  }

  /** Runs until [`stop`]; resolves then (never rejects). Runs again after a stop. */
  async run(): Promise<void> {
    this.abort = new AbortController();
    const signal = this.abort.signal;
    // Read through a function: the compiler would take it for constant
    // across the awaits below.
    const stopped = (): boolean => signal.aborted;
    let wait = this.retryMs;
    // Set by an `expired` event inside the watch's callback.
    const watch = { relist: true };
    const relisting = (): boolean => watch.relist;
    let revision = 0;
    while (!stopped()) {
      try {
        if (watch.relist) {
          const listing = await this.source.list(signal);
          this.objects = new Map(listing.items.map((o) => [o.meta.name, o]));
          revision = listing.revision;
          watch.relist = false;
        }
        this.publish({ status: "live", error: null, revision });
        reportConnection(this, false);
        await this.source.watch(
          revision,
          (event) => {
            if (event.type === "expired") {
              watch.relist = true;
              return;
            }
            revision = Math.max(revision, event.object.meta.revision);
            this.objects = applyEvent(this.objects, event);
            wait = this.retryMs;
            this.publish({ revision });
          },
          signal,
        );
        // The stream ended (expired, or the server closed it): go on.
        if (stopped()) return;
        if (!relisting()) await sleep(this.retryMs, signal);
      } catch (error) {
        if (stopped()) return;
        if (permanent(error)) {
          this.publish({ status: "failed", error: message(error) });
          return;
        }
        this.publish({ status: "reconnecting", error: message(error) });
        // No answer at all: the server is out of reach (the shell's banner).
        reportConnection(this, isNetworkError(error));
        await sleep(wait, signal);
        wait = Math.min(wait * 2, this.maxRetryMs);
        watch.relist = true;
      }
    }
  }

  stop(): void {
    this.abort.abort();
    reportConnection(this, false);
  }
}
