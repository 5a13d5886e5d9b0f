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

const collator = new Intl.Collator();

/** The order of names (as `localeCompare` sorts them). */
export function compareNames(a: string, b: string): number {
  return collator.compare(a, b);
}

/**
 * The objects of a list by name and in name order, changed in place by one
 * event at a time: a lookup in the map, a binary search in the order, and a
 * splice only when an object comes or goes (an update replaces it where it
 * is). A burst of events costs no copy of the list per event; `items` copies
 * it once, when it is published.
 */
export class NamedIndex<O extends ApiObject> {
  private readonly byName = new Map<string, O>();
  private order: O[] = [];

  get size(): number {
    return this.byName.size;
  }

  get(name: string): O | undefined {
    return this.byName.get(name);
  }

  /** Replaces everything with `items` (a listing). */
  reset(items: readonly O[]): void {
    this.byName.clear();
    for (const o of items) this.byName.set(o.meta.name, o);
    const order = [...this.byName.values()];
    // A listing usually comes in name order already: a pass checks, and
    // only one that does not is sorted.
    let inOrder = true;
    for (let i = 1; i < order.length && inOrder; i += 1) {
      inOrder = compareNames((order[i - 1] as O).meta.name, (order[i] as O).meta.name) <= 0;
    }
    this.order = inOrder ? order : order.sort((a, b) => compareNames(a.meta.name, b.meta.name));
  }

  /** Where `name` is, or would go, in the order. */
  private position(name: string): number {
    let low = 0;
    let high = this.order.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const other = this.order[mid];
      if (other !== undefined && compareNames(other.meta.name, name) < 0) low = mid + 1;
      else high = mid;
    }
    // Names the collator finds equal but that differ: step to the exact one.
    let at = low;
    while (at < this.order.length && this.order[at]?.meta.name !== name) {
      const other = this.order[at];
      if (other === undefined || compareNames(other.meta.name, name) !== 0) return low;
      at += 1;
    }
    return at < this.order.length ? at : low;
  }

  /** Applies one event; answers whether it changed the objects. */
  apply(event: WatchEvent<O>): boolean {
    const name = event.object.meta.name;
    switch (event.type) {
      case "created":
      case "updated": {
        const had = this.byName.has(name);
        this.byName.set(name, event.object);
        const at = this.position(name);
        if (had && this.order[at]?.meta.name === name) this.order[at] = event.object;
        else this.order.splice(at, 0, event.object);
        return true;
      }
      case "deleted": {
        if (!this.byName.delete(name)) return false;
        const at = this.position(name);
        if (this.order[at]?.meta.name === name) this.order.splice(at, 1);
        return true;
      }
      default:
        return false;
    }
  }

  /** A copy of the objects in name order. */
  items(): O[] {
    return this.order.slice();
  }
}

/**
 * Runs `flush` once before the next frame is drawn (or after 50 ms when no
 * frame comes, as in a hidden tab or outside a browser), so that a burst of
 * events is rendered once per frame, not once per event.
 */
export function nextFrame(flush: () => void): void {
  let done = false;
  const once = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    flush();
  };
  const timer = setTimeout(once, 50);
  if (typeof requestAnimationFrame === "function") requestAnimationFrame(once);
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
  /** When the events applied since the last publish are published (default: `nextFrame`). */
  schedule?: (flush: () => void) => void;
  /** The list's name in the `corral:live` performance marks (the kind's plural). */
  name?: string;
}

/** What a `corral:live` performance mark carries: one publish of a watch's events. */
export interface LiveMarkDetail {
  list: string;
  /** Events applied since the last publish. */
  events: number;
  /** When the first of them was applied (`performance.now()`). */
  firstEventMs: number;
  revision: number;
}

export class LiveList<O extends ApiObject> {
  private readonly index = new NamedIndex<O>();
  /** Events applied and not yet published, and when the first of them came. */
  private pending = 0;
  private firstPendingMs = 0;
  private scheduled = false;
  /** Whether the objects changed since the last publish. */
  private dirty = false;
  private revision = 0;
  private snapshot: LiveSnapshot<O> = { items: [], status: "loading", error: null, revision: 0 };
  private readonly listeners = new Set<() => void>();
  private abort = new AbortController();
  private readonly source: ListSource<O>;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  private readonly schedule: (flush: () => void) => void;
  private readonly name: string;

  constructor(source: ListSource<O>, options: LiveOptions = {}) {
    this.source = source;
    this.retryMs = options.retryMs ?? 500;
    this.maxRetryMs = options.maxRetryMs ?? 10_000;
    this.schedule = options.schedule ?? nextFrame;
    this.name = options.name ?? "list";
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): LiveSnapshot<O> => this.snapshot;

  /** Publishes now (a status change), with whatever events were pending. */
  private publish(change: Partial<LiveSnapshot<O>>): void {
    const events = this.pending;
    const firstEventMs = this.firstPendingMs;
    this.pending = 0;
    this.snapshot = {
      ...this.snapshot,
      ...change,
      revision: this.revision,
      items: this.dirty ? this.index.items() : this.snapshot.items,
    };
    this.dirty = false;
    if (events > 0) this.mark(events, firstEventMs);
    for (const listener of this.listeners) listener();
  }

  /** Tells performance observers (the UI benchmark) that events were published. */
  private mark(events: number, firstEventMs: number): void {
    if (typeof performance === "undefined" || typeof performance.mark !== "function") return;
    const detail: LiveMarkDetail = { list: this.name, events, firstEventMs, revision: this.revision };
    performance.mark("corral:live", { detail });
    // Observers have it; the timeline need not keep one per frame forever.
    performance.clearMarks("corral:live");
  }

  /** One event applied: published with the others of its frame. */
  private applied(event: WatchEvent<O>): void {
    if (this.index.apply(event)) this.dirty = true;
    if (this.pending === 0) this.firstPendingMs = typeof performance === "undefined" ? 0 : performance.now();
    this.pending += 1;
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      if (this.pending > 0 || this.dirty) this.publish({});
    });
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
          this.index.reset(listing.items);
          this.dirty = true;
          revision = listing.revision;
          this.revision = revision;
          watch.relist = false;
        }
        this.publish({ status: "live", error: null });
        reportConnection(this, false);
        await this.source.watch(
          revision,
          (event) => {
            if (event.type === "expired") {
              watch.relist = true;
              return;
            }
            revision = Math.max(revision, event.object.meta.revision);
            this.revision = revision;
            wait = this.retryMs;
            this.applied(event);
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
