#!/usr/bin/env bash
# Quality on a real labelled text-reuse corpus: ../shared/eval/clough_short_answers
# (English; 5 source articles, 95 answers written by cut-and-paste, light revision,
# heavy revision or independently), scored with ../shared/eval/score.py.
# usage: scripts/eval_clough.sh [extra neardup flags...]
# Runs neardup with default options (plus the flags given) at document level and at
# block level; block clusters are scored as "these documents share a copied passage".
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
EVAL="${EVAL:-$REPO/../shared/eval}"
DATA="$EVAL/clough_short_answers"
(cd "$REPO" && cargo build --release --quiet)
BIN="$REPO/target/release/neardup"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
for level in doc block; do
  kind=document; [ "$level" = block ] && kind=block
  echo "== neardup scan --level $level $*"
  "$BIN" scan "$DATA/data.jsonl" --level "$level" --format json -o "$TMP/$level.json" --quiet "$@"
  python3 "$HERE/report_to_pred.py" "$TMP/$level.json" "$TMP/$level.pred.jsonl" --kind "$kind"
  python3 "$EVAL/score.py" "$DATA/labels.jsonl" "$TMP/$level.pred.jsonl" |
    grep -E "pair_precision|pair_recall|pair_f1|bcubed_f1|recall\[(cut|light|heavy)\+orig\]"
done
