// React's view of a live list: started with the component, stopped after it.

import { useEffect, useState, useSyncExternalStore } from "react";

import { type ApiObject, type Client, type ListResponse, type Plural } from "./api";
import { LiveList, type LiveSnapshot } from "./liveList";

export function liveListOf<O extends ApiObject>(client: Client, env: string, plural: Plural): LiveList<O> {
  return new LiveList<O>(
    {
      list: (signal) => client.list<O>(env, plural, signal),
      watch: (revision, onEvent, signal) => client.watch<O>(env, plural, revision, onEvent, signal),
    },
    { name: plural },
  );
}

/**
 * The live list of `plural` in `env`. While `enabled` is false nothing is
 * requested (a page that follows a list only for some of what it shows
 * holds no stream for the rest); the snapshot stays as it was.
 */
export function useLive<O extends ApiObject>(client: Client, env: string, plural: Plural, enabled = true): LiveSnapshot<O> {
  const [live, setLive] = useState(() => liveListOf<O>(client, env, plural));
  const [key, setKey] = useState({ client, env, plural });
  if (key.client !== client || key.env !== env || key.plural !== plural) {
    // A new environment (or session): a new list, set during render so that
    // no frame shows the old environment's objects.
    setKey({ client, env, plural });
    setLive(liveListOf<O>(client, env, plural));
  }
  useEffect(() => {
    if (!enabled) return undefined;
    void live.run();
    return () => { live.stop(); };
  }, [live, enabled]);
  return useSyncExternalStore(live.subscribe, live.getSnapshot);
}

/** A live list of any path the API lists and watches (`/v1/users`, `.../members`). */
export function liveListAt<O extends ApiObject>(client: Client, path: string): LiveList<O> {
  return new LiveList<O>(
    {
      list: (signal) => client.request<ListResponse<O>>("GET", path, undefined, signal),
      watch: (revision, onEvent, signal) => client.watchPath<O>(path, revision, onEvent, signal),
    },
    { name: path },
  );
}

/** `useLive` of a list by its path. */
export function useLiveAt<O extends ApiObject>(client: Client, path: string): LiveSnapshot<O> {
  const [live, setLive] = useState(() => liveListAt<O>(client, path));
  const [key, setKey] = useState({ client, path });
  if (key.client !== client || key.path !== path) {
    setKey({ client, path });
    setLive(liveListAt<O>(client, path));
  }
  useEffect(() => {
    void live.run();
    return () => { live.stop(); };
  }, [live]);
  return useSyncExternalStore(live.subscribe, live.getSnapshot);
}
