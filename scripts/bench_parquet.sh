#!/usr/bin/env bash
# Parquet against JSONL: the same generated corpus scanned as JSONL and as Parquet, in the
# same run, then the Parquet file cleaned and checked.
# usage: scripts/bench_parquet.sh [DOCS]        (default 100000 docs, seed 1234)
# env:   RUNS=3           runs of each format, alternating (JSONL, Parquet, JSONL, ...)
#        ROWS=10000       rows per Parquet row group
#        CODEC=snappy     Parquet compression (snappy, zstd, gzip)
#        LEVEL=           scan --level (doc, block, all); default flags when empty
#        BENCH_ROOT=/tmp/neardup-bench   corpora and the pyarrow virtualenv
# Converts $BENCH_ROOT/data/c${DOCS}_s1234.jsonl (generated with shared/bench/make_corpus.py
# when missing) to Parquet with pyarrow (installed in $BENCH_ROOT/venv-parquet when missing),
# builds with --features parquet, and runs `neardup scan` at default flags on each file under
# /usr/bin/time: prints every run's wall time and peak RSS, the medians, and the Parquet/JSONL
# ratio of median times; checks that both reports hold the same clusters. Then `clean`s the
# Parquet file, runs `neardup verify` on the output, and checks with pyarrow that it has the
# input's schema and its rows less the removed documents.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
# shellcheck source=scripts/corpus.sh
. "$HERE/corpus.sh"
DOCS="${1:-100000}"
RUNS="${RUNS:-3}"
ROWS="${ROWS:-10000}"
CODEC="${CODEC:-snappy}"
LEVEL="${LEVEL:-}"
PARQUET="$ROOT/data/c${DOCS}_s1234.$CODEC.parquet"
PY="$ROOT/venv-parquet/bin/python"
JSONL="$(corpus "$DOCS")"
if [ ! -x "$PY" ]; then
  python3 -m venv "$ROOT/venv-parquet" >&2
  "$PY" -m pip install --quiet pyarrow >&2
fi
if [ ! -s "$PARQUET" ]; then
  "$PY" - "$JSONL" "$PARQUET" "$ROWS" "$CODEC" <<'EOF'
import sys
import pyarrow.json as pj
import pyarrow.parquet as pq
src, dst, rows, codec = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
table = pj.read_json(src, read_options=pj.ReadOptions(block_size=64 << 20))
pq.write_table(table, dst + ".tmp", row_group_size=rows, compression=codec)
import os
os.replace(dst + ".tmp", dst)
print(f"{dst}: {table.num_rows} rows, {pq.ParquetFile(dst).num_row_groups} row groups, {codec}",
      file=sys.stderr)
EOF
fi
(cd "$REPO" && cargo build --release --quiet --features parquet)
BIN="$REPO/target/release/neardup"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
run() { # name input -> "seconds kilobytes"
  /usr/bin/time -f "%e %M" -o "$TMP/$1.time" "$BIN" scan "$2" ${LEVEL:+--level "$LEVEL"} \
    --format json -o "$TMP/$1.json" --quiet
  cat "$TMP/$1.time"
}
echo "scan $DOCS docs, ${LEVEL:+--level $LEVEL, }default flags; JSONL $(du -h "$JSONL" | cut -f1), Parquet $(du -h "$PARQUET" | cut -f1) ($CODEC, $ROWS rows per group)"
: > "$TMP/jsonl.runs"; : > "$TMP/parquet.runs"
for i in $(seq "$RUNS"); do
  read -r tj mj < <(run jsonl "$JSONL")
  read -r tq mq < <(run parquet "$PARQUET")
  echo "run $i: JSONL ${tj} s ${mj} KB; Parquet ${tq} s ${mq} KB"
  echo "$tj $mj" >> "$TMP/jsonl.runs"; echo "$tq $mq" >> "$TMP/parquet.runs"
done
python3 - "$TMP" <<'EOF'
import json, statistics, sys
tmp = sys.argv[1]
def med(name, col):
    return statistics.median(float(l.split()[col]) for l in open(f"{tmp}/{name}.runs"))
tj, tq = med("jsonl", 0), med("parquet", 0)
mj, mq = med("jsonl", 1), med("parquet", 1)
print(f"median: JSONL {tj:.2f} s {mj:.0f} KB; Parquet {tq:.2f} s {mq:.0f} KB; "
      f"ratio Parquet/JSONL: time {tq / tj:.3f}x (<= 1.10), peak RSS {mq / mj:.2f}x")
# The same clusters, by (document id, record) of their members.
def clusters(name):
    r = json.load(open(f"{tmp}/{name}.json"))
    return sorted((c["kind"], tuple((m["doc"], m.get("record")) for m in c["members"]))
                  for c in r["clusters"])
same = clusters("jsonl") == clusters("parquet")
print(f"same clusters in both reports: {same}")
sys.exit(0 if same else 1)
EOF
OUT="$TMP/clean"
"$BIN" clean "$PARQUET" -o "$OUT" --quiet
"$BIN" verify "$OUT"
"$PY" - "$PARQUET" "$OUT/$(basename "$PARQUET")" "$OUT/removed.jsonl" <<'EOF'
import json, sys
import pyarrow.parquet as pq
src, out, log = sys.argv[1:]
a, b = pq.read_table(src), pq.read_table(out)
dropped = sum(1 for l in open(log) if json.loads(l)["reason"] == "document")
ok = a.schema == b.schema and b.num_rows == a.num_rows - dropped
print(f"clean: {a.num_rows} rows -> {b.num_rows} ({dropped} documents removed), "
      f"same schema: {a.schema == b.schema}; pyarrow reads it: {ok}")
sys.exit(0 if ok else 1)
EOF
