#!/usr/bin/env bash
# Compressed input at the speed of plain input (issue 10, item 5).
#
# Generates a corpus, makes .gz and .zst copies, and times in one run:
# decoding each copy once on one core (gzip -dc, zstd -dc -T1), then
# `neardup scan --level doc|all` and `neardup clean` on plain, .gz and .zst
# input. Prints, per command and format, the acceptance ratio
#   (time(compressed) - time(plain)) / time(decode once on one core)
# which should be at most 1.1. Each timing is the best of REPEAT runs (the
# machine is shared: read the ratios, not the seconds).
#
# Needs python3, gzip and zstd (`apt-get install -y zstd` if missing), and
# a release build (`cargo build --release`).
#
# Usage: scripts/bench_compressed.sh [DOCS] [DIR]
#   DOCS    documents to generate (default 90000, about 315 MB)
#   DIR     where the corpus and outputs go (default /tmp/neardup-bench-compressed)
#   env: NEARDUP (binary, default target/release/neardup), REPEAT (default 3),
#        LEVELS (default "doc all"), CLEAN=0 to skip clean.
set -euo pipefail

DOCS=${1:-90000}
DIR=${2:-/tmp/neardup-bench-compressed}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${NEARDUP:-$ROOT/target/release/neardup}
REPEAT=${REPEAT:-3}
LEVELS=${LEVELS:-doc all}
GEN=/work/shared/bench/make_corpus.py

command -v zstd >/dev/null || { echo "zstd missing: apt-get install -y zstd" >&2; exit 2; }
[ -x "$BIN" ] || { echo "$BIN missing: cargo build --release" >&2; exit 2; }
mkdir -p "$DIR"
C=$DIR/c$DOCS.jsonl
if [ ! -s "$C" ]; then
    python3 "$GEN" --docs "$DOCS" --out "$C" --no-jaccard >&2
fi
[ -s "$C.gz" ] || gzip -kc "$C" >"$C.gz"
[ -s "$C.zst" ] || zstd -q -T1 -c "$C" >"$C.zst"
ls -l "$C" "$C.gz" "$C.zst" >&2

# best wall time in seconds of REPEAT runs of "$@"
best() {
    local b=""
    for _ in $(seq "$REPEAT"); do
        local s e t
        s=$(date +%s.%N)
        "$@" >/dev/null 2>&1
        e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc -l)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
    done
    printf '%.3f' "$b"
}

declare -A DEC
DEC[gz]=$(best sh -c "gzip -dc '$C.gz' >/dev/null")
DEC[zst]=$(best sh -c "zstd -dc -T1 '$C.zst' >/dev/null")
echo "decode once, one core: gzip -dc ${DEC[gz]} s, zstd -dc ${DEC[zst]} s"

run_row() { # name, command prefix taking the input as last argument
    local name=$1
    shift
    local plain gz zst
    plain=$(best "$@" "$C")
    gz=$(best "$@" "$C.gz")
    zst=$(best "$@" "$C.zst")
    local rg rz
    rg=$(echo "($gz - $plain) / ${DEC[gz]}" | bc -l)
    rz=$(echo "($zst - $plain) / ${DEC[zst]}" | bc -l)
    printf '%-12s plain %7.3f s   gz %7.3f s (ratio %5.2f)   zst %7.3f s (ratio %5.2f)\n' \
        "$name" "$plain" "$gz" "$rg" "$zst" "$rz"
}

for level in $LEVELS; do
    run_row "scan $level" "$BIN" scan --quiet --level "$level" --format json -o "$DIR/report.json"
done
if [ "${CLEAN:-1}" = 1 ]; then
    run_row "clean" "$BIN" clean --quiet --force -o "$DIR/out"
fi
