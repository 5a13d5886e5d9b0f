// The pure parts of the Catalog page: the API's templates, questions and
// apps; answers checked as the server checks them (crates/types/src/
// catalog.rs, `check_answer` and `resolve_answers`), the answers a form
// starts with, the catalog's filter (category and search), and the
// choices offered to `service` and `certificate` questions.

import type { ApiObject } from "./api";
import { compareNames } from "./liveList";
import type { StackPlan } from "./stacks";

export type QuestionType = "string" | "int" | "boolean" | "password" | "enum" | "multiline" | "service" | "certificate";

/** One question of a template version (`Question`). */
export interface Question {
  variable: string;
  label: string;
  description: string;
  type: QuestionType;
  required: boolean;
  default?: string;
  options?: string[];
  min?: number;
  max?: number;
  min_length?: number;
  max_length?: number;
  valid_chars?: string;
  invalid_chars?: string;
}

export interface CatalogMeta {
  name: string;
  version: string;
  description: string;
  uuid: string;
  upgrade_from?: string;
  questions: Question[];
}

export interface VersionInfo {
  /** The version's folder (`0`, `1`): what `TEMPLATE:N` names. */
  folder: string;
  meta: CatalogMeta;
  /** Only in the answer about one template. */
  readme?: string;
  files?: { name: string; content: string }[];
  warnings?: string[];
}

/** A template of a catalog (`TemplateInfo`). */
export interface TemplateInfo {
  /** `CATALOG/TEMPLATE`. */
  id: string;
  catalog: string;
  folder: string;
  infra: boolean;
  name: string;
  description: string;
  category: string;
  maintainer: string;
  license: string;
  project_url: string;
  /** The icon's file name, when the template has one. */
  icon?: string;
  default_version: string;
  versions: VersionInfo[];
}

/** What a launch, upgrade or rollback answers (`LaunchPlan`). */
export interface LaunchPlan {
  template: string;
  version: string;
  /** Every question's answer, passwords shown as `(password)`. */
  answers: Record<string, string>;
  plan: StackPlan;
}

/** A stack launched from a template (`GET .../apps`). */
export interface AppInfo {
  stack: string;
  template: string;
  version: string;
  catalog_version: string;
  upgrade_available?: string;
  can_roll_back: boolean;
}

/** What a stack launched from a template remembers (`spec.app`). */
export interface AppRef {
  template: string;
  version: string;
  answers: Record<string, string>;
  previous?: AppRef;
}

function envPath(env: string): string {
  return `/v1/environments/${encodeURIComponent(env)}`;
}

export function templatesPath(env: string): string {
  return `${envPath(env)}/templates`;
}

/** `CATALOG/TEMPLATE` as the API's path, each part escaped. */
export function templatePath(env: string, id: string): string {
  return `${templatesPath(env)}/${id.split("/").map(encodeURIComponent).join("/")}`;
}

export function iconPath(env: string, id: string): string {
  return `${templatePath(env, id)}/icon`;
}

export function appsPath(env: string): string {
  return `${envPath(env)}/apps`;
}

export function appPath(env: string, stack: string): string {
  return `${appsPath(env)}/${encodeURIComponent(stack)}`;
}

/** The name a question is shown by: its label, else its variable. */
export function labelOf(q: Question): string {
  return q.label || q.variable;
}

/** Rust's `{:?}` of a string, near enough: quoted, with escapes. */
function quoted(s: string): string {
  return JSON.stringify(s);
}

/** Rust's `{:?}` of a char. */
function quotedChar(c: string): string {
  if (c === "'") return "'\\''";
  const json = JSON.stringify(c);
  return `'${json.slice(1, -1).replace(/\\"/g, '"')}'`;
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** What `str::parse::<i64>` accepts: an optional sign and ASCII digits, in range. */
function parseI64(text: string): bigint | null {
  if (!/^[+-]?[0-9]+$/.test(text)) return null;
  const n = BigInt(text);
  return n < I64_MIN || n > I64_MAX ? null : n;
}

/**
 * One answer against its question, as `check_answer`: the message, or
 * null when it is accepted. (The caller skips an optional empty answer.)
 */
export function checkAnswer(q: Question, value: string): string | null {
  if (q.required && value === "") return "required, and the answer is empty";
  switch (q.type) {
    case "int": {
      // Rust trims Unicode whitespace; JavaScript's trim() is the same set near enough.
      const n = parseI64(value.trim());
      if (n === null) return `${quoted(value)} is not a whole number`;
      if (q.min !== undefined && n < BigInt(q.min)) return `${n} is less than the minimum ${q.min}`;
      if (q.max !== undefined && n > BigInt(q.max)) return `${n} is more than the maximum ${q.max}`;
      break;
    }
    case "boolean":
      if (value !== "true" && value !== "false") return `${quoted(value)} is not true or false`;
      break;
    case "enum": {
      const options = q.options ?? [];
      if (!options.includes(value)) return `${quoted(value)} is not one of the options (${options.join(", ")})`;
      break;
    }
    case "service": {
      const at = value.indexOf("/");
      const ok =
        at >= 0
          ? at > 0 && at < value.length - 1 && !value.slice(at + 1).includes("/")
          : value.trim() !== "";
      if (!ok) return `${quoted(value)} is not a service (stack/service, or service of the same stack)`;
      break;
    }
    default:
      break;
  }
  return checkLengthAndChars(q, value);
}

function checkLengthAndChars(q: Question, value: string): string | null {
  // Characters as Rust counts them: Unicode scalar values, not UTF-16 units.
  const chars = Array.from(value);
  const len = chars.length;
  if (q.min_length !== undefined && len < q.min_length) return `${len} characters, fewer than the minimum ${q.min_length}`;
  if (q.max_length !== undefined && len > q.max_length) return `${len} characters, more than the maximum ${q.max_length}`;
  if (q.valid_chars !== undefined) {
    const valid = new Set(q.valid_chars);
    const bad = chars.find((c) => !valid.has(c));
    if (bad !== undefined) return `${quotedChar(bad)} is not one of the allowed characters ${quoted(q.valid_chars)}`;
  }
  if (q.invalid_chars !== undefined) {
    const invalid = new Set(q.invalid_chars);
    const bad = chars.find((c) => invalid.has(c));
    if (bad !== undefined) return `${quotedChar(bad)} is one of the characters not allowed (${quoted(q.invalid_chars)})`;
  }
  return null;
}

/**
 * Every answer of a form against its questions, as `resolve_answers` does
 * with all of them given: the message per variable (empty when all pass).
 * An optional empty answer is not checked.
 */
export function validateAnswers(questions: readonly Question[], answers: Readonly<Record<string, string>>): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const q of questions) {
    const value = answers[q.variable] ?? "";
    if (value === "" && !q.required) continue;
    const problem = checkAnswer(q, value);
    if (problem !== null) errors[q.variable] = problem;
  }
  return errors;
}

