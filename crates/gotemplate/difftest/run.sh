#!/bin/sh
# Differential test against Go's text/template (needs `go` and python3 with
# PyYAML). Not part of CI. Usage: difftest/run.sh [SEED] [FUZZ_COUNT]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
corpus=${CORRAL_CORPUS:-$here/../../../../shared/corpus}/rancher-catalog/templates
out=${TMPDIR:-/tmp}/corral-gotemplate-difftest
mkdir -p "$out"
(cd "$here" && GOTOOLCHAIN=local GOPROXY=off GOCACHE="$out/gocache" go build -o "$out/gorender" main.go)
cargo build -q -p corral-gotemplate --example cases
target=${CARGO_TARGET_DIR:-$here/../../../target}
python3 "$here/cases.py" "$corpus" "$here/snippets.txt" "${1:-1}" "${2:-20000}" > "$out/cases.json"
"$out/gorender" < "$out/cases.json" > "$out/go.json"
"$target/debug/examples/cases" < "$out/cases.json" > "$out/rust.json"
python3 "$here/compare.py" "$out/cases.json" "$out/go.json" "$out/rust.json"
