#!/usr/bin/env bash
# Quality check on a generated corpus with ground truth (../shared/bench/make_corpus.py).
# usage: scripts/quality.sh [DOCS] [extra neardup flags...]     (default 10000 docs, seed 1234)
# Prints document-level precision / recall / F1 with recall per variant kind (the `partial`
# kind left out: it is a repeated block), then block-level figures for `partial` variants.
# Exits 1 when document-level precision < 0.99 or F1 < 0.95.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
SHARED="${SHARED:-$REPO/../shared}"
ROOT="${BENCH_ROOT:-/tmp/neardup-bench}"
DOCS="${1:-10000}"; shift || true
CORPUS="$ROOT/data/c${DOCS}_s1234.jsonl"
mkdir -p "$ROOT/data"
if [ ! -s "$CORPUS.truth.jsonl" ]; then
  if [ ! -d "$ROOT/npm/node_modules/chinese-poetry" ]; then
    npm install --silent --prefix "$ROOT/npm" chinese-poetry@2.0.1 >&2
  fi
  python3 "$SHARED/bench/make_corpus.py" --docs "$DOCS" --seed 1234 --out "$CORPUS" >&2
fi
(cd "$REPO" && cargo build --release --quiet)
BIN="$REPO/target/release/neardup"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT

echo "== documents: neardup scan --level doc $* ($DOCS docs)"
"$BIN" scan "$CORPUS" --level doc --format json -o "$TMP/doc.json" --quiet "$@"
python3 "$HERE/report_to_pred.py" "$TMP/doc.json" "$TMP/doc.pred.jsonl"
python3 "$SHARED/bench/score.py" "$CORPUS.truth.jsonl" "$TMP/doc.pred.jsonl" --exclude-kind partial
python3 "$SHARED/bench/score.py" "$CORPUS.truth.jsonl" "$TMP/doc.pred.jsonl" --exclude-kind partial --json > "$TMP/doc.score.json"

for level in block all; do
  echo "== blocks: neardup scan --level $level $*"
  "$BIN" scan "$CORPUS" --level "$level" --format json -o "$TMP/$level.json" --quiet "$@"
  python3 "$HERE/score_blocks.py" "$CORPUS.truth.jsonl" "$TMP/$level.json"
done

python3 - "$TMP/doc.score.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
ok = s["precision"] >= 0.99 and s["f1"] >= 0.95
print(("PASS" if ok else "FAIL") + f": document-level precision {s['precision']} (>= 0.99), F1 {s['f1']} (>= 0.95)")
sys.exit(0 if ok else 1)
PY
