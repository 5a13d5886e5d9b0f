import { describe, expect, it } from "vitest";

import { ApiError, type ApiObject, type ListResponse, type WatchEvent } from "./api";
import { connectionLost } from "./connection";
import { applyEvent, LiveList, type ListSource, type LiveSnapshot } from "./liveList";

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

describe("applyEvent", () => {
  it("adds, replaces and removes by name", () => {
    let m: ReadonlyMap<string, Obj> = new Map();
    m = applyEvent(m, event("created", obj("web", 2)));
    m = applyEvent(m, event("updated", obj("web", 3, "nginx")));
    expect(m.get("web")?.spec.image).toBe("nginx");
    m = applyEvent(m, event("deleted", obj("web", 4)));
    expect(m.size).toBe(0);
  });

  it("leaves the map alone for bookmarks and unknown deletes", () => {
    const m: ReadonlyMap<string, Obj> = new Map([["web", obj("web", 2)]]);
    expect(applyEvent(m, event("bookmark", obj("", 9)))).toBe(m);
    expect(applyEvent(m, event("deleted", obj("db", 9)))).toBe(m);
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
