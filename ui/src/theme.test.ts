import { expect, it } from "vitest";

import { effectiveTheme, otherTheme, storedTheme, THEME_KEY } from "./theme";

function storage(value: string | null): Pick<Storage, "getItem"> {
  return { getItem: (key: string) => (key === THEME_KEY ? value : null) };
}

it("follows the system until a theme is picked", () => {
  expect(effectiveTheme(storedTheme(storage(null)), true)).toBe("dark");
  expect(effectiveTheme(storedTheme(storage(null)), false)).toBe("light");
  expect(effectiveTheme(storedTheme(storage("light")), true)).toBe("light");
  expect(effectiveTheme(storedTheme(storage("dark")), false)).toBe("dark");
  expect(storedTheme(storage("purple"))).toBeNull();
  const refusing = { getItem: (): string | null => { throw new Error("denied"); } };
  expect(storedTheme(refusing)).toBeNull();
  expect(otherTheme("dark")).toBe("light");
  expect(otherTheme("light")).toBe("dark");
});
