#!/usr/bin/env python3
"""Block-level score on a make_corpus.py corpus: how many `partial` variants
(a new document embedding 30-70% of a root) are joined with their source by
a block cluster (recall), and how many block clusters join documents of
different ground-truth clusters.

`partial_recall` counts a partial copy as found when a block cluster joins it
with its source; `partial_recall_cluster` also when it joins it with another
document of the source's ground-truth cluster (with --level all, a source that
is itself a removed near-duplicate document is represented by its kept copy).
Cross-cluster block clusters are not all errors: the generator draws speech
sentences with replacement and reuses its poem pool, so unrelated documents do
share real passages.

When the corpus sits beside the truth file (CORPUS.jsonl, CORPUS.jsonl.truth.jsonl),
recall is also split by the length of the embedded section (fraction x source
characters) at the report's `min_block`: a section shorter than the minimum block
length is not a block by definition, so recall below it measures the option, not
the detector.

usage: score_blocks.py TRUTH.jsonl REPORT.json"""
import json
import os
import sys


def main():
    truth = {}
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            truth[d["id"]] = d
    rep = json.load(open(sys.argv[2], encoding="utf-8"))
    blocks = [c for c in rep["clusters"] if c["kind"] == "block"]
    joined = set()
    wrong = 0
    for c in blocks:
        docs = sorted({m["doc"] for m in c["members"]})
        if len({truth[d]["cluster"] for d in docs if d in truth}) > 1:
            wrong += 1
        for i, a in enumerate(docs):
            for b in docs[i + 1:]:
                joined.add((a, b))
                joined.add((b, a))
    partials = [d for d in truth.values() if d["kind"] == "partial"]
    hit = sum((p["id"], p["src"]) in joined for p in partials)
    members = {}
    for d in truth.values():
        members.setdefault(d["cluster"], []).append(d["id"])
    hit_cluster = sum(any((p["id"], o) in joined for o in members[p["cluster"]] if o != p["id"]) for p in partials)
    res = {
        "partial_variants": len(partials),
        "partial_recall": round(hit / len(partials), 4) if partials else 1.0,
        "partial_recall_cluster": round(hit_cluster / len(partials), 4) if partials else 1.0,
        "block_clusters": len(blocks),
        "cross_cluster_blocks": wrong,
        "cross_cluster_share": round(wrong / len(blocks), 4) if blocks else 0.0,
    }
    corpus = sys.argv[1][: -len(".truth.jsonl")] if sys.argv[1].endswith(".truth.jsonl") else None
    min_block = rep.get("params", {}).get("min_block")
    if corpus and min_block and os.path.exists(corpus):
        chars = {}
        with open(corpus, encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                chars[d["id"]] = len(d["text"])
        for name, keep in (("at_least", lambda n: n >= min_block), ("below", lambda n: n < min_block)):
            ps = [p for p in partials if p["src"] in chars and keep(int(chars[p["src"]] * p["param"]))]
            h = sum((p["id"], p["src"]) in joined for p in ps)
            res[f"sections_{name}_min_block"] = len(ps)
            res[f"partial_recall_{name}_min_block"] = round(h / len(ps), 4) if ps else 1.0
    print(json.dumps(res))


if __name__ == "__main__":
    main()
