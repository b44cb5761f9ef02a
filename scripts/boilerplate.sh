#!/usr/bin/env bash
# Frequent passages (boilerplate): detection quality, time and memory against the same corpus
# without boilerplate, in the same run.
# usage: [NEARDUP_BIN=path] scripts/boilerplate.sh [DOCS]   (default 100000 docs, seed 1234)
# Generates the corpus with ../shared/bench/make_corpus.py (cached under $BENCH_ROOT), adds six
# boilerplate passages with scripts/make_boilerplate.py, runs `neardup scan` at default flags
# on both (ROUNDS times each, alternating; default 3), prints the median wall time, peak RSS
# and CPU time of each and their ratios, then scores the report
# (scripts/score_boilerplate.py: each passage one cluster holding >= 99% of its copies).
# Also: one 266-character disclaimer in half of a 10k corpus (the issue's 5,000-copy footer).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
DOCS="${1:-100000}"
# shellcheck source=scripts/corpus.sh
. "$HERE/corpus.sh"
PLAIN="$(corpus "$DOCS")"
BOILER="$ROOT/data/b${DOCS}.jsonl"
# made again only when missing or older than its inputs, and into a temporary name first:
# runs that overlap (several builds measured at once) never read a half-written corpus
if [ ! -s "$BOILER" ] || [ "$BOILER" -ot "$PLAIN" ] || [ "$BOILER" -ot "$HERE/make_boilerplate.py" ]; then
  python3 "$HERE/make_boilerplate.py" "$PLAIN" "$BOILER.$$.tmp" >&2
  mv "$BOILER.$$.tmp.boiler.jsonl" "$BOILER.boiler.jsonl"
  mv "$BOILER.$$.tmp" "$BOILER"
fi
# NEARDUP_BIN: another build to measure (e.g. a copy of an earlier one), else this tree's
if [ -z "${NEARDUP_BIN:-}" ]; then (cd "$REPO" && cargo build --release --quiet); fi
BIN="${NEARDUP_BIN:-$REPO/target/release/neardup}"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
run() { # name corpus -> "seconds kilobytes cpu-seconds"
  /usr/bin/time -f "%e %M %U %S" -o "$TMP/$1.time" "$BIN" scan "$2" --format json -o "$TMP/$1.json" --quiet
  read -r e m u s < "$TMP/$1.time"
  echo "$e $m $(python3 -c "print(round($u + $s, 2))")"
}
# ROUNDS runs of each, alternating, medians compared: one run's wall time or peak
# RSS moves by more than the margins the ratios are held to
ROUNDS="${ROUNDS:-3}"
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
TP=""; MP=""; CP=""; TB=""; MB=""; CB=""
for r in $(seq "$ROUNDS"); do
  read -r t m c < <(run plain "$PLAIN"); TP="$TP $t"; MP="$MP $m"; CP="$CP $c"
  read -r t2 m c < <(run boiler "$BOILER"); TB="$TB $t2"; MB="$MB $m"; CB="$CB $c"
  echo "round $r: plain $t s, with boilerplate $t2 s" >&2
done
tp=$(echo "$TP" | median); mp=$(echo "$MP" | median); cp=$(echo "$CP" | median)
tb=$(echo "$TB" | median); mb=$(echo "$MB" | median); cb=$(echo "$CB" | median)
echo "scan $DOCS docs, default flags, median of $ROUNDS: plain ${tp} s ${mp} KB; with boilerplate ${tb} s ${mb} KB"
echo "  runs: plain [${TP# }] s [${MP# }] KB; with boilerplate [${TB# }] s [${MB# }] KB"
python3 -c "print(f'ratio: time {$tb/$tp:.2f}x (<= 1.5), peak RSS {$mb/$mp:.2f}x (<= 1.3)')"
# CPU time (user + system) depends less on what else the machine runs than wall time
python3 -c "print(f'cpu: plain {$cp} s, with boilerplate {$cb} s, ratio {$cb/$cp:.2f}x')"
python3 "$HERE/score_boilerplate.py" "$BOILER.boiler.jsonl" "$TMP/boiler.json" || true
TEN="$(corpus 10000)"
python3 "$HERE/make_boilerplate.py" "$TEN" "$TMP/half.jsonl" --only disclaimer --share 0.5 >&2
read -r th mh _ < <(run half "$TMP/half.jsonl")
echo "disclaimer in half of 10k docs: ${th} s ${mh} KB"
python3 "$HERE/score_boilerplate.py" "$TMP/half.jsonl.boiler.jsonl" "$TMP/half.json" || true
