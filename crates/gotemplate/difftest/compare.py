"""Compares Go's and Corral's results for the same cases.

usage: compare.py cases.json go.json rust.json"""
import collections, json, sys

cases, go, rs = (json.load(open(p)) for p in sys.argv[1:4])
kinds = collections.Counter()
shown = collections.Counter()
for c, a, b in zip(cases, go, rs):
    group = "corpus" if "file" in c else "fuzz" if c.get("fuzz") else "snippet"
    k = ("ok" if "ok" in a else "err", "ok" if "ok" in b else "err")
    if k == ("ok", "ok") and a != b:
        k = ("ok", "different output")
    kinds[(group,) + k] += 1
    if k not in (("ok", "ok"), ("err", "err")) and shown[(group,) + k] < 10:
        shown[(group,) + k] += 1
        print(group, k, repr(c["src"])[:150])
        print("   go:  ", json.dumps(a)[:200])
        print("   rust:", json.dumps(b)[:200])
for k, v in sorted(kinds.items()):
    print(f"{v:7} {k}")
