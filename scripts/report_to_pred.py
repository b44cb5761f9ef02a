#!/usr/bin/env python3
"""Turn a neardup JSON report into the {"id","cluster"} predictions that the
bench and eval scorers read: every member of a document cluster is labelled
with the cluster's kept document; documents in no cluster are singletons
(the scorers treat missing ids as singletons).

usage: report_to_pred.py REPORT.json PRED.jsonl [--kind document|block]
With --kind block, documents joined by a block cluster share a label
(union-find over block clusters), for block-level scoring."""
import json
import sys


def main():
    rep_path, out_path = sys.argv[1], sys.argv[2]
    kind = "document"
    if "--kind" in sys.argv:
        kind = sys.argv[sys.argv.index("--kind") + 1]
    rep = json.load(open(rep_path, encoding="utf-8"))
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for c in rep["clusters"]:
        if c["kind"] != kind:
            continue
        ids = [m["doc"] for m in c["members"]]
        for i in ids[1:]:
            a, b = find(ids[0]), find(i)
            if a != b:
                parent[max(a, b)] = min(a, b)
    with open(out_path, "w", encoding="utf-8") as f:
        for i in sorted(parent):
            f.write(json.dumps({"id": i, "cluster": find(i)}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
