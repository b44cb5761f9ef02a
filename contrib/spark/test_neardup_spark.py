"""The Spark side of the clustering definition, against a plain-Python
reading of it (neardup's shard module docs): exact groups and their
representatives, band buckets with the giant-bucket guard
(src/lsh.rs `pairs_from_runs`), connected components by large-star /
small-star, each run's parents and the seeds left to the star path. Run by tests/cli/spark.rs: `python -m unittest` in this folder.
"""

import os
import random
import tempfile
import unittest

import neardup_spark as ns


def union_find_components(nodes, edges):
    parent = {n: n for n in nodes}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {n: find(n) for n in nodes}


def pairs_from_runs(keys):
    """src/lsh.rs pairs_from_runs over (key, doc) sorted."""
    out = set()
    start = 0
    while start < len(keys):
        end = start + 1
        while end < len(keys) and keys[end][0] == keys[start][0]:
            end += 1
        run = [d for _, d in keys[start:end]]
        if len(run) <= ns.MAX_BUCKET:
            for i, a in enumerate(run):
                for b in run[i + 1 :]:
                    out.add((min(a, b), max(a, b)))
        else:
            first = run[0]
            for x, y in zip(run, run[1:]):
                out.add((min(x, y), max(x, y)))
                out.add((min(first, y), max(first, y)))
        start = end
    return {p for p in out if p[0] != p[1]}


class Args:
    neardup = "neardup"
    resume = False
    partitions = 3


