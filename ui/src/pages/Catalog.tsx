// The catalog: every template the environment sees (its catalogs and the
// global ones), as cards with icon, name, category and description, with a
// category filter and a search. A template's page (`template` set): its
// README, versions and the chosen version's questions as a form, checked
// as the server checks them; **Review plan** is a launch's dry run and
// **Launch** sends exactly what was planned, then opens the stack. The
// templates are read with plain requests (the API has no watch of them);
// the form follows the environment's services or certificates only while
// the version asks a `service` or `certificate` question, for its choices.

import { useEffect, useId, useMemo, useState, type ReactElement } from "react";

import { ApiError, type ApiObject, type Client } from "../api";
import {
  answersToSend,
  appsPath,
  categoriesOf,
  certificateChoices,
  choicesNeeded,
  defaultVersion,
  filterTemplates,
  iconPath,
  initialAnswers,
  labelOf,
  messageAt,
  placeOf,
  serviceChoices,
  templatePath,
  templatesPath,
  validateAnswers,
  type LaunchPlan,
  type Question,
  type TemplateInfo,
  type VersionInfo,
} from "../catalog";
import { Link } from "../Link";
import { Markdown } from "../markdown";
import type { ServiceObject } from "../model";
import { navigate, pathOf } from "../route";
import { nameError } from "../stacks";
import { useLive } from "../useLive";
import { canChangeWorkloads } from "./Services";
import { PlanView } from "./PlanView";

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A GET of the API while the component is shown: the value, or the error. */
function useRead(client: Client, path: string, again: number): { value: unknown; error: string | null } {
  const [state, setState] = useState<{ key: string; value: unknown; error: string | null }>({ key: "", value: null, error: null });
  const key = `${path}#${again}`;
  useEffect(() => {
    const abort = new AbortController();
    client.request<unknown>("GET", path, undefined, abort.signal).then(
      (value) => { setState({ key, value, error: null }); },
      (e: unknown) => {
        if (!abort.signal.aborted) setState({ key, value: null, error: message(e) });
      },
    );
    return () => { abort.abort(); };
  }, [client, path, key]);
  // A new path shows nothing of the old one's answer; a reload keeps it until the new one comes.
  if (!state.key.startsWith(`${path}#`)) return { value: null, error: null };
  return state;
}

/** The template's icon, or its initial in a box when it has none (or it does not load). */
export function Icon({ env, template, size = 48 }: { env: string; template: TemplateInfo; size?: number }): ReactElement {
  const [broken, setBroken] = useState(false);
  if (template.icon && !broken) {
    return (
      <img
        className="template-icon"
        src={iconPath(env, template.id)}
        alt=""
        width={size}
        height={size}
        onError={() => { setBroken(true); }}
      />
    );
  }
  return (
    <span className="template-icon fallback" aria-hidden="true" style={{ width: size, height: size, lineHeight: `${size}px` }}>
      {(template.name || template.folder).slice(0, 1).toUpperCase()}
    </span>
  );
}

