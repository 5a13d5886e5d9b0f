import { renderToStaticMarkup } from "react-dom/server";
import { expect, it } from "vitest";

import { EnvironmentSwitcher } from "./EnvironmentSwitcher";
import { Login } from "./pages/Login";

it("offers the environments given, each with the role in it", () => {
  const html = renderToStaticMarkup(
    <EnvironmentSwitcher
      environments={[
        { environment: "default", role: "member" },
        { environment: "staging", role: "read-only" },
      ]}
      current="staging"
      onChange={() => undefined}
    />,
  );
  expect(html).toContain("Environment");
  expect(html).toContain('<option value="default">default (member)</option>');
  expect(html).toContain('<option value="staging" selected="">staging (read-only)</option>');
});

it("labels every input of the login form", () => {
  const html = renderToStaticMarkup(<Login onLoggedIn={() => undefined} />);
  expect(html).toMatch(/<label>User name<input[^>]*name="username"/);
  expect(html).toMatch(/<label>Password<input[^>]*type="password"/);
  expect(html).toContain('<button type="submit">Log in</button>');
});
