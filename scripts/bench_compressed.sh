#!/usr/bin/env bash
# Compressed input at the speed of plain input (issue 10, item 5).
#
# Generates a corpus, makes .gz and .zst copies, and times in one run:
# decoding each copy once on one core (gzip -dc, zstd -dc -T1), then
# `neardup scan --level doc|block|all` and `neardup clean` on plain, .gz
# and .zst input. Prints, per command and format, the acceptance ratio
#   (time(compressed) - time(plain)) / time(decode once on one core)
# which should be at most 1.1, and the same ratio of CPU times (user +
# system), which a loaded machine disturbs much less than wall times. Each
# timing is the best of REPEAT runs (on a shared machine, read the ratios,
# not the seconds).
#
# `clean` writes its output compressed as the input was (libdeflate gzip
# level 1 or zstd level 1, on all cores), and compressing costs more than
# decoding: the `clean` row also prints the ratio of the input side alone, the time
# of the write stage (NEARDUP_TIMINGS) taken out of both runs:
#   ((time(compressed) - write(compressed)) - (time(plain) - write(plain))) / decode
# and the `clean none` row times the same runs writing plain output
# (`--output-compression none`): the input side, measured.
#
# Needs python3, gzip and zstd (`apt-get install -y zstd` if missing), and
# a release build (`cargo build --release`).
#
# Usage: scripts/bench_compressed.sh [DOCS] [DIR]
#   DOCS    documents to generate (default 90000, about 315 MB)
#   DIR     where the corpus and outputs go (default /tmp/neardup-bench-compressed)
#   env: NEARDUP (binary, default target/release/neardup), REPEAT (default 3),
#        LEVELS (default "doc block all"), CLEAN=0 to skip clean.
set -euo pipefail

DOCS=${1:-90000}
DIR=${2:-/tmp/neardup-bench-compressed}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${NEARDUP:-$ROOT/target/release/neardup}
REPEAT=${REPEAT:-3}
LEVELS=${LEVELS:-doc block all}
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

# "wall cpu write": the best wall time of REPEAT runs of "$@", the CPU
# time (user + system) of that run and its write stage's wall time (0
# when it has none), in seconds
best() {
    local b="" bc="" bw="" out err
    out=$(mktemp)
    err=$(mktemp)
    for _ in $(seq "$REPEAT"); do
        NEARDUP_TIMINGS=1 /usr/bin/time -f "%e %U %S" -o "$out" "$@" >/dev/null 2>"$err"
        read -r w u s <"$out"
        if [ -z "$b" ] || [ "$(echo "$w < $b" | bc -l)" = 1 ]; then
            b=$w
            bc=$(echo "$u + $s" | bc -l)
            bw=$(sed -n 's/.*timing: write \([0-9.]*\)s.*/\1/p' "$err" | tail -1)
        fi
    done
    rm -f "$out" "$err"
    printf '%.2f %.2f %.3f\n' "$b" "$bc" "${bw:-0}"
}

# Redirections, not paths: zstd skips symbolic links given as arguments.
read -r DEC_GZ DEC_GZ_CPU _ < <(best sh -c "gzip -dc <'$C.gz'")
read -r DEC_ZST DEC_ZST_CPU _ < <(best sh -c "zstd -dc -T1 <'$C.zst'")
echo "decode once, one core: gzip -dc $DEC_GZ s (cpu $DEC_GZ_CPU), zstd -dc $DEC_ZST s (cpu $DEC_ZST_CPU); load $(cut -d' ' -f1-3 /proc/loadavg)"

run_row() { # name, command prefix taking the input as last argument
    local name=$1
    shift
    local p pc pw g gc gw z zc zw
    read -r p pc pw < <(best "$@" "$C")
    read -r g gc gw < <(best "$@" "$C.gz")
    read -r z zc zw < <(best "$@" "$C.zst")
    printf '%-10s wall: plain %6.2f  gz %6.2f (ratio %5.2f)  zst %6.2f (ratio %5.2f)   cpu: plain %6.2f  gz %+5.2f (ratio %5.2f)  zst %+5.2f (ratio %5.2f)\n' \
        "$name" "$p" "$g" "$(echo "($g - $p) / $DEC_GZ" | bc -l)" \
        "$z" "$(echo "($z - $p) / $DEC_ZST" | bc -l)" \
        "$pc" "$(echo "$gc - $pc" | bc -l)" "$(echo "($gc - $pc) / $DEC_GZ_CPU" | bc -l)" \
        "$(echo "$zc - $pc" | bc -l)" "$(echo "($zc - $pc) / $DEC_ZST_CPU" | bc -l)"
    if [ "$pw$gw$zw" != "0.0000.0000.000" ]; then
        printf '%-10s write stage: plain %6.2f  gz %6.2f  zst %6.2f   input side alone (wall, write taken out): gz ratio %5.2f  zst ratio %5.2f\n' \
            "" "$pw" "$gw" "$zw" \
            "$(echo "(($g - $gw) - ($p - $pw)) / $DEC_GZ" | bc -l)" \
            "$(echo "(($z - $zw) - ($p - $pw)) / $DEC_ZST" | bc -l)"
    fi
}

for level in $LEVELS; do
    run_row "scan $level" "$BIN" scan --quiet --level "$level" --format json -o "$DIR/report.json"
done
if [ "${CLEAN:-1}" = 1 ]; then
    run_row "clean" "$BIN" clean --quiet --force -o "$DIR/out"
    run_row "clean none" "$BIN" clean --quiet --force --output-compression none -o "$DIR/out"
    rm -rf "$DIR/out"
fi
