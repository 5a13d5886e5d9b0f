"""Writes difftest cases as JSON on stdout: every corpus .tpl with its default
answers and variations (Values as strings, as Rancher passes them), the
hand-written snippets, and N random templates.

usage: cases.py CORPUS_TEMPLATES_DIR SNIPPETS_FILE SEED N > cases.json"""
import glob, json, os, random, sys

import yaml

corpus, snippets, seed, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])


def s(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


cases = []
for f in sorted(glob.glob(corpus + "/*/*/*.tpl")):
    src = open(f).read()
    rc = yaml.safe_load(open(os.path.join(os.path.dirname(f), "rancher-compose.yml"))) or {}
    qs = (rc.get("catalog") or rc.get(".catalog") or {}).get("questions") or []
    base = {q["variable"]: s(q.get("default")) for q in qs if "variable" in q}
    variants = [dict(base)]
    for q in qs:
        t = q.get("type", "string")
        if t == "boolean":
            answers = ["true", "false"]
        elif t == "enum":
            answers = [s(o) for o in q.get("options") or []]
        else:
            answers = ["x", "", "/abs"]
        for a in answers:
            d = dict(base)
            d[q["variable"]] = a
            variants.append(d)
    for v in variants:
        cases.append({"src": src, "data": {"Values": v, "Stack": {"Name": "demo"}, "__strings": True}, "file": f})

data = {"Values": {"name": "web", "empty": "", "t": "true", "n": 3, "f": 1.5, "neg": -2, "l": ["a", "b"],
                   "nums": [3, 1, 2], "m": {"z": 1, "a": "x"}, "nil": None, "b": True}, "Stack": {"Name": "demo"}}
for sn in open(snippets).read().split("\n====\n"):
    if sn.strip():
        cases.append({"src": sn, "data": data})

P = ["{{", "}}", "{{- ", " -}}", " ", " ", "\n", "(", ")", " | ", "$", "$x", " := ", " = ", ", ", ".", ".Values",
     ".Values.name", ".Values.l", ".Values.m", ".Values.missing", ".Values.n", '"a"', '"web"', "`r`", "'c'", "if ",
     "else ", "end", "range ", "with ", "define ", 'template "t" ', '"t"', "nil", "true", "false", "1", "0", "-1",
     "2.5", "0x10", "1e3", "eq ", "ne ", "and ", "or ", "not ", "len ", "index ", "printf ", '"%s"', '"%d"', '"%v"',
     '"%q"', '"%.1s"', "print ", "println ", "lt ", "le ", "gt ", "ge ", "slice ", "html ", "js ", "urlquery ",
     "contains ", "x", '"', "{{/* c */}}", "{{ end }}", "{{ else }}", "{{ if .Values.name }}",
     "{{ range .Values.l }}", "{{ with .Values.m }}"]
rng = random.Random(seed)
for _ in range(count):
    src = "".join(rng.choice(P) for _ in range(rng.randint(1, 14)))
    if rng.random() < 0.6:
        src = "{{ " + src + " }}"
    cases.append({"src": src, "data": data, "fuzz": True})
json.dump(cases, sys.stdout)
