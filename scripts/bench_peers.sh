#!/usr/bin/env bash
# Side-by-side whole-run benchmark: neardup against the gaoya and rensa peers
# on the same generated corpus, in the same run, with the same scorer.
#
# usage: scripts/bench_peers.sh [SIZES...]          (default: 10000 100000)
# env:   WORKERS=2       threads for every tool (peers: --workers, neardup: --threads)
#        SEED=1234       corpus seed
#        BENCH_ROOT=/tmp/neardup-bench   corpora, peer virtualenv, results
#        PEERS="gaoya rensa"             peers to run (gaoya is the speed reference)
#        TIMEOUT=1800    seconds per run
#        ROUNDS=3        runs of each tool on each size (1 for 1,000,000 documents or more);
#                        the table gives the median wall time, and its range
#
# For each size N it uses $BENCH_ROOT/data/c${N}_s${SEED}.jsonl (generated with
# shared/bench/make_corpus.py when missing), builds `cargo build --release`,
# and runs each ROUNDS times back to back under scripts/timed.py (wall time from the
# command's fork to its reaping on the nanosecond clock, nothing else started in
# between; peak RSS the largest of the rounds, from wait4):
#   neardup          scan --level doc with default parameters
#   neardup-minhash  the same with 128-permutation MinHash (--method minhash)
#   neardup-peerparams  the same with the peers' --ngram 5 --perms 128 --bands 16 --rows 8
#   gaoya, rensa     shared/bench/peers/peer_<name>.py CORPUS PRED --workers $WORKERS
# neardup reports become predictions with scripts/report_to_pred.py; everything
# is scored with shared/bench/score.py --exclude-kind partial (document level).
# Prints one markdown table (also written to $RES/table.md); raw rows in $RES/results.tsv.
set -u -o pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
SHARED="$(cd "$HERE/../../shared" && pwd)" || { echo "no shared/ beside the repo" >&2; exit 1; }
BENCH="$SHARED/bench"
ROOT="${BENCH_ROOT:-/tmp/neardup-bench}"
DATA="$ROOT/data"
RES="$ROOT/results/bench_peers"
WORKERS="${WORKERS:-2}"
SEED="${SEED:-1234}"
PEERS="${PEERS:-gaoya rensa}"
TIMEOUT="${TIMEOUT:-1800}"
ROUNDS="${ROUNDS:-3}"
SIZES="${*:-10000 100000}"
PY="$ROOT/venv/bin/python"
BIN="$REPO/target/release/neardup"
mkdir -p "$DATA" "$RES"

if [ ! -x "$PY" ]; then
  echo ">> peer virtualenv missing: running setup_peers.sh" >&2
  bash "$BENCH/setup_peers.sh" || exit 1
fi

echo ">> cargo build --release" >&2
(cd "$REPO" && cargo build --release --quiet) || exit 1

TSV="$RES/results.tsv"
printf "tool\tdocs\tmb\twall_s\tpeak_rss_mb\texit\tprecision\trecall\tf1\twalls\n" > "$TSV"

# peak RSS (MB) from a `/usr/bin/time -v` log
rss_of() {
  python3 - "$1" <<'PY'
import re, sys
r = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(sys.argv[1]).read())
print(f"{int(r.group(1)) / 1024:.0f}" if r else "nan")
PY
}

# run TOOL N MB CORPUS PRED CMD...: time CMD (ROUNDS times), score PRED, append a row
run() {
  local tool="$1" n="$2" mb="$3" corpus="$4" pred="$5"
  shift 5
  local log="$RES/log_${tool}_${n}.txt" timef="$RES/time_${tool}_${n}.txt"
  local rounds="$ROUNDS" walls="" rss=0 rc=0 r start end
  [ "$n" -ge 1000000 ] && rounds=1
  echo ">> $tool on $n docs ($mb MB), $rounds round(s)" >&2
  for ((r = 1; r <= rounds; r++)); do
    # the command alone: its fork to its reaping (scripts/timed.py)
    wall=$(python3 "$HERE/timed.py" "$TIMEOUT" "$timef" "$log" -- "$@")
    rc=$?
    walls="$walls ${wall:-0}"
    rss=$(python3 -c "import sys; print(max(float(sys.argv[1]), float(sys.argv[2])))" "$rss" "$(rss_of "$timef")")
    [ "$rc" -eq 0 ] || break
  done
  if [ "$rc" -eq 0 ] && [ "${tool#neardup}" != "$tool" ]; then
    python3 "$HERE/report_to_pred.py" "$RES/report_${tool}_${n}.json" "$pred" >> "$log" 2>&1 || rc=99
  fi
  local prf="- - -"
  if [ "$rc" -eq 0 ] && [ -f "$pred" ]; then
    prf=$(python3 "$BENCH/score.py" "$corpus.truth.jsonl" "$pred" --json --exclude-kind partial |
      python3 -c "import json,sys; d=json.load(sys.stdin); print(d['precision'], d['recall'], d['f1'])") || prf="- - -"
  else
    echo "   $tool failed or timed out (exit $rc), see $log" >&2
  fi
  local median
  median=$(python3 -c "import statistics, sys; print(f'{statistics.median(map(int, sys.argv[1:])) / 1000:.3f}')" $walls)
  # shellcheck disable=SC2086
  set -- $prf
  printf "%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\n" "$tool" "$n" "$mb" "$median" "$rss" "$rc" "$1" "$2" "$3" "${walls# }" >> "$TSV"
  tail -n 1 "$TSV" >&2
}

