import { describe, expect, it } from "vitest";

import type { ApiObject } from "./api";
import {
  answersToSend,
  categoriesOf,
  certificateChoices,
  checkAnswer,
  choicesNeeded,
  defaultVersion,
  filterTemplates,
  iconPath,
  initialAnswers,
  messageAt,
  placeOf,
  serviceChoices,
  templatePath,
  validateAnswers,
  type Question,
  type TemplateInfo,
} from "./catalog";

function q(over: Partial<Question>): Question {
  return { variable: "v", label: "V", description: "", type: "string", required: false, ...over };
}

describe("an answer checked as the server checks it", () => {
  it("refuses an empty answer to a required question, whatever its type", () => {
    for (const type of ["string", "int", "boolean", "enum", "password", "service"] as const) {
      expect(checkAnswer(q({ type, required: true }), "")).toBe("required, and the answer is empty");
    }
  });

  it("takes a whole number within min and max for int", () => {
    const port = q({ type: "int", min: 1, max: 65535 });
    expect(checkAnswer(port, "8080")).toBeNull();
    expect(checkAnswer(port, " 80 ")).toBeNull();
    expect(checkAnswer(port, "+80")).toBeNull();
    expect(checkAnswer(port, "eighty")).toBe('"eighty" is not a whole number');
    expect(checkAnswer(port, "8.5")).toBe('"8.5" is not a whole number');
    expect(checkAnswer(port, "1e3")).toBe('"1e3" is not a whole number');
    expect(checkAnswer(port, "0")).toBe("0 is less than the minimum 1");
    expect(checkAnswer(port, "-3")).toBe("-3 is less than the minimum 1");
    expect(checkAnswer(port, "65536")).toBe("65536 is more than the maximum 65535");
    expect(checkAnswer(port, "+070")).toBeNull();
    // Beyond i64: not a number to Rust either.
    expect(checkAnswer(q({ type: "int" }), "9223372036854775808")).toBe('"9223372036854775808" is not a whole number');
    expect(checkAnswer(q({ type: "int" }), "-9223372036854775808")).toBeNull();
  });

  it("takes only true or false for boolean", () => {
    expect(checkAnswer(q({ type: "boolean" }), "true")).toBeNull();
    expect(checkAnswer(q({ type: "boolean" }), "false")).toBeNull();
    expect(checkAnswer(q({ type: "boolean" }), "yes")).toBe('"yes" is not true or false');
    expect(checkAnswer(q({ type: "boolean" }), "True")).toBe('"True" is not true or false');
  });

  it("takes one of the options for enum", () => {
    const e = q({ type: "enum", options: ["small", "large"] });
    expect(checkAnswer(e, "large")).toBeNull();
    expect(checkAnswer(e, "medium")).toBe('"medium" is not one of the options (small, large)');
  });

  it("takes stack/service or a bare name for service", () => {
    const s = q({ type: "service" });
    expect(checkAnswer(s, "shop/web")).toBeNull();
    expect(checkAnswer(s, "web")).toBeNull();
    for (const bad of ["/web", "shop/", "a/b/c", "   "]) {
      expect(checkAnswer(s, bad)).toBe(`${JSON.stringify(bad)} is not a service (stack/service, or service of the same stack)`);
    }
  });

  it("counts lengths in characters, not UTF-16 units", () => {
    const name = q({ min_length: 2, max_length: 3 });
    expect(checkAnswer(name, "a")).toBe("1 characters, fewer than the minimum 2");
    expect(checkAnswer(name, "abcd")).toBe("4 characters, more than the maximum 3");
    expect(checkAnswer(name, "😀😀😀")).toBeNull();
    expect(checkAnswer(name, "élan")).toBe("4 characters, more than the maximum 3");
  });

  it("checks valid_chars and invalid_chars character by character", () => {
    expect(checkAnswer(q({ valid_chars: "abc" }), "abba")).toBeNull();
    expect(checkAnswer(q({ valid_chars: "abc" }), "abd")).toBe(`'d' is not one of the allowed characters "abc"`);
    expect(checkAnswer(q({ invalid_chars: "$ " }), "a b")).toBe(`' ' is one of the characters not allowed ("$ ")`);
    expect(checkAnswer(q({ invalid_chars: "'" }), "it's")).toBe(`'\\'' is one of the characters not allowed ("'")`);
    expect(checkAnswer(q({ invalid_chars: "$" }), "plain")).toBeNull();
  });

  it("checks the type before the lengths, as the server does", () => {
    expect(checkAnswer(q({ type: "int", max_length: 1 }), "xx")).toBe('"xx" is not a whole number');
    expect(checkAnswer(q({ type: "int", max_length: 1 }), "12")).toBe("2 characters, more than the maximum 1");
  });

  it("takes anything of a string, password, multiline or certificate within its limits", () => {
    for (const type of ["string", "password", "multiline", "certificate"] as const) {
      expect(checkAnswer(q({ type }), "line one\nline two")).toBeNull();
    }
  });
});

