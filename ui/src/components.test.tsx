import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";

import type { Question, TemplateInfo } from "./catalog";
import { EnvironmentSwitcher } from "./EnvironmentSwitcher";
import { Icon, QuestionField } from "./pages/Catalog";
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

describe("a catalog question's input", () => {
  const base: Question = { variable: "v", label: "Value", description: "What it is.", type: "string", required: false };
  const render = (q: Partial<Question>, value: string, error?: string): string =>
    renderToStaticMarkup(<QuestionField question={{ ...base, ...q }} value={value} error={error} onChange={() => undefined} />);

  it("is labelled, described, and the right kind per type", () => {
    const text = render({}, "x");
    const id = /<input id="([^"]+)"/.exec(text)?.[1] ?? "";
    expect(id).not.toBe("");
    expect(text).toContain(`<label for="${id}">Value</label>`);
    expect(text).toContain(`aria-describedby="${id}-description"`);
    expect(text).toContain(`<span class="hint" id="${id}-description">What it is.</span>`);
    expect(text).toMatch(/<input[^>]*type="text"[^>]*value="x"/);
    expect(render({ type: "int", min: 1, max: 9 }, "3")).toMatch(/<input[^>]*type="text"[^>]*inputMode="numeric"/);
    expect(render({ type: "int", min: 1, max: 9 }, "3")).toContain("What it is. (min 1, max 9)");
    expect(render({ type: "password" }, "s")).toMatch(/<input[^>]*type="password"[^>]*autoComplete="new-password"/);
    expect(render({ type: "multiline" }, "a\nb")).toMatch(/<textarea[^>]*>a\nb<\/textarea>/);
    expect(render({ type: "boolean" }, "true")).toMatch(/<select[^>]*><option value="true" selected="">true<\/option><option value="false">false<\/option><\/select>/);
    expect(render({ type: "enum", options: ["s", "m"], required: true }, "m")).toMatch(
      /<select[^>]*><option value="s">s<\/option><option value="m" selected="">m<\/option><\/select>/,
    );
    expect(render({ type: "enum", options: ["s", "m"] }, "")).toContain('<option value="" selected="">(no answer)</option>');
    expect(render({ required: true }, "")).toContain('<label for="');
    expect(render({ required: true }, "")).toContain('Value<span class="required"> (required)</span></label>');
  });

  it("shows its error beside it, named by aria-describedby and marked invalid", () => {
    const text = render({ type: "int" }, "eighty", '"eighty" is not a whole number');
    const id = /<input id="([^"]+)"/.exec(text)?.[1] ?? "";
    expect(text).toContain('aria-invalid="true"');
    expect(text).toContain(`aria-describedby="${id}-description ${id}-error"`);
    expect(text).toContain(`<span role="alert" id="${id}-error" class="error inline field-error">&quot;eighty&quot; is not a whole number</span>`);
  });
});

describe("a service or certificate question's picker", () => {
  const base: Question = { variable: "db", label: "Database", description: "", type: "service", required: true };
  it("is a labelled text input offering the choices, which also takes any typed name", () => {
    const html = renderToStaticMarkup(
      <QuestionField question={base} value="db/mysql" error={undefined} choices={["db/mysql", "web/lb"]} onChange={() => undefined} />,
    );
    const id = /<input id="([^"]+)"/.exec(html)?.[1] ?? "";
    expect(id).not.toBe("");
    expect(html).toContain(`<label for="${id}">Database<span class="required"> (required)</span></label>`);
    expect(html).toMatch(new RegExp(`<input id="${id}"[^>]*type="text"[^>]*list="${id}-choices"[^>]*value="db/mysql"`));
    expect(html).toContain(`<datalist id="${id}-choices"><option value="db/mysql"></option><option value="web/lb"></option></datalist>`);
    const cert = renderToStaticMarkup(
      <QuestionField question={{ ...base, type: "certificate", label: "Certificate" }} value="" error={undefined} choices={["example-com"]} onChange={() => undefined} />,
    );
    expect(cert).toContain('<option value="example-com"></option>');
    // No choices (none yet, or the list not read): still a text input.
    expect(renderToStaticMarkup(<QuestionField question={base} value="" error={undefined} onChange={() => undefined} />)).toMatch(/<datalist id="[^"]+-choices"><\/datalist>/);
  });
});

describe("a template's icon", () => {
  const t: TemplateInfo = {
    id: "library/hello",
    catalog: "library",
    folder: "hello",
    infra: false,
    name: "Hello",
    description: "",
    category: "",
    maintainer: "",
    license: "",
    project_url: "",
    default_version: "0",
    versions: [],
  };
  it("is the API's icon when there is one, else the initial, hidden from screen readers", () => {
    // (React's server renderer adds a preload link before an image.)
    expect(renderToStaticMarkup(<Icon env="dev" template={{ ...t, icon: "icon.svg" }} />)).toContain(
      '<img class="template-icon" src="/v1/environments/dev/templates/library/hello/icon" alt="" width="48" height="48"/>',
    );
    expect(renderToStaticMarkup(<Icon env="dev" template={t} />)).toMatch(/^<span class="template-icon fallback" aria-hidden="true"[^>]*>H<\/span>$/);
  });
});