function TemplateList({ client, env, writable }: { client: Client; env: string; writable: boolean }): ReactElement {
  const [again, setAgain] = useState(0);
  const read = useRead(client, templatesPath(env), again);
  const list = read.value as TemplateInfo[] | null;
  const [category, setCategory] = useState("");
  const [search, setSearch] = useState("");
  const all = list ?? [];
  const categories = categoriesOf(all);
  const shown = filterTemplates(all, category, search);
  return (
    <section aria-labelledby="catalog" className="panel catalog">
      <h2 id="catalog">
        Catalog <span className="count">{all.length}</span>
      </h2>
      <div className="toolbar">
        <label htmlFor="catalog-category">Category</label>
        <select id="catalog-category" value={category} onChange={(e) => { setCategory(e.target.value); }}>
          <option value="">All categories</option>
          {categories.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
        <label htmlFor="catalog-search">Search</label>
        <input id="catalog-search" type="search" value={search} placeholder="name or description" onChange={(e) => { setSearch(e.target.value); }} />
        <button type="button" onClick={() => { setAgain((n) => n + 1); }}>
          Reload
        </button>
      </div>
      {read.error && (
        <p role="alert" className="error">
          {read.error}
        </p>
      )}
      {list === null && !read.error && <p role="status">loading…</p>}
      {list !== null && all.length === 0 && (
        <p className="empty">No templates yet: the catalogs may still be read (Reload), or none is added.</p>
      )}
      {all.length > 0 && shown.length === 0 && <p className="empty">No template matches.</p>}
      <ul aria-label="Templates" className="templates">
        {shown.map((t) => (
          <li key={t.id} className="template-card">
            <Icon env={env} template={t} />
            <div className="template-text">
              <h3>
                <Link to={pathOf(env, { page: "template", id: t.id })}>{t.name || t.folder}</Link>
              </h3>
              <p className="template-meta">
                {t.category || "no category"} · {t.id}
                {t.infra ? " · infrastructure" : ""}
              </p>
              <p className="template-description">{t.description}</p>
              {writable && (
                <button
                  type="button"
                  aria-label={`Launch ${t.name || t.folder}`}
                  onClick={() => { navigate(pathOf(env, { page: "template", id: t.id })); }}
                >
                  Launch
                </button>
              )}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** One question's input, with its label, description and error. */
export function QuestionField({
  question,
  value,
  error,
  disabled,
  choices = [],
  onChange,
}: {
  question: Question;
  value: string;
  error: string | undefined;
  disabled?: boolean;
  /** What a `service` or `certificate` question offers (any other answer may be typed). */
  choices?: readonly string[];
  onChange: (value: string) => void;
}): ReactElement {
  const id = `answer-${useId()}`;
  const q = question;
  const described = [q.description ? `${id}-description` : "", error ? `${id}-error` : ""].filter((s) => s !== "").join(" ");
  const common = {
    id,
    name: q.variable,
    disabled,
    required: q.required,
    "aria-invalid": error !== undefined,
    "aria-describedby": described || undefined,
  };
  let input: ReactElement;
  switch (q.type) {
    case "boolean":
    case "enum": {
      // A select of the choices; an optional question may stay unanswered,
      // and a value that is none of them (a default) stays shown.
      const options = q.type === "boolean" ? ["true", "false"] : (q.options ?? []);
      const choices = [...(q.required || q.type === "boolean" ? [] : [""]), ...options];
      if (!choices.includes(value)) choices.unshift(value);
      input = (
        <select {...common} value={value} onChange={(e) => { onChange(e.target.value); }}>
          {choices.map((c) => (
            <option key={c} value={c}>
              {c === "" ? "(no answer)" : c}
            </option>
          ))}
        </select>
      );
      break;
    }
    case "multiline":
      input = <textarea {...common} rows={5} spellCheck={false} value={value} onChange={(e) => { onChange(e.target.value); }} />;
      break;
    case "password":
      input = <input {...common} type="password" autoComplete="new-password" value={value} onChange={(e) => { onChange(e.target.value); }} />;
      break;
    case "int":
      // Text with a numeric keypad, not type=number: the browser would
      // silently empty "eighty" instead of letting the check name it.
      input = <input {...common} type="text" inputMode="numeric" className="short" value={value} onChange={(e) => { onChange(e.target.value); }} />;
      break;
    case "service":
    case "certificate":
      // Text with the environment's services or certificates offered: a
      // name not there yet (a service of the stack being launched) may
      // still be typed.
      input = (
        <>
          <input
            {...common}
            type="text"
            spellCheck={false}
            autoComplete="off"
            list={`${id}-choices`}
            value={value}
            onChange={(e) => { onChange(e.target.value); }}
          />
          <datalist id={`${id}-choices`}>
            {choices.map((c) => (
              <option key={c} value={c} />
            ))}
          </datalist>
        </>
      );
      break;
    default:
      input = <input {...common} type="text" spellCheck={false} value={value} onChange={(e) => { onChange(e.target.value); }} />;
  }
  const limits = [
    q.min !== undefined ? `min ${q.min}` : "",
    q.max !== undefined ? `max ${q.max}` : "",
    q.min_length !== undefined ? `at least ${q.min_length} characters` : "",
    q.max_length !== undefined ? `at most ${q.max_length} characters` : "",
  ].filter((s) => s !== "");
  return (
    <div className="field question">
      <label htmlFor={id}>
        {labelOf(q)}
        {q.required && <span className="required"> (required)</span>}
      </label>
      {input}
      {(q.description || limits.length > 0) && (
        <span className="hint" id={`${id}-description`}>
          {q.description}
          {limits.length > 0 ? `${q.description ? " " : ""}(${limits.join(", ")})` : ""}
        </span>
      )}
      {error && (
        <span role="alert" id={`${id}-error`} className="error inline field-error">
          {error}
        </span>
      )}
    </div>
  );
}

interface FormError {
  place: ReturnType<typeof placeOf>;
  message: string;
}

function Answers({ answers }: { answers: Record<string, string> }): ReactElement {
  return (
    <dl className="facts answers" aria-label="Answers">
      {Object.entries(answers).map(([k, v]) => (
        <div key={k} className="fact">
          <dt>{k}</dt>
          <dd>{v === "" ? "(empty)" : v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The chosen version's questions with the stack name; Review plan, then Launch. */
function LaunchForm({
  client,
  env,
  template,
  version,
}: {
  client: Client;
  env: string;
  template: TemplateInfo;
  version: VersionInfo;
}): ReactElement {
  const questions = version.meta.questions;
  const [name, setName] = useState("");
  // Only what the user typed: the rest are the version's defaults, so a
  // change of version keeps the typed answers and takes the new defaults.
  const [typed, setTyped] = useState<Record<string, string>>({});
  const [showAll, setShowAll] = useState(false);
  const [plan, setPlan] = useState<{ key: string; result: LaunchPlan } | null>(null);
  const [error, setError] = useState<FormError | null>(null);
  const [busy, setBusy] = useState(false);
  const needs = choicesNeeded(questions);
  const services = useLive<ServiceObject>(client, env, "services", needs.services);
  const certificates = useLive<ApiObject>(client, env, "certificates", needs.certificates);
  // Worked out again only when a list changes, not at every keystroke.
  const serviceNames = useMemo(() => serviceChoices(services.items), [services.items]);
  const certificateNames = useMemo(() => certificateChoices(certificates.items), [certificates.items]);
  const choices: Partial<Record<Question["type"], string[]>> = { service: serviceNames, certificate: certificateNames };
  const answers = initialAnswers(questions, typed);
  const sent = answersToSend(questions, answers);
  const ref = `${template.id}:${version.folder}`;
  const key = JSON.stringify([name, ref, sent]);
  const planned = plan !== null && plan.key === key;
  const checks = validateAnswers(questions, answers);
  const nameProblem = name === "" && !showAll ? null : nameError(name);

  function errorOf(variable: string): string | undefined {
    if (error?.place.at === "answer" && error.place.variable === variable) return error.message;
    if (!showAll && !(variable in typed)) return undefined;
    return checks[variable];
  }

  async function send(dryRun: boolean): Promise<void> {
    setShowAll(true);
    setError(null);
    if (nameError(name) !== null || Object.keys(checks).length > 0) return;
    setBusy(true);
    try {
      const result = await client.request<LaunchPlan>("POST", appsPath(env), { name, template: ref, answers: sent, dry_run: dryRun });
      if (dryRun) setPlan({ key, result });
      else navigate(pathOf(env, { page: "stack", name }));
    } catch (e) {
      if (dryRun) setPlan(null);
      const status = e instanceof ApiError ? e.status : 0;
      const field = e instanceof ApiError ? e.field : undefined;
      const place = placeOf(status, field);
      // An answer the form does not show goes under the form.
      const shown = place.at !== "answer" || questions.some((q) => q.variable === place.variable);
      setError({ place: shown ? place : { at: "form" }, message: shown ? messageAt(message(e), field) : message(e) });
    } finally {
      setBusy(false);
    }
  }

  const nameAlert = error?.place.at === "name" ? error.message : null;
  return (
    <form
      aria-label={`Launch ${template.name}`}
      className="launch-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void send(true);
      }}
    >
      <h3>Launch version {version.folder}</h3>
      <div className="field">
        <label htmlFor="app-name">Stack name</label>
        <input
          id="app-name"
          value={name}
          autoComplete="off"
          spellCheck={false}
          aria-invalid={nameProblem !== null || nameAlert !== null}
          aria-describedby={nameAlert || nameProblem ? "app-name-error" : undefined}
          onChange={(e) => {
            setName(e.target.value);
            if (error?.place.at === "name") setError(null);
          }}
        />
        {(nameAlert ?? nameProblem) && (
          <span role="alert" id="app-name-error" className="error inline field-error">
            {nameAlert ?? `stack name ${nameProblem ?? ""}`}
          </span>
        )}
      </div>
      {questions.length === 0 && <p className="empty">This version asks no questions.</p>}
      {questions.map((q) => (
        <QuestionField
          key={q.variable}
          question={q}
          value={answers[q.variable] ?? ""}
          error={errorOf(q.variable)}
          choices={choices[q.type]}
          onChange={(v) => {
            setTyped((now) => ({ ...now, [q.variable]: v }));
            if (error?.place.at === "answer" && error.place.variable === q.variable) setError(null);
          }}
        />
      ))}
      <div className="toolbar">
        <button type="submit" disabled={busy}>
          Review plan
        </button>
        <button
          type="button"
          disabled={busy || !planned}
          title={planned ? "launch what the plan shows" : "review the plan of these answers first"}
          onClick={() => void send(false)}
        >
          Launch
        </button>
        {plan && !planned && <span className="hint">the answers changed since the plan: review it again</span>}
      </div>
      {error?.place.at === "form" && (
        <p role="alert" className="error">
          {error.message}
        </p>
      )}
      {plan && planned && (
        <>
          <PlanView plan={plan.result.plan} />
          <h4>Answers</h4>
          <Answers answers={plan.result.answers} />
        </>
      )}
    </form>
  );
}

function TemplateView({ client, env, id, writable }: { client: Client; env: string; id: string; writable: boolean }): ReactElement {
  const read = useRead(client, templatePath(env, id), 0);
  const [folder, setFolder] = useState<string | null>(null);
  const t = read.value as TemplateInfo | null;
  if (read.error) {
    return (
      <section className="panel">
        <p role="alert" className="error">
          {read.error}
        </p>
        <Link to={pathOf(env, { page: "catalog" })}>Back to the catalog</Link>
      </section>
    );
  }
  if (!t) return <p role="status">loading…</p>;
  const version = t.versions.find((v) => v.folder === folder) ?? defaultVersion(t);
  const projectUrl = /^https?:\/\//i.test(t.project_url) ? t.project_url : null;
  return (
    <>
      <section aria-labelledby="template" className="panel template-view">
        <p>
          <Link to={pathOf(env, { page: "catalog" })}>← Catalog</Link>
        </p>
        <div className="template-head">
          <Icon env={env} template={t} size={64} />
          <div>
            <h2 id="template">{t.name || t.folder}</h2>
            <p className="template-description">{t.description}</p>
          </div>
        </div>
        <dl className="facts">
          <dt>Template</dt>
          <dd>{t.id}</dd>
          <dt>Category</dt>
          <dd>{t.category || "–"}</dd>
          <dt>Maintainer</dt>
          <dd>{t.maintainer || "–"}</dd>
          <dt>License</dt>
          <dd>{t.license || "–"}</dd>
          {t.project_url && (
            <>
              <dt>Project</dt>
              <dd>
                {projectUrl ? (
                  <a href={projectUrl} rel="noopener noreferrer" target="_blank">
                    {projectUrl}
                  </a>
                ) : (
                  t.project_url
                )}
              </dd>
            </>
          )}
        </dl>
        {t.versions.length === 0 ? (
          <p className="empty">This template has no version that could be read.</p>
        ) : (
          <div className="field">
            <label htmlFor="template-version">Version</label>
            <select
              id="template-version"
              value={version?.folder ?? ""}
              onChange={(e) => { setFolder(e.target.value); }}
            >
              {t.versions.map((v) => (
                <option key={v.folder} value={v.folder}>
                  {v.folder}: {v.meta.version || "(no version)"}
                  {v.folder === t.default_version ? " (default)" : ""}
                </option>
              ))}
            </select>
            {version && (
              <span className="hint">
                {version.meta.description}
                {version.meta.upgrade_from ? ` Upgrades from ${version.meta.upgrade_from}.` : ""}
              </span>
            )}
          </div>
        )}
        {version?.warnings && version.warnings.length > 0 && (
          <ul aria-label="Warnings" className="warnings">
            {version.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        )}
      </section>
      {version && (
        <section aria-labelledby="readme" className="panel">
          <h2 id="readme">README</h2>
          {version.readme ? (
            <div className="readme">
              {/* The README's own headings go under the page's h2. */}
              <Markdown text={version.readme} headingOffset={2} />
            </div>
          ) : (
            <p className="empty">This version has no README.</p>
          )}
        </section>
      )}
      {version && (
        <section aria-labelledby="questions" className="panel">
          <h2 id="questions">Questions</h2>
          {writable ? (
            <LaunchForm key={t.id} client={client} env={env} template={t} version={version} />
          ) : (
            <QuestionList questions={version.meta.questions} />
          )}
        </section>
      )}
    </>
  );
}

/** The questions as a read-only user sees them: what they ask, no form. */
function QuestionList({ questions }: { questions: Question[] }): ReactElement {
  if (questions.length === 0) return <p className="empty">This version asks no questions.</p>;
  return (
    <table aria-label="Questions">
      <thead>
        <tr>
          <th>Question</th>
          <th>Variable</th>
          <th>Type</th>
          <th>Default</th>
          <th>Description</th>
        </tr>
      </thead>
      <tbody>
        {questions.map((q) => (
          <tr key={q.variable}>
            <td>
              {labelOf(q)}
              {q.required ? " (required)" : ""}
            </td>
            <td>{q.variable}</td>
            <td>{q.type === "enum" ? `enum: ${(q.options ?? []).join(", ")}` : q.type}</td>
            <td>{q.type === "password" ? "" : (q.default ?? "")}</td>
            <td>{q.description}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Catalog({ client, env, role, template }: { client: Client; env: string; role: string; template?: string }): ReactElement {
  const writable = canChangeWorkloads(role);
  return (
    <div className="catalog-page">
      {template === undefined ? (
        <TemplateList client={client} env={env} writable={writable} />
      ) : (
        <TemplateView key={template} client={client} env={env} id={template} writable={writable} />
      )}
    </div>
  );
}
