import { describe, expect, it } from "vitest";

import { ApiError, type ApiObject, type ListResponse, type WatchEvent } from "./api";
import { connectionLost } from "./connection";
import { compareNames, LiveList, NamedIndex, type ListSource, type LiveMarkDetail, type LiveSnapshot } from "./liveList";

type Obj = ApiObject<{ image: string }, null>;

function obj(name: string, revision: number, image = "busybox"): Obj {
  return {
    kind: "service",
    meta: { environment: "default", name, uid: name, revision, generation: 1, labels: {}, created: "" },
    spec: { image },
    status: null,
  };
}

function event(type: WatchEvent<Obj>["type"], o: Obj): WatchEvent<Obj> {
  return { type, object: o };
}

describe("NamedIndex", () => {
  it("adds, replaces and removes by name, keeping the name order", () => {
    const index = new NamedIndex<Obj>();
    expect(index.apply(event("created", obj("web", 2)))).toBe(true);
    expect(index.apply(event("created", obj("api", 3)))).toBe(true);
    expect(index.apply(event("created", obj("db", 4)))).toBe(true);
    expect(index.apply(event("updated", obj("web", 5, "nginx")))).toBe(true);
    expect(index.get("web")?.spec.image).toBe("nginx");
    expect(index.items().map((o) => o.meta.name)).toEqual(["api", "db", "web"]);
    expect(index.apply(event("deleted", obj("db", 6)))).toBe(true);
    expect(index.items().map((o) => o.meta.name)).toEqual(["api", "web"]);
    expect(index.size).toBe(2);
  });

  it("changes nothing for bookmarks and unknown deletes", () => {
    const index = new NamedIndex<Obj>();
    index.reset([obj("web", 2)]);
    expect(index.apply(event("bookmark", obj("", 9)))).toBe(false);
    expect(index.apply(event("deleted", obj("db", 9)))).toBe(false);
    expect(index.items().map((o) => o.meta.name)).toEqual(["web"]);
  });

  it("sorts as localeCompare does, whatever the order of the events", () => {
    const names = Array.from({ length: 300 }, (_, i) => `svc-${String((i * 7919) % 1000)}-${i % 3 === 0 ? "A" : "b"}`);
    const index = new NamedIndex<Obj>();
    index.reset(names.slice(0, 100).map((n) => obj(n, 1)));
    for (const n of names.slice(100)) index.apply(event("created", obj(n, 2)));
    for (const n of names.filter((_, i) => i % 5 === 0)) index.apply(event("deleted", obj(n, 3)));
    for (const n of names.filter((_, i) => i % 7 === 0)) index.apply(event("updated", obj(n, 4)));
    const expected = [...new Set(names.filter((_, i) => i % 5 !== 0 || i % 7 === 0))].sort((a, b) => a.localeCompare(b));
    expect(index.items().map((o) => o.meta.name)).toEqual(expected);
    expect(compareNames("a", "b")).toBeLessThan(0);
  });

  it("applies a burst of 1,000 updates to 10,000 objects without copying them per event", () => {
    const index = new NamedIndex<Obj>();
    index.reset(Array.from({ length: 10_000 }, (_, i) => obj(`i-${String(i).padStart(5, "0")}`, 1)));
    const started = performance.now();
    for (let i = 0; i < 1_000; i += 1) index.apply(event("updated", obj(`i-${String(i * 10).padStart(5, "0")}`, 2, "new")));
    // Generous for a loaded machine: a copy and sort per event took seconds.
    expect(performance.now() - started).toBeLessThan(200);
    expect(index.items().filter((o) => o.spec.image === "new")).toHaveLength(1_000);
  });
});

describe("LiveList publishing", () => {
  it("publishes a burst of events once per scheduled flush, with a performance mark", async () => {
    const source = new Script();
    source.lists.push({ items: [obj("web", 3)], revision: 5 });
    let emit: ((e: WatchEvent<Obj>) => void) | null = null;
    source.watches.push((e) => {
      emit = e;
      return new Promise(() => undefined);
    });
    const flushes: (() => void)[] = [];
    const live = new LiveList(source, { schedule: (f) => flushes.push(f), name: "services" });
    const marks: LiveMarkDetail[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntriesByName("corral:live")) marks.push((entry as PerformanceMark).detail as LiveMarkDetail);
    });
    observer.observe({ entryTypes: ["mark"] });
    let published = 0;
    live.subscribe(() => (published += 1));
    void live.run();
    await until(live, (s) => s.status === "live");
    const before = published;
    const send = emit as ((e: WatchEvent<Obj>) => void) | null;
    if (!send) throw new Error("no watch");
    for (let i = 0; i < 100; i += 1) send(event("created", obj(`n${String(i)}`, 6 + i)));
    expect(published).toBe(before);
    expect(flushes).toHaveLength(1);
    const itemsBefore = live.getSnapshot().items;
    flushes[0]?.();
    expect(published).toBe(before + 1);
    expect(live.getSnapshot().items).toHaveLength(101);
    expect(live.getSnapshot().items).not.toBe(itemsBefore);
    expect(live.getSnapshot().revision).toBe(105);
    // A bookmark moves the revision on and keeps the same items.
    send(event("bookmark", obj("", 200)));
    const items = live.getSnapshot().items;
    flushes[1]?.();
    expect(live.getSnapshot().revision).toBe(200);
    expect(live.getSnapshot().items).toBe(items);
    await new Promise((resolve) => setTimeout(resolve, 10));
    observer.disconnect();
    live.stop();
    expect(marks.map((m) => [m.list, m.events, m.revision])).toContainEqual(["services", 100, 105]);
  });
});

