#!/usr/bin/env python3
"""Scores a neardup JSON report against make_boilerplate.py's truth.

usage: score_boilerplate.py OUT.jsonl.boiler.jsonl REPORT.json [--missed N]

For each passage: its copies, the block cluster holding most of them and the share it
holds (a copy is held when a member of the cluster in that document covers at least
half of it), how many other clusters hold any of its copies, and how many members of
that cluster are not a copy of the passage. Copies inside documents the report removes
as near-duplicate documents (`--level all`, the default, looks for blocks only in the
documents it keeps) are counted apart and left out of the share. Exits 1 when a passage's best cluster holds
fewer than 99% of its copies. `--missed N` lists up to N copies of each passage that its best
cluster does not hold (document id, byte range, and the members of other clusters that
overlap it, if any), to look at in the corpus.
"""
import collections
import json
import sys


def main():
    truth_path, report_path = sys.argv[1], sys.argv[2]
    missed = int(sys.argv[sys.argv.index("--missed") + 1]) if "--missed" in sys.argv else 0
    copies = collections.defaultdict(list)  # passage -> [(id, start, end)]
    by_doc = collections.defaultdict(list)  # id -> [(passage, start, end)]
    for line in open(truth_path, encoding="utf-8"):
        t = json.loads(line)
        copies[t["passage"]].append((t["id"], *t["bytes"]))
        by_doc[t["id"]].append((t["passage"], *t["bytes"]))
    rep = json.load(open(report_path, encoding="utf-8"))
    blocks = [c for c in rep["clusters"] if c["kind"] == "block"]
    threshold = rep.get("params", {}).get("threshold", 0.8)
    removed = {m["doc"] for c in rep["clusters"] if c["kind"] == "document"
               for i, m in enumerate(c["members"]) if i != c["keep"] and m["similarity"] >= threshold}

    def covers(m, start, end):
        lo, hi = max(m["bytes"][0], start), min(m["bytes"][1], end)
        return hi - lo >= (end - start) / 2

    # passage -> cluster id -> copies held; cluster id -> members that are no copy
    held = collections.defaultdict(collections.Counter)
    # (passage, doc, start) -> clusters holding it
    where = collections.defaultdict(set)
    stray = collections.Counter()
    for c in blocks:
        seen = set()
        for m in c["members"]:
            hit = False
            for p, s, e in by_doc.get(m["doc"], []) if m["doc"] not in removed else []:
                if covers(m, s, e) and (p, m["doc"], s) not in seen:
                    seen.add((p, m["doc"], s))
                    held[p][c["id"]] += 1
                    where[(p, m["doc"], s)].add(c["id"])
                    hit = True
            if not hit:
                stray[c["id"]] += 1
    ok = True
    print(f"{'passage':<11} {'copies':>7} {'in dup docs':>11} {'best':>7} {'share':>7} {'others':>7} {'stray':>6}")
    for p in sorted(copies, key=lambda p: -len(copies[p])):
        dup = sum(1 for d, _, _ in copies[p] if d in removed)
        n = len(copies[p]) - dup
        best, got = (held[p].most_common(1) or [(None, 0)])[0]
        share = got / n if n else 1.0
        others = len(held[p]) - (1 if best is not None else 0)
        ok &= share >= 0.99
        print(f"{p:<11} {n:>7} {dup:>11} {best if best else '-':>7} {share:>7.4f} {others:>7} {stray[best] if best else 0:>6}")
    for p in sorted(copies, key=lambda p: -len(copies[p])) if missed else []:
        best = (held[p].most_common(1) or [(None, 0)])[0][0]
        out = [(d, s, e) for d, s, e in copies[p]
               if d not in removed and best not in where[(p, d, s)]][:missed]
        for d, s, e in out:
            near = [(c["id"], m["bytes"]) for c in blocks for m in c["members"]
                    if m["doc"] == d and m["bytes"][1] > s and m["bytes"][0] < e]
            print(f"missed {p} {d} bytes {s}..{e} overlapping members {near}")
    bests = [held[p].most_common(1)[0][0] for p in copies if held[p]]
    if len(set(bests)) < len(bests):
        print("passages sharing one cluster:", collections.Counter(bests).most_common(3))
        ok = False
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
