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
BIN="${NEARDUP_BIN:-$REPO/target/release/neardup}"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
for level in doc block; do
  kind=document; [ "$level" = block ] && kind=block
  echo "== neardup scan --level $level $*"
  "$BIN" scan "$DATA/data.jsonl" --level "$level" --format json -o "$TMP/$level.json" --quiet "$@"
  python3 "$HERE/report_to_pred.py" "$TMP/$level.json" "$TMP/$level.pred.jsonl" --kind "$kind"
  python3 "$EVAL/score.py" "$DATA/labels.jsonl" "$TMP/$level.pred.jsonl" |
    grep -E "pair_precision|pair_recall|pair_f1|bcubed_f1|recall\[(cut|light|heavy)\+orig\]"
  # One label is wrong: g2pE_taskc ("cut" from task c's source, the vector space model)
  # is the opening of Wikipedia's "Information retrieval" article, which no document here
  # holds (no 6-word run in common with any of them). The same figures without its 12
  # pairs (scripts/clough_ignore.tsv):
  echo "-- without the pairs of g2pE_taskc (mislabelled, scripts/clough_ignore.tsv)"
  python3 "$EVAL/score.py" "$DATA/labels.jsonl" "$TMP/$level.pred.jsonl" --ignore "$HERE/clough_ignore.tsv" |
    grep -E "pair_precision|recall\[(cut|light)\+orig\]"
  # which cut and light answers blocks do not join with their source
  if [ "$level" = block ]; then
    python3 - "$DATA/labels.jsonl" "$TMP/$level.pred.jsonl" <<'PY'
import json, sys
labels = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
pred = {p["id"]: p["cluster"] for p in map(json.loads, open(sys.argv[2], encoding="utf-8"))}
group = lambda i: pred.get(i, "single-" + i)
for tier in ("cut", "light"):
    missed = [l["id"] for l in labels if l["tier"] == tier
              and group(l["id"]) != group("orig_" + l["cluster"])]
    print(f"  {'missed[' + tier + '+orig]':<24}{' '.join(missed) or '-'}")
PY
  fi
done

# clean: every block removal starts and ends at a word boundary and at a sentence
# boundary or line edge, and no line a cut changed is left as a sentence fragment
echo "== neardup clean $* (cut boundaries)"
"$BIN" clean "$DATA/data.jsonl" -o "$TMP/clean" --quiet "$@"
"$BIN" verify "$TMP/clean" >/dev/null
python3 - "$DATA/data.jsonl" "$TMP/clean" <<'PY'
import json, re, sys
from pathlib import Path
src = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
out = Path(sys.argv[2])
cleaned = [json.loads(l) for l in open(out / "data.jsonl", encoding="utf-8")]
by_id = {d["id"]: d for d in cleaned}
END = tuple(".!?;。！？；")
def ends_sentence(s):
    return s.rstrip("\"')”’」").endswith(END)
def spaced(c):
    return c.isalnum() and not ("\u4e00" <= c <= "\u9fff")
bad, cuts = [], 0
for line in open(out / "removed.jsonl", encoding="utf-8"):
    r = json.loads(line)
    if r["reason"] == "document":
        continue
    text = src[r["removed"]["record"] - 1]["text"].encode()
    for a, b in r.get("spans") or [r["removed"]["bytes"]]:
        cuts += 1
        for p in (a, b):
            head, tail = text[:p].decode(), text[p:].decode()
            if head and tail and spaced(head[-1]) and spaced(tail[0]):
                bad.append(("word", r["removed"]["doc"], p))
            h, t = head.rstrip(" \t"), tail.lstrip(" \t")
            if not (h == "" or h.endswith("\n") or t == "" or t.startswith("\n") or ends_sentence(h)):
                bad.append(("sentence", r["removed"]["doc"], p))
frag = 0
for d in src:
    c = by_id.get(d["id"])
    if c is None or c["text"] == d["text"]:
        continue
    before = [x.strip() for x in d["text"].splitlines()]
    for l in c["text"].splitlines():
        l = l.strip()
        # a line a cut changed ends a sentence or where an input line ends
        if l and l not in before and not ends_sentence(l) and not any(x.endswith(l[-20:]) for x in before):
            frag += 1
print(f"block cuts {cuts}, cut edges not at a word+sentence boundary {len(bad)}, fragment lines {frag}")
for b in bad[:5]:
    print("  ", b)
PY
