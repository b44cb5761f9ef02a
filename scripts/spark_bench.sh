#!/usr/bin/env bash
# The Spark driver (contrib/spark/neardup_spark.py, --master local[2]) next to single-machine
# `neardup clean` (same flags; default level all), on the same generated corpus in one run: wall time of both (and
# peak RSS of the single-machine run), the driver's stages (time, rows, bytes on disk), and
# whether the outputs are the same bytes.
# usage: scripts/spark_bench.sh [N] [FILES]   (default 10000 documents cut into 8 files, grouped
# into 4 shards; the corpus comes from scripts/corpus.sh, cached under $BENCH_ROOT/data)
# Needs Java 17 and a Python with pyspark: NEARDUP_SPARK_PYTHON (default: the venv .ci/run makes,
# target/spark-venv). Extra flags for both runs: NEARDUP_FLAGS="--level doc"; a binary
# already built: NEARDUP_BIN=path (default: cargo build --release). Another corpus (JSONL, e.g.
# the boilerplate one of scripts/boilerplate.sh): NEARDUP_CORPUS=path (N is then only a label).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
N="${1:-10000}"
FILES="${2:-8}"
FLAGS="${NEARDUP_FLAGS:-}"
PY="${NEARDUP_SPARK_PYTHON:-$REPO/target/spark-venv/bin/python}"
MASTER="${SPARK_MASTER:-local[2]}"
# shellcheck source=scripts/corpus.sh
. "$HERE/corpus.sh"
BIN="${NEARDUP_BIN:-}"
if [ -z "$BIN" ]; then
  (cd "$REPO" && cargo build --release --quiet)
  BIN="$REPO/target/release/neardup"
fi
C="${NEARDUP_CORPUS:-$(corpus "$N")}"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/in"
# whole lines into FILES files: shards are made of whole files
split -n "l/$FILES" -d -a 3 --additional-suffix=.jsonl "$C" "$TMP/in/part-"
BYTES=$(cat "$TMP"/in/*.jsonl | wc -c)
SHARD_BYTES=$(( BYTES / 4 + BYTES / FILES / 2 ))
cat "$TMP"/in/*.jsonl > /dev/null # same warm page cache for both runs
echo "corpus: $N documents, $BYTES bytes in $FILES files, --shard-bytes $SHARD_BYTES, $MASTER"
# shellcheck disable=SC2086
/usr/bin/time -f "%e %M" -o "$TMP/single.time" \
  "$BIN" clean --quiet "$TMP/in" -o "$TMP/single" $FLAGS
read -r ts ms < "$TMP/single.time"
# shellcheck disable=SC2086
/usr/bin/time -f "%e %M" -o "$TMP/spark.time" \
  "$PY" "$REPO/contrib/spark/neardup_spark.py" --master "$MASTER" --neardup "$BIN" \
  --input "$TMP/in" --work "$TMP/work" --output "$TMP/spark" --shard-bytes "$SHARD_BYTES" \
  $FLAGS 2> "$TMP/spark.err" || { cat "$TMP/spark.err" >&2; exit 1; }
read -r tp _ < "$TMP/spark.time"
grep '^stage ' "$TMP/spark.err"
printf "single-machine clean:         %7.1f s  peak RSS %6.0f MB\n" "$ts" "$(( ms / 1024 ))"
# (the driver's peak RSS would be the Python process's only: the JVM is not its waited child)
printf "spark driver (%s): %7.1f s  (%.0fx)\n" "$MASTER" "$tp" "$(awk "BEGIN { print $tp / $ts }")"
if diff -r "$TMP/single" "$TMP/spark" > /dev/null; then
  echo "outputs: the same bytes ($(wc -l < "$TMP/single/removed.jsonl") removal log lines)"
else
  echo "outputs DIFFER:"; diff -rq "$TMP/single" "$TMP/spark" | head; exit 1
fi
"$BIN" verify "$TMP/spark" > /dev/null && echo "neardup verify: passed on the Spark output"
