import { expect, it } from "vitest";

import { connectionLost, isNetworkError, reportConnection, subscribeConnection } from "./connection";
import { ApiError } from "./api";

it("is lost while any owner is lost, and tells its listeners on each change only", () => {
  const a = {};
  const b = {};
  let calls = 0;
  const unsubscribe = subscribeConnection(() => calls++);
  expect(connectionLost()).toBe(false);
  reportConnection(a, true);
  reportConnection(b, true);
  expect([connectionLost(), calls]).toEqual([true, 1]);
  reportConnection(a, false);
  expect(connectionLost()).toBe(true);
  reportConnection(b, false);
  expect([connectionLost(), calls]).toEqual([false, 2]);
  reportConnection(b, false);
  expect(calls).toBe(2);
  unsubscribe();
});

it("takes fetch's TypeError for a lost server, not the API's refusal", () => {
  expect(isNetworkError(new TypeError("Failed to fetch"))).toBe(true);
  expect(isNetworkError(new ApiError(503, "unavailable"))).toBe(false);
});
