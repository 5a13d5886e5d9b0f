// The header's theme toggle: light or dark, remembered (theme.ts); until
// pressed the system's preference decides.

import { useEffect, useState, type ReactElement } from "react";

import { applyTheme, chooseTheme, followSystemTheme, otherTheme, type Theme } from "./theme";

export function ThemeToggle(): ReactElement {
  const [theme, setTheme] = useState<Theme>(() => applyTheme());
  useEffect(() => followSystemTheme(() => { setTheme(applyTheme()); }), []);
  const next = otherTheme(theme);
  return (
    <button
      type="button"
      className="theme-toggle"
      aria-label={`Switch to the ${next} theme`}
      title={`Switch to the ${next} theme`}
      onClick={() => {
        chooseTheme(next);
        setTheme(next);
      }}
    >
      <span aria-hidden="true">{theme === "dark" ? "☀" : "☾"}</span>
    </button>
  );
}