/** A source answering scripted lists and watches, recording what was asked. */
class Script implements ListSource<Obj> {
  calls: string[] = [];
  lists: (ListResponse<Obj> | Error)[] = [];
  watches: ((emit: (e: WatchEvent<Obj>) => void) => Promise<void>)[] = [];

  list(): Promise<ListResponse<Obj>> {
    this.calls.push("list");
    const next = this.lists.shift();
    if (!next) return new Promise(() => undefined);
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  }

  watch(revision: number, onEvent: (e: WatchEvent<Obj>) => void, signal: AbortSignal): Promise<void> {
    this.calls.push(`watch@${revision}`);
    const next = this.watches.shift();
    if (!next) {
      return new Promise((resolve) => { signal.addEventListener("abort", () => { resolve(); }); });
    }
    return next(onEvent);
  }
}

function until(live: LiveList<Obj>, test: (s: LiveSnapshot<Obj>) => boolean): Promise<LiveSnapshot<Obj>> {
  return new Promise((resolve) => {
    const check = (): void => {
      const s = live.getSnapshot();
      if (test(s)) {
        unsubscribe();
        resolve(s);
      }
    };
    const unsubscribe = live.subscribe(check);
    check();
  });
}

describe("LiveList", () => {
  it("lists, then applies the watch's events from the listed revision", async () => {
    const source = new Script();
    source.lists.push({ items: [obj("web", 3)], revision: 5 });
    source.watches.push((emit) => {
      emit(event("created", obj("db", 6)));
      emit(event("deleted", obj("web", 7)));
      return new Promise(() => undefined);
    });
    const live = new LiveList(source, { retryMs: 1 });
    void live.run();
    const s = await until(live, (x) => x.revision === 7);
    expect(s.items.map((o) => o.meta.name)).toEqual(["db"]);
    expect(s.status).toBe("live");
    expect(source.calls).toEqual(["list", "watch@5"]);
    live.stop();
  });

  it("lists again after an expired watch", async () => {
    const source = new Script();
    source.lists.push({ items: [obj("web", 3)], revision: 5 }, { items: [obj("api", 40)], revision: 40 });
    source.watches.push((emit) => {
      emit(event("expired", obj("", 0)));
      return Promise.resolve();
    });
    const live = new LiveList(source, { retryMs: 1 });
    void live.run();
    const s = await until(live, (x) => x.revision === 40);
    expect(s.items.map((o) => o.meta.name)).toEqual(["api"]);
    await until(live, () => source.calls.length === 4);
    expect(source.calls).toEqual(["list", "watch@5", "list", "watch@40"]);
    live.stop();
  });

  it("resumes from the last revision after the stream ends", async () => {
    const source = new Script();
    source.lists.push({ items: [], revision: 5 });
    source.watches.push((emit) => {
      emit(event("bookmark", obj("", 9)));
      return Promise.resolve();
    });
    const live = new LiveList(source, { retryMs: 1 });
    void live.run();
    await new Promise((r) => setTimeout(r, 30));
    expect(source.calls).toEqual(["list", "watch@5", "watch@9"]);
    live.stop();
  });

  it("shows a failure, then reconnects with a new list", async () => {
    const source = new Script();
    source.lists.push(new Error("connection refused"), { items: [obj("web", 2)], revision: 2 });
    const live = new LiveList(source, { retryMs: 1 });
    const seen: string[] = [];
    live.subscribe(() => seen.push(live.getSnapshot().status));
    void live.run();
    const s = await until(live, (x) => x.items.length === 1);
    expect(seen[0]).toBe("reconnecting");
    expect(s.status).toBe("live");
    expect(s.error).toBeNull();
    live.stop();
  });

  it("reports the server lost on a network error until it lists again, not on the API's errors", async () => {
    const source = new Script();
    source.lists.push(new TypeError("Failed to fetch"), new ApiError(503, "busy"), { items: [], revision: 2 });
    const live = new LiveList(source, { retryMs: 1 });
    const lost: boolean[] = [];
    live.subscribe(() => lost.push(connectionLost()));
    void live.run();
    await until(live, (x) => x.status === "live");
    expect(lost.slice(0, 2)).toEqual([false, true]);
    expect(connectionLost()).toBe(false);
    live.stop();
  });

  it("stops retrying when the session is refused", async () => {
    const source = new Script();
    source.lists.push(new ApiError(401, "invalid token"));
    const live = new LiveList(source, { retryMs: 1 });
    await live.run();
    expect(live.getSnapshot()).toMatchObject({ status: "failed", error: "invalid token" });
    expect(source.calls).toEqual(["list"]);
  });
});
