#!/usr/bin/env bash
# Compressed input at the speed of plain input (issue 10, item 5).
#
# Acceptance: for `scan` (every level) and `clean`,
#   ratio = (time(compressed) - time(plain)) / time(decode the file once on one core)
# is at most 1.1, in the same run. Decoding once is `gzip -dc` / `zstd -dc -T1`.
#
# Made to be read on a loaded machine:
# - Alternated: every round runs, per row, the plain, .gz and .zst inputs and
#   both decoders one after another (the order rotating from round to round),
#   so a change of load hits every side of a ratio alike; REPEAT rounds.
# - Each ratio is given from the minimum and from the median of the rounds,
#   for wall time and for CPU time (user + system, which load disturbs much
#   less than wall time).
# - OLD=BINARY also runs a second binary (e.g. /tmp/neardup-s9) in the same
#   rounds, alternated with the first, and prints its rows too.
# - INSTR=1 counts instructions instead (valgrind's callgrind, every thread,
#   one run each): the same ratio in instructions, which load does not
#   change at all; use a small corpus (DOCS=10000 takes a few minutes).
#
# Rows: `scan --level doc|block|all`, `clean` (output compressed as the
# input was: libdeflate gzip level 1 or zstd level 1, on all cores) and
# `clean none` (`--output-compression none`). The acceptance row for clean
# is `clean none`: compressing the output is work the plain run does not do
# at all (its cost is set by the output's size and the compressor, not by
# how the input is read); `clean` is printed too, with its write stage
# (NEARDUP_TIMINGS) so the compression's share can be seen.
#
# Needs python3, gzip and zstd (`apt-get install -y zstd`), valgrind for
# INSTR=1, and a release build (`cargo build --release`).
#
# Usage: scripts/bench_compressed.sh [DOCS] [DIR]
#   DOCS    documents (default 100000, about 354 MB: zstd decodes it in
#           about 0.5 s, so noise is smaller than the budget); the corpus is
#           /tmp/neardup-bench/data/cDOCS_s1234.jsonl when it exists, else
#           generated into DIR (make_corpus.py --seed 1234 --no-jaccard)
#   DIR     where the corpus copies and outputs go (default /tmp/neardup-bench-compressed)
#   env: NEARDUP (binary, default target/release/neardup), OLD (second
#        binary), REPEAT (rounds, default 5), LEVELS (default "doc block all"),
#        CLEAN=0 to skip the clean rows (CLEAN=none: only `clean none`),
#        INSTR=1 for instruction counts.
set -euo pipefail

DOCS=${1:-100000}
DIR=${2:-/tmp/neardup-bench-compressed}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${NEARDUP:-$ROOT/target/release/neardup}
OLD=${OLD:-}
REPEAT=${REPEAT:-5}
LEVELS=${LEVELS:-doc block all}
INSTR=${INSTR:-0}
GEN=/work/shared/bench/make_corpus.py

command -v zstd >/dev/null || { echo "zstd missing: apt-get install -y zstd" >&2; exit 2; }
[ "$INSTR" = 0 ] || command -v valgrind >/dev/null || { echo "valgrind missing" >&2; exit 2; }
[ -x "$BIN" ] || { echo "$BIN missing: cargo build --release" >&2; exit 2; }
[ -z "$OLD" ] || [ -x "$OLD" ] || { echo "$OLD missing" >&2; exit 2; }
mkdir -p "$DIR"
C=$DIR/c$DOCS.jsonl
SHARED=/tmp/neardup-bench/data/c${DOCS}_s1234.jsonl
if [ ! -s "$C" ]; then
    if [ -s "$SHARED" ]; then
        ln -sf "$SHARED" "$C"
    else
        python3 "$GEN" --docs "$DOCS" --seed 1234 --out "$C" --no-jaccard >&2
    fi
fi
# Redirections, not paths: zstd skips symbolic links given as arguments.
[ -s "$C.gz" ] || gzip -c <"$C" >"$C.gz"
[ -s "$C.zst" ] || zstd -q -T1 -c <"$C" >"$C.zst"
ls -lL "$C" "$C.gz" "$C.zst" >&2

TMP=$(mktemp -d)
trap 'rm -rf "$TMP" "$DIR/out" "$DIR/report.json"' EXIT
RES=$TMP/results # lines: binary row format round wall cpu write

# one run of "$@", appending "wall cpu write" (seconds; write is clean's
# write stage, 0 without one) or, with INSTR=1, "instructions 0 0"
measure() {
    local tag=$1
    shift
    if [ "$INSTR" = 1 ]; then
        # every process counts (the decoders run under sh)
        NEARDUP_TIMINGS=1 valgrind --tool=callgrind --trace-children=yes \
            --callgrind-out-file="$TMP/cg.%p" "$@" >/dev/null 2>"$TMP/err"
        local ir
        ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$TMP/err" | paste -sd+ | bc)
        rm -f "$TMP"/cg.*
        echo "$tag ${ir:-0} 0 0" >>"$RES"
        return
    fi
    NEARDUP_TIMINGS=1 /usr/bin/time -f "%e %U %S" -o "$TMP/time" "$@" >/dev/null 2>"$TMP/err"
    local w u s wr
    read -r w u s <"$TMP/time"
    wr=$(sed -n 's/.*timing: write \([0-9.]*\)s.*/\1/p' "$TMP/err" | tail -1)
    echo "$tag $w $(echo "$u + $s" | bc -l) ${wr:-0}" >>"$RES"
}