/**
 * The answers a form starts with: `previous` where it answers a question
 * the version asks, else the question's default; a boolean without either
 * is "false" (a checkbox has no empty state) and an enum its first option
 * when it is required; anything else empty.
 */
export function initialAnswers(questions: readonly Question[], previous: Readonly<Record<string, string>> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const q of questions) {
    const kept = previous[q.variable];
    if (kept !== undefined) out[q.variable] = kept;
    else if (q.default !== undefined) out[q.variable] = q.default;
    else if (q.type === "boolean") out[q.variable] = "false";
    else if (q.type === "enum" && q.required) out[q.variable] = q.options?.[0] ?? "";
    else out[q.variable] = "";
  }
  return out;
}

/** The answers a launch sends: one per question the version asks (nothing else, which the API refuses). */
export function answersToSend(questions: readonly Question[], answers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const q of questions) out[q.variable] = answers[q.variable] ?? "";
  return out;
}

/** The categories of the templates, sorted, each once (templates without one left out). */
export function categoriesOf(templates: readonly TemplateInfo[]): string[] {
  return [...new Set(templates.map((t) => t.category).filter((c) => c !== ""))].sort((a, b) => a.localeCompare(b));
}

/**
 * The templates of `category` (all when empty) whose name, description or
 * id contains every word of `search` (any case), infrastructure templates
 * after the others, then by name.
 */
export function filterTemplates(templates: readonly TemplateInfo[], category: string, search: string): TemplateInfo[] {
  const words = search.toLowerCase().split(/\s+/).filter((w) => w !== "");
  return templates
    .filter((t) => category === "" || t.category === category)
    .filter((t) => {
      const text = `${t.name}\n${t.description}\n${t.id}`.toLowerCase();
      return words.every((w) => text.includes(w));
    })
    .sort((a, b) => Number(a.infra) - Number(b.infra) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

/** The version to show first: the template's default, else its last. */
export function defaultVersion(t: TemplateInfo): VersionInfo | undefined {
  return t.versions.find((v) => v.folder === t.default_version) ?? t.versions[t.versions.length - 1];
}

/** Where an API error belongs in the launch form. */
export type ErrorPlace = { at: "answer"; variable: string } | { at: "name" } | { at: "form" };

export function placeOf(status: number, field: string | undefined): ErrorPlace {
  if (field?.startsWith("answers.")) return { at: "answer", variable: field.slice("answers.".length) };
  if (field === "name" || field === "meta.name") return { at: "name" };
  // A launch over an existing stack: a 409 without a field, about the name.
  if (status === 409 && field === undefined) return { at: "name" };
  return { at: "form" };
}

/**
 * The API's message without what its place already says: the field's
 * name in front (`answers.public_port: `) and the question's
 * (`answer "public_port": `).
 */
export function messageAt(message: string, field: string | undefined): string {
  let text = message;
  if (field && text.startsWith(`${field}: `)) text = text.slice(field.length + 2);
  const variable = field?.startsWith("answers.") ? field.slice("answers.".length) : null;
  if (variable !== null) {
    const prefix = `answer ${quoted(variable)}: `;
    if (text.startsWith(prefix)) text = text.slice(prefix.length);
  }
  return text;
}

/** Which lists of the environment a version's questions pick from. */
export function choicesNeeded(questions: readonly Question[]): { services: boolean; certificates: boolean } {
  return {
    services: questions.some((q) => q.type === "service"),
    certificates: questions.some((q) => q.type === "certificate"),
  };
}

/**
 * The answers a `service` question offers: `stack/service` for each
 * service of a stack, the service by its compose name (the object's name
 * without `<stack>-`), which is how the server finds it again
 * (`service_object_name`). Standalone services are left out: an answer
 * names a stack's service. Sorted, each once.
 */
export function serviceChoices(services: readonly ApiObject<{ stack?: string }>[]): string[] {
  const out = new Set<string>();
  for (const s of services) {
    const stack = s.spec.stack ?? "";
    const prefix = `${stack}-`;
    if (stack === "" || !s.meta.name.startsWith(prefix)) continue;
    const service = s.meta.name.slice(prefix.length);
    if (service === "" || service.includes("/")) continue;
    out.add(`${stack}/${service}`);
  }
  return [...out].sort(compareNames);
}

/** The answers a `certificate` question offers: the names of the environment's certificates, sorted. */
export function certificateChoices(certificates: readonly ApiObject[]): string[] {
  return certificates.map((c) => c.meta.name).sort(compareNames);
}