describe("a form's answers", () => {
  const questions: Question[] = [
    q({ variable: "public_port", type: "int", required: true, default: "8080", min: 1, max: 65535 }),
    q({ variable: "greeting", default: "hello" }),
    q({ variable: "sticky", type: "boolean" }),
    q({ variable: "size", type: "enum", required: true, options: ["s", "m"] }),
    q({ variable: "note", type: "multiline", min_length: 3 }),
  ];

  it("start from the defaults, a boolean at false and a required enum at its first option", () => {
    expect(initialAnswers(questions)).toEqual({ public_port: "8080", greeting: "hello", sticky: "false", size: "s", note: "" });
  });

  it("keep earlier answers to the questions still asked", () => {
    expect(initialAnswers(questions, { greeting: "hi", gone: "x" })).toMatchObject({ greeting: "hi", public_port: "8080" });
    expect(initialAnswers(questions, { greeting: "hi", gone: "x" })).not.toHaveProperty("gone");
  });

  it("are checked per question, an optional empty one not at all", () => {
    expect(validateAnswers(questions, initialAnswers(questions))).toEqual({});
    expect(validateAnswers(questions, { public_port: "eighty", greeting: "", sticky: "", size: "l", note: "ab" })).toEqual({
      public_port: '"eighty" is not a whole number',
      size: '"l" is not one of the options (s, m)',
      note: "2 characters, fewer than the minimum 3",
    });
    expect(validateAnswers(questions, {})).toEqual({
      public_port: "required, and the answer is empty",
      size: "required, and the answer is empty",
    });
  });

  it("are sent one per question, and nothing else", () => {
    expect(answersToSend(questions, { public_port: "80", stray: "x" })).toEqual({
      public_port: "80",
      greeting: "",
      sticky: "",
      size: "",
      note: "",
    });
  });
});

function template(over: Partial<TemplateInfo>): TemplateInfo {
  return {
    id: "library/x",
    catalog: "library",
    folder: "x",
    infra: false,
    name: "X",
    description: "",
    category: "",
    maintainer: "",
    license: "",
    project_url: "",
    default_version: "0",
    versions: [],
    ...over,
  };
}

