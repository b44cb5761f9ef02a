#!/usr/bin/env bash
# Scale (issue "any corpus size on one machine"): time, peak RSS and work-folder disk of
# `scan --level doc`, `scan` (all levels), `clean` and `verify` at default flags, on generated
# corpora of each size given, in one run.
# usage: scripts/scale.sh [N ...]      (default: 100000 300000; the acceptance size is 1000000)
# Corpora come from ../shared/bench/make_corpus.py --seed 1234 --no-jaccard, cached under
# $BENCH_ROOT/data (generating 1M documents takes about an hour and a half on 2 cores).
# Extra flags for every neardup run: NEARDUP_FLAGS="--memory 1G".
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(dirname "$HERE")"
SIZES="${*:-100000 300000}"
FLAGS="${NEARDUP_FLAGS:-}"
# shellcheck source=scripts/corpus.sh
. "$HERE/corpus.sh"
(cd "$REPO" && cargo build --release --quiet)
BIN="$REPO/target/release/neardup"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
timed() { # name cmd... -> "seconds kilobytes"
  local name="$1"; shift
  /usr/bin/time -f "%e %M" -o "$TMP/$name.time" "$@" > "$TMP/$name.out" 2> "$TMP/$name.err" || {
    echo "$name failed:" >&2; cat "$TMP/$name.err" >&2; exit 1; }
  cat "$TMP/$name.time"
}
printf "%-9s %9s %7s | %-22s | %-22s | %-32s | %s\n" docs corpus_MB bytes/doc \
  "scan --level doc" "scan (all levels)" "clean (x scan-doc time)" "verify"
for N in $SIZES; do
  C="$(corpus "$N")"
  MB=$(python3 -c "import os,sys; print(round(os.path.getsize(sys.argv[1])/1e6))" "$C")
  cat "$C" > /dev/null # same warm page cache for every run
  # shellcheck disable=SC2086
  read -r td md < <(timed doc "$BIN" scan "$C" --level doc --quiet -o "$TMP/doc.json" $FLAGS)
  # shellcheck disable=SC2086
  read -r ta ma < <(timed all "$BIN" scan "$C" --quiet -o "$TMP/all.json" $FLAGS)
  rm -rf "$TMP/out"
  # shellcheck disable=SC2086
  read -r tc mc < <(timed clean "$BIN" clean "$C" -o "$TMP/out" $FLAGS)
  peak=$(grep -o 'work folder peak [0-9]*' "$TMP/clean.err" | grep -o '[0-9]*$' || echo 0)
  read -r tv mv < <(timed verify "$BIN" verify "$TMP/out")
  python3 - "$N" "$MB" "$td" "$md" "$ta" "$ma" "$tc" "$mc" "$peak" "$tv" "$mv" <<'PY'
import sys
n, mb, td, md, ta, ma, tc, mc, peak, tv, mv = sys.argv[1:]
n, mb = int(n), float(mb)
td, ta, tc, tv = map(float, (td, ta, tc, tv))
md, ma, mc, mv, peak = map(int, (md, ma, mc, mv, peak))
print(f"{n:<9} {mb:9.0f} {mc*1024/n:7.0f} | {td:6.1f} s {md/1e6:6.2f} GB | "
      f"{ta:6.1f} s {ma/1e6:6.2f} GB | {tc:6.1f} s {mc/1e6:5.2f} GB ({tc/td:4.1f}x) "
      f"disk {peak/1e6/mb:4.2f}x | {tv:5.1f} s {mv/1e6:5.2f} GB passed")
PY
done
echo "bytes/doc: clean's peak RSS per document; disk: the work folder's peak over the corpus size"
echo "acceptance at 1M documents: clean <= 2 GB, <= 4x scan --level doc, disk <= 1.5x"