class SparkDefinition(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from pyspark.sql import SparkSession

        os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
        cls.spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.adaptive.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .getOrCreate()
        )
        cls.spark.sparkContext.setLogLevel("ERROR")
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.spark.stop()
        cls.tmp.cleanup()

    def driver(self, name):
        args = Args()
        args.work = os.path.join(self.tmp.name, name)
        args.output = os.path.join(self.tmp.name, name + "-out")
        return ns.Driver(args, [], self.spark, "h", 0.8)

    def test_components_are_the_union_find_groups_labelled_by_their_smallest_member(self):
        rng = random.Random(7)
        nodes = [(s << ns.ORD_BITS) + o for s in range(3) for o in range(120)]
        # chains, stars and random links: long paths need several rounds
        edges = [(nodes[i], nodes[i + 1]) for i in range(0, 90)]
        edges += [(nodes[200], nodes[j]) for j in range(201, 230)]
        edges += [tuple(rng.sample(nodes, 2)) for _ in range(40)]
        edges += [(b, a) for a, b in edges[:5]]  # both directions
        df = self.spark.createDataFrame(edges, "u long, v long")
        self.spark.sparkContext.setCheckpointDir(os.path.join(self.tmp.name, "cp"))
        df, rounds = ns.connected(df)
        self.assertGreater(rounds, 1)
        got = {r["u"]: r["v"] for r in df.collect()}
        want = union_find_components(nodes, edges)
        in_edges = {x for e in edges for x in e}
        for n in in_edges:
            root = want[n]
            if n == root:
                self.assertNotIn(n, got, "a root points nowhere")
            else:
                self.assertEqual(got.get(n), root, f"node {n}")
        self.assertEqual(set(got), {n for n in in_edges if want[n] != n})

    def test_candidates_follow_the_definition(self):
        from pyspark.sql import types as T

        rng = random.Random(11)
        d = self.driver("cand")
        docs_rows, band_rows = [], []
        bands = 3
        for shard in range(3):
            for ord_ in range(150):
                chars = 0 if ord_ % 50 == 7 else 100 + ord_
                # exact copies across and within shards; empty texts share a hash
                h = 0 if chars == 0 else rng.randrange(40) if ord_ % 3 == 0 else shard * 1000 + ord_
                docs_rows.append((shard, ord_, chars, h, 5, b"", None))
                if chars == 0:
                    continue
                for band in range(bands):
                    if band == 0 and ord_ % 2 == 1:
                        key = 99  # one giant bucket
                    else:
                        key = rng.randrange(60)  # small buckets
                    band_rows.append((band, key, shard, ord_))
        docs_schema = T.StructType(
            [
                T.StructField("shard", T.IntegerType()),
                T.StructField("ord", T.LongType()),
                T.StructField("chars", T.LongType()),
                T.StructField("exact_hi", T.LongType()),
                T.StructField("exact_lo", T.LongType()),
                T.StructField("keep_rank", T.BinaryType()),
                T.StructField("doc_id", T.StringType()),
            ]
        )
        band_schema = "band int, key long, shard int, ord long"
        d.shard_list = [0, 1, 2]
        for shard in d.shard_list:
            self.spark.createDataFrame([r for r in docs_rows if r[0] == shard], docs_schema).write.parquet(
                os.path.join(d.shard_dir(shard), "docs.parquet")
            )
            self.spark.createDataFrame([r for r in band_rows if r[2] == shard], band_schema).write.parquet(
                os.path.join(d.shard_dir(shard), "bands.parquet")
            )
        out = os.path.join(d.args.work, "candidates")
        os.makedirs(out)
        rows = d.candidates(out)

        # the definition, read plainly
        by_hash = {}
        for shard, ord_, chars, h, _, _, _ in docs_rows:
            if chars > 0:
                by_hash.setdefault(h, []).append((shard, ord_))
        reps = {min(g) for g in by_hash.values()}
        want_exact = {(min(g), m) for g in by_hash.values() for m in g if m != min(g)}
        want_pairs = set()
        for band in range(bands):
            keys = sorted((k, (s, o)) for b, k, s, o in band_rows if b == band and (s, o) in reps)
            want_pairs |= pairs_from_runs(keys)

        def read(name):
            df = self.spark.read.parquet(os.path.join(out, name))
            return [((r[0], r[1]), (r[2], r[3])) for r in df.select("a_shard", "a_ord", "b_shard", "b_ord").collect()]

        got_pairs = read("pairs")
        self.assertEqual(len(got_pairs), len(set(got_pairs)), "distinct pairs")
        self.assertEqual(set(got_pairs), want_pairs)
        self.assertEqual(set(read("exact")), want_exact)
        self.assertEqual(rows["giant buckets"], 1)
        self.assertGreater(sum(1 for b, k, _, _ in band_rows if (b, k) == (0, 99)), ns.MAX_BUCKET)
        # grouped by shard pair: the pairs of two shards are in one file
        by_file = {}
        for f in ns.parquet_files(os.path.join(out, "pairs")):
            for r in self.spark.read.parquet(f).select("a_shard", "b_shard").distinct().collect():
                by_file.setdefault((r[0], r[1]), []).append(f)
        self.assertTrue(all(len(fs) == 1 for fs in by_file.values()), "a shard pair is in one file")

    def test_star_parents_follow_the_definition(self):
        rng = random.Random(13)
        # runs of a few passages (hashes 0-39) and noise (hashes 40-99);
        # some runs share many hashes with several earlier ones, so that
        # more than MAX_PARENTS get MIN_VOTES and votes tie
        rows = []
        for shard in range(3):
            for ord_ in range(12):
                for run in (0, 500):
                    base = rng.randrange(4) * 10
                    hashes = [base + rng.randrange(10) for _ in range(rng.randrange(2, 9))]
                    hashes += [rng.randrange(100) for _ in range(rng.randrange(0, 40))]
                    rows += [(shard, ord_, run, h, run + i) for i, h in enumerate(hashes)]
        runs = self.spark.createDataFrame(rows, "shard int, ord long, run int, hash long, pos int")
        got = {}
        for r in ns.star_parents(runs).collect():
            got.setdefault((r[0], r[1], r[2]), []).append((r[3], r[4], r[5]))

        # the definition, read plainly
        first = {}
        for s_, o, r, h, _ in rows:
            first[h] = min(first.get(h, (s_, o, r)), (s_, o, r))
        want = {}
        for key in sorted({(s_, o, r) for s_, o, r, _, _ in rows}):
            votes = {}
            for s_, o, r, h, _ in rows:
                if (s_, o, r) == key and first[h] != key:
                    votes[first[h]] = votes.get(first[h], 0) + 1
            ps = sorted((p for p, n in votes.items() if n >= ns.MIN_VOTES), key=lambda p: (-votes[p], p))
            if ps:
                want[key] = ps[: ns.MAX_PARENTS]
        self.assertEqual({k: sorted(v) for k, v in got.items()}, {k: sorted(v) for k, v in want.items()})
        self.assertTrue(any(len(v) == ns.MAX_PARENTS for v in want.values()), "some run has too many parents")

    def test_seeds_inside_runs_on_both_sides_are_the_star_paths(self):
        rng = random.Random(17)
        # two runs a document; seeds near, inside and across their edges
        runs, seeds = [], []
        docs = [(s_, o) for s_ in range(2) for o in range(6)]
        for s_, o in docs:
            for run in (40, 400):
                runs += [(s_, o, run, rng.randrange(50), run + p) for p in [0] + sorted(rng.sample(range(1, 120), 5))]
        for i, a in enumerate(docs):
            for b in docs[i:]:
                for _ in range(rng.randrange(1, 4)):
                    pa = rng.choice([rng.randrange(600), rng.randrange(30, 50), rng.randrange(400, 530)])
                    pb = rng.choice([rng.randrange(600), rng.randrange(30, 50), rng.randrange(400, 530)])
                    seeds.append((a[0], a[1], pa, b[0], b[1], pb))
        seeds = sorted(set(seeds))
        got = ns.outside_runs(
            self.spark.createDataFrame(seeds, "a_shard int, a_ord long, a_pos int, b_shard int, b_ord long, b_pos int"),
            self.spark.createDataFrame(runs, "shard int, ord long, run int, hash long, pos int"),
        ).collect()

        # the definition, read plainly
        spans = {}
        for s_, o, r, _, p in runs:
            lo, hi = spans.get((s_, o, r), (p, p))
            spans[(s_, o, r)] = (min(lo, p), max(hi, p))

        def inside(s_, o, p):
            return any((k[0], k[1]) == (s_, o) and lo - ns.SEED_W <= p < hi + ns.SEED_K + ns.SEED_W for k, (lo, hi) in spans.items())

        pairs = {}
        for x in seeds:
            pairs.setdefault((x[0], x[1], x[3], x[4]), []).append(x)
        want = sorted(
            x for g in pairs.values() if not all(inside(*x[:3]) and inside(*x[3:]) for x in g) for x in g
        )
        self.assertEqual(sorted(tuple(r) for r in got), want)
        self.assertTrue(len(want) < len(seeds), "some pair is the star path's")
        self.assertTrue(len(want) > 0, "some pair is chained")


if __name__ == "__main__":
    unittest.main()