describe("the catalog's list", () => {
  const all = [
    template({ id: "library/hello", name: "Hello", description: "A whoami web service", category: "Examples" }),
    template({ id: "community/mysql", name: "MySQL", description: "The database", category: "Databases" }),
    template({ id: "library/sleeper", name: "Sleeper", description: "Busybox instances that sleep", category: "Examples" }),
    template({ id: "infra/net", name: "Network", description: "overlay", category: "", infra: true }),
    template({ id: "community/adminer", name: "adminer", description: "Web UI for databases", category: "Databases" }),
  ];

  it("offers each category once, sorted", () => {
    expect(categoriesOf(all)).toEqual(["Databases", "Examples"]);
  });

  it("filters by category and by words of the name, description or id, any case", () => {
    const names = (c: string, s: string): string[] => filterTemplates(all, c, s).map((t) => t.name);
    expect(names("", "")).toEqual(["adminer", "Hello", "MySQL", "Sleeper", "Network"]);
    expect(names("Examples", "")).toEqual(["Hello", "Sleeper"]);
    expect(names("", "hello")).toEqual(["Hello"]);
    expect(names("", "WEB")).toEqual(["adminer", "Hello"]);
    expect(names("Databases", "web")).toEqual(["adminer"]);
    expect(names("", "web databases")).toEqual(["adminer"]);
    expect(names("", "community/")).toEqual(["adminer", "MySQL"]);
    expect(names("Examples", "database")).toEqual([]);
  });

  it("opens the default version, else the last", () => {
    const v = (folder: string) => ({ folder, meta: { name: "", version: "", description: "", uuid: "", questions: [] } });
    expect(defaultVersion(template({ default_version: "0", versions: [v("0"), v("1")] }))?.folder).toBe("0");
    expect(defaultVersion(template({ default_version: "7", versions: [v("0"), v("1")] }))?.folder).toBe("1");
    expect(defaultVersion(template({ versions: [] }))).toBeUndefined();
  });

  it("escapes each part of a template's path", () => {
    expect(templatePath("dev env", "library/hello")).toBe("/v1/environments/dev%20env/templates/library/hello");
    expect(iconPath("dev", "my cat/a?b")).toBe("/v1/environments/dev/templates/my%20cat/a%3Fb/icon");
  });
});

describe("an API error in the launch form", () => {
  it("goes beside the question, the name, or under the form", () => {
    expect(placeOf(422, "answers.public_port")).toEqual({ at: "answer", variable: "public_port" });
    expect(placeOf(422, "name")).toEqual({ at: "name" });
    expect(placeOf(409, undefined)).toEqual({ at: "name" });
    expect(placeOf(422, "template")).toEqual({ at: "form" });
    expect(placeOf(500, undefined)).toEqual({ at: "form" });
  });

  it("says no more than its place does", () => {
    expect(
      messageAt('answers.public_port: answer "public_port": "eighty" is not a whole number', "answers.public_port"),
    ).toBe('"eighty" is not a whole number');
    expect(messageAt('name: "H1" must consist of lowercase letters', "name")).toBe('"H1" must consist of lowercase letters');
    expect(messageAt("stack \"h0\" exists", undefined)).toBe('stack "h0" exists');
  });
});

function object(name: string, stack?: string): ApiObject<{ stack?: string }> {
  return {
    kind: "Service",
    meta: { environment: "default", name, uid: name, revision: 1, generation: 1, labels: {}, created: "" },
    spec: stack === undefined ? {} : { stack },
    status: null,
  };
}

describe("the choices of service and certificate questions", () => {
  it("follows only the lists a version's questions pick from", () => {
    expect(choicesNeeded([q({ type: "string" }), q({ type: "int" })])).toEqual({ services: false, certificates: false });
    expect(choicesNeeded([q({ type: "service" })])).toEqual({ services: true, certificates: false });
    expect(choicesNeeded([q({ type: "certificate" }), q({ type: "service" })])).toEqual({ services: true, certificates: true });
  });

  it("offers each stack's service as stack/service, by its compose name, sorted", () => {
    const services = [
      object("web-lb", "web"),
      object("db-mysql", "db"),
      object("db-mysql-backup", "db"),
      object("standalone"),
      // A stack's service not named <stack>-…: the server could not find it by stack/service.
      object("odd", "db"),
      object("web-", "web"),
      object("empty-stack", ""),
    ];
    const choices = serviceChoices(services);
    expect(choices).toEqual(["db/mysql", "db/mysql-backup", "web/lb"]);
    // Each is an answer the check accepts.
    for (const c of choices) expect(checkAnswer(q({ type: "service" }), c)).toBeNull();
    expect(serviceChoices([])).toEqual([]);
  });

  it("offers the certificates by name, sorted", () => {
    expect(certificateChoices([object("wildcard"), object("example-com"), object("api")])).toEqual(["api", "example-com", "wildcard"]);
  });
});
