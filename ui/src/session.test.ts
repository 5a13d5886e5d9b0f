import { expect, it } from "vitest";

import { environmentOf } from "./route";
import { clearSession, loadSession, saveSession } from "./session";

class MemoryStorage implements Storage {
  private readonly data = new Map<string, string>();
  get length(): number {
    return this.data.size;
  }
  clear(): void {
    this.data.clear();
  }
  getItem(key: string): string | null {
    return this.data.get(key) ?? null;
  }
  key(index: number): string | null {
    return [...this.data.keys()][index] ?? null;
  }
  removeItem(key: string): void {
    this.data.delete(key);
  }
  setItem(key: string, value: string): void {
    this.data.set(key, value);
  }
}

it("keeps a session until it is cleared, and ignores garbage", () => {
  const storage = new MemoryStorage();
  expect(loadSession(storage)).toBeNull();
  saveSession({ token: "crl_s_1_x", user: "dana" }, storage);
  expect(loadSession(storage)).toEqual({ token: "crl_s_1_x", user: "dana" });
  clearSession(storage);
  expect(loadSession(storage)).toBeNull();
  storage.setItem("corral.session", "{not json");
  expect(loadSession(storage)).toBeNull();
});

it("reads the environment of an address", () => {
  expect(environmentOf("/environments/dev")).toBe("dev");
  expect(environmentOf("/environments/a%20b/services")).toBe("a b");
  expect(environmentOf("/environments/")).toBeNull();
  expect(environmentOf("/login")).toBeNull();
});
