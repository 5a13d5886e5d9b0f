// The light and the dark theme: the system's (`prefers-color-scheme`)
// until the user picks one with the header's toggle, which is remembered
// (localStorage). The theme is `data-theme` on <html>; theme.css holds the
// colours of each as CSS variables.

export type Theme = "light" | "dark";

export const THEME_KEY = "corral.theme";

/** The theme the user picked, if any. */
export function storedTheme(storage: Pick<Storage, "getItem">): Theme | null {
  let value: string | null = null;
  try {
    value = storage.getItem(THEME_KEY);
  } catch {
    // Storage refused (privacy settings): the system's theme.
  }
  return value === "light" || value === "dark" ? value : null;
}

export function effectiveTheme(stored: Theme | null, systemPrefersDark: boolean): Theme {
  return stored ?? (systemPrefersDark ? "dark" : "light");
}

export function otherTheme(theme: Theme): Theme {
  return theme === "dark" ? "light" : "dark";
}

const DARK = "(prefers-color-scheme: dark)";

function systemDark(): boolean {
  return typeof window.matchMedia === "function" && window.matchMedia(DARK).matches;
}

/** Sets <html data-theme> from the stored choice or the system's; answers it. */
export function applyTheme(): Theme {
  const theme = effectiveTheme(storedTheme(window.localStorage), systemDark());
  document.documentElement.dataset.theme = theme;
  return theme;
}

/** Remembers `theme` and applies it. */
export function chooseTheme(theme: Theme): void {
  try {
    window.localStorage.setItem(THEME_KEY, theme);
  } catch {
    // Not remembered; still applied.
  }
  applyTheme();
}

/** Calls `onChange` when the system's preference changes (the stored choice still wins). */
export function followSystemTheme(onChange: () => void): () => void {
  if (typeof window.matchMedia !== "function") return () => undefined;
  const query = window.matchMedia(DARK);
  query.addEventListener("change", onChange);
  return () => { query.removeEventListener("change", onChange); };
}