# one round of one row: each binary on each input, and both decoders
round() { # row round command... (without the input, which goes last)
    local row=$1 r=$2
    shift 2
    local jobs=() j
    for f in plain gz zst; do
        jobs+=("new $f")
        [ -z "$OLD" ] || jobs+=("old $f")
    done
    jobs+=("dec gz" "dec zst")
    # rotate the order by the round number
    local n=${#jobs[@]} i
    for ((i = 0; i < n; i++)); do
        j=${jobs[$(((i + r) % n))]}
        local who=${j% *} f=${j#* } in=$C
        [ "$f" = plain ] || in=$C.$f
        case $who in
        dec)
            case $f in
            gz) measure "dec $row $f $r" sh -c "gzip -dc <'$C.gz' >/dev/null" ;;
            zst) measure "dec $row $f $r" sh -c "zstd -dc -T1 <'$C.zst' >/dev/null" ;;
            esac
            ;;
        new) measure "new $row $f $r" "$BIN" "$@" "$in" ;;
        old) measure "old $row $f $r" "$OLD" "$@" "$in" ;;
        esac
    done
}

ROWS=()
for level in $LEVELS; do ROWS+=("scan-$level"); done
case ${CLEAN:-1} in
0) ;;
none) ROWS+=(clean-none) ;;
*) ROWS+=(clean clean-none) ;;
esac
rounds=$REPEAT
[ "$INSTR" = 0 ] || rounds=1
echo "corpus $C ($DOCS documents), $rounds round(s), load at start $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ((r = 0; r < rounds; r++)); do
    for row in "${ROWS[@]}"; do
        case $row in
        scan-*) round "$row" "$r" scan --quiet --level "${row#scan-}" --format json -o "$DIR/report.json" ;;
        clean) round "$row" "$r" clean --quiet --force -o "$DIR/out" ;;
        clean-none) round "$row" "$r" clean --quiet --force --output-compression none -o "$DIR/out" ;;
        esac
    done
    echo "round $((r + 1)) done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done

python3 - "$RES" "$INSTR" <<'PY'
import statistics, sys
from collections import defaultdict
res, instr = sys.argv[1], sys.argv[2] == "1"
runs = defaultdict(list)  # (who, row, fmt) -> [(wall, cpu, write)]
for line in open(res):
    who, row, fmt, _r, w, c, wr = line.split()
    runs[(who, row, fmt)].append((float(w), float(c), float(wr)))
rows = list(dict.fromkeys(k[1] for k in runs))
whos = [w for w in ("new", "old") if any(k[0] == w for k in runs)]
pick = {"min": min, "median": statistics.median}
def stat(who, row, fmt, i, how):
    return pick[how]([x[i] for x in runs[(who, row, fmt)]])
if instr:
    print("instructions (callgrind, all threads), ratio = (Ir(compressed) - Ir(plain)) / Ir(decoder alone)")
    for row in rows:
        dg, dz = stat("dec", row, "gz", 0, "min"), stat("dec", row, "zst", 0, "min")
        for who in whos:
            p, g, z = (stat(who, row, f, 0, "min") for f in ("plain", "gz", "zst"))
            print(f"{who:3} {row:11} plain {p/1e9:7.2f}G  gz {g/1e9:7.2f}G (ratio {(g-p)/dg:5.2f})  "
                  f"zst {z/1e9:7.2f}G (ratio {(z-p)/dz:5.2f})   decoders: gzip -dc {dg/1e9:.2f}G, zstd -dc {dz/1e9:.2f}G")
    sys.exit()
print("ratio = (t(compressed) - t(plain)) / t(decode once, one core); acceptance: <= 1.1")
for row in rows:
    for how in ("min", "median"):
        dg, dz = stat("dec", row, "gz", 0, how), stat("dec", row, "zst", 0, how)
        cg, cz = stat("dec", row, "gz", 1, how), stat("dec", row, "zst", 1, how)
        for who in whos:
            p, g, z = (stat(who, row, f, 0, how) for f in ("plain", "gz", "zst"))
            pc, gc, zc = (stat(who, row, f, 1, how) for f in ("plain", "gz", "zst"))
            line = (f"{who:3} {row:11} {how:6} wall: plain {p:6.2f} gz {g:6.2f} (ratio {(g-p)/dg:5.2f}) "
                    f"zst {z:6.2f} (ratio {(z-p)/dz:5.2f}) | cpu: plain {pc:6.2f} gz {gc:6.2f} "
                    f"(ratio {(gc-pc)/cg:5.2f}) zst {zc:6.2f} (ratio {(zc-pc)/cz:5.2f}) "
                    f"| decode gz {dg:.2f}s/{cg:.2f}cpu zst {dz:.2f}s/{cz:.2f}cpu")
            if row == "clean":
                pw, gw, zw = (stat(who, row, f, 2, how) for f in ("plain", "gz", "zst"))
                line += f" | write stage plain {pw:.2f} gz {gw:.2f} zst {zw:.2f}"
            print(line)
PY
