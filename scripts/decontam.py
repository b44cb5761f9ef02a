#!/usr/bin/env python3
"""Decontamination acceptance check for `neardup clean --reference` (issue 16, item 4).

usage: scripts/decontam.py [--corpus C] [--truth T] [--bin NEARDUP] [--tests 500] [--seed 7]
                           [--edit-rate 0.02] [--edit-passages] [--keep DIR]
                           [-- extra neardup flags...]

From the generated corpus (default /tmp/neardup-bench/data/c10000_s1234.jsonl, made by
../shared/bench/make_corpus.py, with its .truth.jsonl):

1. takes TESTS base documents (>= 400 characters) as the "test set", and takes them and every
   document of their ground-truth clusters out of the corpus, so that the corpus holds no copy
   of the test set but the planted ones;
2. plants each test document once, a third each as
   - whole:   an exact copy, a record of its own;
   - passage: 300-600 characters of it, at a paragraph break inside a longer document of the
              corpus (a singleton of the ground truth, so nothing else removes it);
   - edited:  a copy with 2% of its CJK characters substituted (at least 3; --edit-rate),
              and with --edit-passages the passages too;
3. writes the test set as reference files (testset/part-N.jsonl), hashes them, runs
   `neardup clean --reference testset/ corpus.jsonl -o out`, and hashes them again;
4. scores the removal log: recall = planted copies at least 90% removed; precision = removals
   whose kept copy is reference text that are (at least half) planted text, and the same in
   bytes. Input-vs-input duplicates of the corpus are still removed, and left out of both.

Prints the figures; exits 1 when recall < 0.99, precision < 0.99 or a reference file changed.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def is_cjk(ch):
    return "\u4e00" <= ch <= "\u9fff"


def light_edit(text, rng, rate):
    """A share `rate` of the CJK characters substituted, at least 3."""
    chars = list(text)
    spots = [i for i, c in enumerate(chars) if is_cjk(c)]
    n = max(3, int(len(spots) * rate))
    for i in rng.sample(spots, min(n, len(spots))):
        chars[i] = rng.choice(CJK)
    return "".join(chars)


def passage_of(text, rng):
    """300-600 characters of `text`, starting at a line start when it can."""
    want = rng.randint(300, min(600, len(text)))
    starts = [0] + [i + 1 for i, c in enumerate(text[: len(text) - want]) if c == "\n"]
    start = rng.choice(starts)
    return text[start:start + want].strip("\n")


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    data = os.environ.get("BENCH_ROOT", "/tmp/neardup-bench") + "/data"
    ap.add_argument("--corpus", default=f"{data}/c10000_s1234.jsonl")
    ap.add_argument("--truth", default=None)
    ap.add_argument("--bin", default=None)
    ap.add_argument("--tests", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", default=None, help="work in DIR and leave it")
    ap.add_argument("--edit-rate", type=float, default=0.02,
                    help="share of CJK characters substituted in edited copies")
    ap.add_argument("--edit-passages", action="store_true",
                    help="edit the planted passages too (harder)")
    ap.add_argument("extra", nargs="*")
    a = ap.parse_args()
    truth_path = a.truth or a.corpus + ".truth.jsonl"
    rng = random.Random(a.seed)
    if a.bin is None:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)
        a.bin = os.path.join(REPO, "target", "release", "neardup")

    docs = [json.loads(l) for l in open(a.corpus, encoding="utf-8")]
    truth = {t["id"]: t for t in map(json.loads, open(truth_path, encoding="utf-8"))}
    cluster_size = {}
    for t in truth.values():
        cluster_size[t["cluster"]] = cluster_size.get(t["cluster"], 0) + 1
    # every document a test document's text may reach: its cluster and partial copies of it
    reach = {}
    for t in truth.values():
        reach.setdefault(t["cluster"], set()).add(t["id"])
        if t["src"]:
            reach.setdefault(t["src"], set()).add(t["id"])

    bases = [d for d in docs if truth[d["id"]]["kind"] == "base" and len(d["text"]) >= 400]
    tests = rng.sample(bases, a.tests)
    gone = set()
    for d in tests:
        gone |= reach.get(d["id"], set()) | {d["id"]}
    corpus = [d for d in docs if d["id"] not in gone]
    sources = {t["src"] for t in truth.values() if t["src"]}
    hosts = [i for i, d in enumerate(corpus)
             if cluster_size[truth[d["id"]]["cluster"]] == 1 and d["id"] not in sources
             and len(d["text"]) >= 600 and "\n\n" in d["text"]]
    rng.shuffle(hosts)

    kinds = ["whole", "passage", "edited"]
    plants = []  # (kind, record id, start byte, end byte) in the record's text as UTF-8
    records = [dict(d) for d in corpus]
    used_hosts = 0
    for n, t in enumerate(tests):
        kind = kinds[n % 3]
        if kind == "passage":
            host = records[hosts[used_hosts]]
            used_hosts += 1
            p = passage_of(t["text"], rng)
            if a.edit_passages:
                p = light_edit(p, rng, a.edit_rate)
            breaks = [i for i in range(len(host["text"])) if host["text"].startswith("\n\n", i)]
            at = rng.choice(breaks) + 2
            before = host["text"][:at]
            host["text"] = before + p + "\n\n" + host["text"][at:]
            s = len(before.encode("utf-8"))
            plants.append((kind, host["id"], s, s + len(p.encode("utf-8"))))
        else:
            text = t["text"] if kind == "whole" else light_edit(t["text"], rng, a.edit_rate)
            rid = f"plant{n:04d}"
            records.append({"id": rid, "text": text})
            plants.append((kind, rid, 0, len(text.encode("utf-8"))))
    # planted copies sit among the corpus's own records, not at its end
    order = list(range(len(records)))
    rng.shuffle(order)
    records = [records[i] for i in order]

    work = a.keep or tempfile.mkdtemp(prefix="decontam-")
    if a.keep:
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
    try:
        ref_dir = os.path.join(work, "testset")
        os.makedirs(ref_dir)
        for part in range(5):
            with open(os.path.join(ref_dir, f"part-{part}.jsonl"), "w", encoding="utf-8") as f:
                for t in tests[part::5]:
                    f.write(json.dumps({"id": "test-" + t["id"], "text": t["text"]},
                                       ensure_ascii=False) + "\n")
        corpus_path = os.path.join(work, "corpus.jsonl")
        with open(corpus_path, "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        ref_files = sorted(os.listdir(ref_dir))
        before = {p: sha(os.path.join(ref_dir, p)) for p in ref_files}
        out = os.path.join(work, "out")
        cmd = [a.bin, "clean", "--quiet", "--reference", ref_dir, corpus_path, "-o", out] + a.extra
        t0 = time.time()
        subprocess.run(cmd, check=True)
        secs = time.time() - t0
        after = {p: sha(os.path.join(ref_dir, p)) for p in ref_files}
        unchanged = before == after and sorted(os.listdir(ref_dir)) == ref_files
        subprocess.run([a.bin, "verify", out], check=True, stdout=subprocess.DEVNULL)

        removals = [json.loads(l) for l in open(os.path.join(out, "removed.jsonl"), encoding="utf-8")]
        # removed byte ranges per record id, and the reference removals
        removed = {}
        for r in removals:
            spans = r.get("spans") or [r["removed"]["bytes"]]
            removed.setdefault(r["removed"]["doc"], []).extend(spans)
        planted = {}
        for kind, rid, s, e in plants:
            planted.setdefault(rid, []).append((s, e))

        def overlap(spans, s, e):
            return sum(max(0, min(e, b) - max(s, a_)) for a_, b in spans)

        found = {k: [0, 0] for k in kinds}
        for kind, rid, s, e in plants:
            found[kind][1] += 1
            if overlap(removed.get(rid, []), s, e) >= 0.9 * (e - s):
                found[kind][0] += 1
        ref_removals = [r for r in removals if r.get("reference")]
        good = good_bytes = all_bytes = 0
        for r in ref_removals:
            spans = r.get("spans") or [r["removed"]["bytes"]]
            size = sum(b - a_ for a_, b in spans)
            inside = sum(overlap(planted.get(r["removed"]["doc"], []), a_, b) for a_, b in spans)
            all_bytes += size
            good_bytes += inside
            good += inside >= 0.5 * size
        hits = sum(f[0] for f in found.values())
        recall = hits / len(plants)
        precision = good / max(1, len(ref_removals))
        byte_precision = good_bytes / max(1, all_bytes)
        print(f"corpus: {len(records)} documents ({len(corpus)} of {os.path.basename(a.corpus)} "
              f"after taking out the test set and its {len(gone) - len(tests)} relatives, "
              f"{len(plants) - used_hosts} planted records, {used_hosts} planted passages); "
              f"test set: {len(tests)} documents in {len(ref_files)} reference files")
        print(f"clean --reference: {secs:.2f} s; {len(removals)} removals, "
              f"{len(ref_removals)} of them against the reference")
        for k in kinds:
            print(f"  {k:8} recall {found[k][0]}/{found[k][1]}")
        print(f"recall {recall:.4f}  precision {precision:.4f} (removals)  "
              f"{byte_precision:.4f} (bytes)  reference files unchanged: {unchanged}")
        ok = recall >= 0.99 and precision >= 0.99 and unchanged
        print(("PASS" if ok else "FAIL") + ": recall >= 0.99, precision >= 0.99, reference untouched")
        return 0 if ok else 1
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
