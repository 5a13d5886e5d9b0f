// The environments the caller sees (from `GET /v1/whoami`), with its role in
// each; choosing one opens its dashboard.

import type { ReactElement } from "react";

import type { EnvironmentRole } from "./api";

export function EnvironmentSwitcher({
  environments,
  current,
  onChange,
}: {
  environments: readonly EnvironmentRole[];
  current: string;
  onChange: (env: string) => void;
}): ReactElement {
  return (
    <label className="switcher">
      Environment
      <select value={current} onChange={(e) => { onChange(e.target.value); }}>
        {environments.map((e) => (
          <option key={e.environment} value={e.environment}>
            {e.environment} ({e.role})
          </option>
        ))}
      </select>
    </label>
  );
}
