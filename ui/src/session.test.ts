import { expect, it } from "vitest";

import { environmentOf } from "./route";
import { clearHint, loggedInHint, saveHint } from "./session";

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

it("keeps only a hint of who logged in, never a secret, until it is cleared", () => {
  const storage = new MemoryStorage();
  expect(loggedInHint(storage)).toBeNull();
  saveHint("dana", storage);
  expect(loggedInHint(storage)).toBe("dana");
  expect(storage.length).toBe(1);
  clearHint(storage);
  expect(loggedInHint(storage)).toBeNull();
  storage.setItem("corral.user", "");
  expect(loggedInHint(storage)).toBeNull();
});

it("reads the environment of an address", () => {
  expect(environmentOf("/environments/dev")).toBe("dev");
  expect(environmentOf("/environments/a%20b/services")).toBe("a b");
  expect(environmentOf("/environments/")).toBeNull();
  expect(environmentOf("/login")).toBeNull();
});
