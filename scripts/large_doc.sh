#!/usr/bin/env bash
# Peak memory of one large document: builds a single-line text file of
# SIZE_MB megabytes from a generated corpus's texts (its near-duplicate and
# partially copied documents give the block stage repeated passages), then
# runs `scan` (default level all) and `clean` on it and prints peak RSS
# over document bytes (issue 10 item 4: within ~10x) and clean's time over
# scan's, same run.
#
#   scripts/large_doc.sh [SIZE_MB] [CORPUS.jsonl]
#
# Env: NEARDUP (binary, default target/release/neardup), OUT (folder,
# default /tmp/neardup-large), SKIP_CLEAN=1 (scan only).
set -euo pipefail
size_mb=${1:-30}
corpus=${2:-/tmp/neardup-bench/data/c100000_s1234.jsonl}
bin=${NEARDUP:-target/release/neardup}
out=${OUT:-/tmp/neardup-large}
mkdir -p "$out"
doc="$out/one_${size_mb}mb.txt"
if [ ! -s "$doc" ]; then
  python3 - "$corpus" "$doc" "$size_mb" <<'PY'
import json, sys
src, dst, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
limit = mb * 1000 * 1000
n = 0
with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as o:
    for line in f:
        t = json.loads(line)["text"].replace("\n", " ").replace("\r", " ")
        b = len(t.encode("utf-8"))
        if n + b > limit:
            break
        o.write(t)
        n += b
PY
fi
bytes=$(stat -c %s "$doc")
limit=$((bytes + 1024))
measure() {
  local what=$1; shift
  local t
  /usr/bin/time -o "$out/time" -f "%e %M" "$@" >/dev/null 2>"$out/$what.err" ||
    { cat "$out/$what.err" >&2; exit 1; }
  t=$(tail -1 "$out/time")
  local secs=${t% *} kb=${t#* }
  echo "$secs" >"$out/$what.secs"
  awk -v w="$what" -v s="$secs" -v kb="$kb" -v b="$bytes" \
    'BEGIN { printf "%-6s %8.1f s  peak %7.0f MB  = %5.2fx the document (%d bytes)\n", w, s, kb/1024, kb*1024/b, b }'
}
measure scan "$bin" scan --quiet --max-doc-bytes "$limit" --format json -o "$out/report.json" "$doc"
[ "${SKIP_CLEAN:-}" ] && exit 0
rm -rf "$out/clean"
measure clean "$bin" clean --quiet --max-doc-bytes "$limit" -o "$out/clean" "$doc"
awk -v s="$(cat "$out/scan.secs")" -v c="$(cat "$out/clean.secs")" \
  'BEGIN { printf "clean / scan time: %.2fx\n", c / s }'