for N in $SIZES; do
  CORPUS="$DATA/c${N}_s${SEED}.jsonl"
  if [ ! -s "$CORPUS" ] || [ ! -s "$CORPUS.truth.jsonl" ]; then
    echo ">> generating $CORPUS" >&2
    python3 "$BENCH/make_corpus.py" --docs "$N" --seed "$SEED" --out "$CORPUS" || exit 1
  fi
  MB=$(python3 -c "import os,sys; print(round(os.path.getsize(sys.argv[1])/1e6,1))" "$CORPUS")
  cat "$CORPUS" > /dev/null # same warm page cache for every tool

  for P in $PEERS; do
    PRED="$RES/pred_${P}_${N}.jsonl"; rm -f "$PRED"
    run "$P" "$N" "$MB" "$CORPUS" "$PRED" \
      "$PY" "$BENCH/peers/peer_${P}.py" "$CORPUS" "$PRED" --workers "$WORKERS"
  done

  PRED="$RES/pred_neardup_${N}.jsonl"; REPORT="$RES/report_neardup_${N}.json"; rm -f "$PRED" "$REPORT"
  run neardup "$N" "$MB" "$CORPUS" "$PRED" \
    "$BIN" scan "$CORPUS" --level doc --format json -o "$REPORT" --quiet --threads "$WORKERS"

  PRED="$RES/pred_neardup-minhash_${N}.jsonl"; REPORT="$RES/report_neardup-minhash_${N}.json"
  rm -f "$PRED" "$REPORT"
  run neardup-minhash "$N" "$MB" "$CORPUS" "$PRED" \
    "$BIN" scan "$CORPUS" --level doc --format json -o "$REPORT" --quiet --threads "$WORKERS" --method minhash

  PRED="$RES/pred_neardup-peerparams_${N}.jsonl"; REPORT="$RES/report_neardup-peerparams_${N}.json"
  rm -f "$PRED" "$REPORT"
  run neardup-peerparams "$N" "$MB" "$CORPUS" "$PRED" \
    "$BIN" scan "$CORPUS" --level doc --format json -o "$REPORT" --quiet --threads "$WORKERS" \
    --ngram 5 --perms 128 --bands 16 --rows 8
done

python3 - "$TSV" "$WORKERS" <<'PY' | tee "$RES/table.md"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
ok = lambda r: r["exit"] == "0"
gaoya = {r["docs"]: float(r["mb"]) / float(r["wall_s"]) for r in rows if r["tool"] == "gaoya" and ok(r)}
hdr = ["tool", "docs", "MB", "wall s", "MB/s", "peak RSS MB", "precision", "recall", "F1", "speed vs gaoya"]
print(f"{sys.argv[2]} threads per tool; document level, partial copies excluded from scoring.")
print("wall s: the median of the rounds, their range in brackets.\n")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
f4 = lambda x: f"{float(x):.4f}" if x not in ("-", "") else "-"
for r in rows:
    w = float(r["wall_s"])
    mbs = float(r["mb"]) / w if ok(r) and w > 0 else None
    g = gaoya.get(r["docs"])
    walls = [int(x) / 1000 for x in r["walls"].split()]
    wall = r["wall_s"] + (f" ({min(walls):.3f}–{max(walls):.3f})" if len(walls) > 1 else "")
    wall = wall if ok(r) else f"{r['wall_s']} (exit {r['exit']})"
    print("| " + " | ".join([
        r["tool"], r["docs"], r["mb"], wall,
        f"{mbs:.2f}" if mbs else "-", r["peak_rss_mb"],
        f4(r["precision"]), f4(r["recall"]), f4(r["f1"]),
        f"{mbs / g:.2f}x" if mbs and g else "-",
    ]) + " |")
PY
