# Sourced by the benchmark scripts: `corpus N` prints the path of the generated corpus of N
# documents (../shared/bench/make_corpus.py --seed 1234 --no-jaccard), generating it under
# $BENCH_ROOT/data (default /tmp/neardup-bench) when missing. Needs REPO set.
SHARED="${SHARED:-$REPO/../shared}"
ROOT="${BENCH_ROOT:-/tmp/neardup-bench}"
mkdir -p "$ROOT/data"
corpus() {
  local n="$1" out="$ROOT/data/c${1}_s1234.jsonl"
  if [ ! -s "$out" ]; then
    if [ ! -d "$ROOT/npm/node_modules/chinese-poetry" ]; then
      npm install --silent --prefix "$ROOT/npm" chinese-poetry@2.0.1 >&2
    fi
    python3 "$SHARED/bench/make_corpus.py" --docs "$n" --seed 1234 --out "$out" --no-jaccard >&2
  fi
  echo "$out"
}
