#!/usr/bin/env python3
"""neardup on Apache Spark: `neardup clean` (document and block level), past one machine.

neardup does every byte of text work (reading, normalising, signatures,
alignment, writing the cleaned files); Spark schedules the per-shard runs of
the binary, shuffles the small key rows (band keys, exact hashes, pairs) and
finds connected components. Python only orchestrates: rows flow
Parquet -> DataFrame operations -> Parquet, no Python function runs per row.

Stages (each writes WORK/<stage>/_SUCCESS holding the parameters' hash;
`--resume` skips the stages, and the shards of a stage, already finished):

  shards      `neardup shards`: the inputs, in neardup's reading order, cut
              into shards of whole files -> shards/manifest.json
  sign        `neardup sign --shard N`, one Spark task a shard -> per shard
              docs.parquet (one row a document), bands.parquet (band keys),
              sigs.bin (signatures for the prefilter)
  candidates  exact groups (same exact hash, chars > 0; the first by
              (shard, ord) represents them), band buckets of representatives
              with the giant-bucket guard, distinct pairs -> candidates/pairs
              (grouped by shard pair) and candidates/exact (exact edges)
  verify      `neardup verify-pairs` on each pair file -> verify/edges
  components  connected components of exact + verified edges, alternating
              large-star / small-star -> components/members (doc, root)
  keep        the kept copy: min (keep_rank, shard, ord); member similarity
              1.0 for an exact copy of the kept one, else a second
              `verify-pairs --similarity` pass -> keep/members
  clusters    removed documents (similarity >= threshold) with their
              cluster id and the kept copy's place, partitioned by shard
              -> clusters/removed/part_shard=N; at the block level also
              every member of every cluster -> clusters/members
  groups      (block level) the fingerprints of the documents not removed,
              grouped by hash: more than --max-occurrences rows -> every
              occurrence to groups/frequent; 2 to --max-occurrences ->
              seeds (every pair of occurrences in (shard, ord, pos) order
              but those close inside one document), grouped by shard pair
              -> groups/seeds
  star-runs   (block level) `neardup star-runs` on each file of frequent
              occurrences (whole shards): each document's occurrences cut
              into runs -> star-runs/runs
  blocks      (block level) the seeds but those of document pairs whose
              every seed lies inside runs on both sides (the star path
              aligns those copies), grouped by shard pair -> blocks/seeds;
              `neardup block-pairs` on each seed file -> blocks/regions
  star-pairs  (block level) each hash's first run, each run's parents by
              vote (DataFrame operations), the rows of each child run and
              its parents grouped by the child's shard -> star-pairs/links;
              `neardup star-pairs` on each file: each child aligned to its
              parents -> star-pairs/aligned
  star-split  (block level) the aligned pairs grouped by the parent's
              document; `neardup star-split` on each file: cut where
              passages meet -> star-split/regions
  plan        (block level) `neardup plan`, ONE process on the driver: the
              block clustering and clean's plan -> plan/out
  apply       `neardup apply --shard N` (--clusters at --level doc, --plan
              at the block level, and --output-compression), one Spark
              task a shard -> OUT
  finish      `neardup apply --finish`: removal log and manifest -> OUT

The clustering rule is the one neardup's single-machine path follows; it
is written once, in the module docs of neardup's shard module (`neardup
shards --help` points there), and tests/cli/spark.rs checks that this
driver's output is byte-identical to `neardup clean` at the default
level and at `--level doc`.

The work folder and the output must be a file system every executor sees
at the same path (local disk in local mode, NFS or similar on a cluster):
the binary reads and writes them directly.
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

# Buckets above this size give a path and a star instead of all pairs
# (src/lsh.rs MAX_BUCKET: the giant-bucket guard).
MAX_BUCKET = 64

# Documents are numbered (shard, ord); component labels pack them into one
# ordered long: shard in the high bits, ord in the low ORD_BITS.
ORD_BITS = 40

# Marks the message of a failed neardup run inside Spark's exception text,
# which wraps it in a Java stack trace.
FAIL_START = "<<neardup-stage-failed>>"
FAIL_END = "<</neardup-stage-failed>>"

STAGES = [
    "shards",
    "sign",
    "candidates",
    "verify",
    "components",
    "keep",
    "clusters",
    "groups",
    "star-runs",
    "blocks",
    "star-pairs",
    "star-split",
    "plan",
    "apply",
    "finish",
]

# Within one document, a rare fingerprint's occurrences closer than this
# many units give no seed (blocks::find_pairs_in, BlockOptions.k, which no
# flag sets).
SEED_K = 8

# Winnowing window, in grams (BlockOptions.window, which no flag sets): a
# run of frequent occurrences covers the seeds from SEED_W units before its
# first occurrence to SEED_K + SEED_W units past its last (src/blocks/frequent.rs,
# RunIndex).
SEED_W = 8

# A run of frequent occurrences is aligned to each other run that is the
# first run of at least MIN_VOTES of its fingerprints, at most MAX_PARENTS
# of them, most votes first (src/blocks/frequent.rs, `neardup star-pairs`).
MIN_VOTES = 3
MAX_PARENTS = 8

# Options of `neardup clean` the Spark path does not give identically (yet).
REFUSED = {
    "--reference": "reference inputs are not supported on Spark yet",
    "--log": "the removal log is always OUT/removed.jsonl on Spark",
    "--dry-run": "--dry-run is not supported on Spark",
    "--drop-boilerplate": "--drop-boilerplate is not supported on Spark yet",
    "--force": "write into an empty or new --output",
}


class StageError(Exception):
    """A stage failed; the message says which and why."""


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="neardup_spark.py",
        description="`neardup clean` (--level all, the default, or doc) on Apache Spark. "
        "Other flags are the detection and input flags of `neardup clean`, "
        "passed to every neardup run.",
    )
    p.add_argument("--master", help="Spark master URL (default: spark-submit's)")
    p.add_argument("--neardup", required=True, help="the neardup binary, at a path every executor sees")
    p.add_argument("--input", required=True, nargs="+", action="extend", help="inputs, as for neardup clean")
    p.add_argument("--work", required=True, help="work folder (shared by all executors)")
    p.add_argument("--output", required=True, help="output folder: the layout neardup clean -o gives")
    p.add_argument("--resume", action="store_true", help="skip the stages and shards an earlier run finished")
    p.add_argument("--shard-bytes", default="256M", help="input bytes per shard (whole files; default 256M)")
    p.add_argument(
        "--output-compression",
        choices=["same", "none", "gzip", "zstd"],
        default="same",
        help="how the cleaned files are compressed, as for neardup clean (given to `neardup apply` only)",
    )
    p.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="pair files for verify-pairs and shuffle partitions (default: 2 x default parallelism, at least 4)",
    )
    args, flags = p.parse_known_args(argv)
    return args, flags


def checked_flags(flags):
    """The pass-through flags and the level (all unless given); refuses
    what the Spark path does not support."""
    out = []
    level = None
    i = 0
    while i < len(flags):
        f = flags[i]
        name = f.split("=", 1)[0]
        if name in REFUSED:
            raise StageError(f"{name} is not supported: {REFUSED[name]}")
        if name == "--level":
            level = f.split("=", 1)[1] if "=" in f else (flags[i + 1] if i + 1 < len(flags) else "")
            if level not in ("doc", "all"):
                raise StageError(f"--level {level} is not supported on Spark yet: --level all or doc")
        if name == "--method":
            method = f.split("=", 1)[1] if "=" in f else (flags[i + 1] if i + 1 < len(flags) else "")
            if method == "simhash":
                raise StageError("--method simhash is not supported on Spark yet: minhash or oph")
        if not f.startswith("-"):
            raise StageError(f"unexpected argument {f!r}: inputs go after --input")
        out.append(f)
        # a flag's value follows it unless given as --flag=value
        if "=" not in f and i + 1 < len(flags) and not flags[i + 1].startswith("--") and name not in BOOL_FLAGS:
            out.append(flags[i + 1])
            i += 1
        i += 1
    return out, level or "all"


# Flags of `neardup clean` that take no value.
BOOL_FLAGS = {"--mask-fold", "--quiet", "-q", "--drop-boilerplate"}


# ---------------------------------------------------------------- running neardup


def run_tool(argv, what):
    """Runs neardup; a failure raises StageError naming `what` with the
    binary's own message (its stderr)."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        said = p.stderr.decode("utf-8", "replace").strip()
        said = "\n".join(said.splitlines()[-20:])
        raise StageError(f"{FAIL_START}{what} failed (exit {p.returncode}): {said}{FAIL_END}")
    return p.stdout


def executor_tool(path):
    """The binary on an executor: the copy `spark-submit --files` shipped
    there, else `path` (shared storage, or the same path on every node)."""
    try:
        from pyspark import SparkFiles

        shipped = os.path.join(SparkFiles.getRootDirectory(), os.path.basename(path))
    except Exception:  # not in a Spark task
        return path
    if not os.path.isfile(shipped):
        return path
    if not os.access(shipped, os.X_OK):
        os.chmod(shipped, 0o755)
    return shipped


def failure_message(exc):
    """The neardup failure inside a Spark exception, else the exception."""
    text = str(exc)
    m = re.search(re.escape(FAIL_START) + "(.*?)" + re.escape(FAIL_END), text, re.S)
    return m.group(1) if m else text.strip().splitlines()[0] if text.strip() else repr(exc)


def run_per_item(sc, items, task):
    """Runs `task(item)` on the executors, one Spark task an item; gives
    what the tasks return, in item order."""
    if not items:
        return []
    rdd = sc.parallelize(items, len(items))
    return rdd.mapPartitions(lambda it: [task(x) for x in it]).collect()


# ---------------------------------------------------------------- stage bookkeeping


class Work:
    """The work folder: each stage's folder and its _SUCCESS marker."""

    def __init__(self, root, params_hash, resume):
        self.root = root
        self.hash = params_hash
        self.resume = resume
        self.report = []

    def dir(self, stage):
        return os.path.join(self.root, stage)

    def marker(self, stage):
        return os.path.join(self.dir(stage), "_SUCCESS")

    def done(self, stage):
        """Whether `stage` finished with these parameters (only with --resume)."""
        path = self.marker(stage)
        if not (self.resume and os.path.exists(path)):
            return None
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
        if info.get("hash") != self.hash:
            raise StageError(
                f"{path} was written with other parameters (hash {info.get('hash')}, now {self.hash}): "
                "run without --resume, or with the options of that run"
            )
        return info

    def start(self, stage):
        """Clears `stage` and every later stage (their inputs change)."""
        for s in STAGES[STAGES.index(stage):]:
            if os.path.exists(self.marker(s)):
                os.remove(self.marker(s))
        if stage not in ("sign", "apply"):  # those two resume shard by shard
            shutil.rmtree(self.dir(stage), ignore_errors=True)
        os.makedirs(self.dir(stage), exist_ok=True)

    def finish(self, stage, seconds, rows):
        info = {"hash": self.hash, "seconds": round(seconds, 2), "rows": rows, "bytes": du(self.dir(stage))}
        write_atomic(self.marker(stage), json.dumps(info, sort_keys=True) + "\n")
        return info

    def say(self, stage, info, resumed=False):
        rows = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in info["rows"].items())
        took = "done earlier" if resumed else f"{info['seconds']:.1f} s"
        line = f"stage {stage:<10} {took:>12}  {info['bytes']:>12,} bytes  {rows}"
        print(line, file=sys.stderr, flush=True)
        self.report.append({"stage": stage, "resumed": resumed, **info})


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def parquet_files(folder):
    return sorted(glob.glob(os.path.join(folder, "*.parquet")))


# ---------------------------------------------------------------- the driver


class Driver:
    def __init__(self, args, flags, spark, params_hash, threshold, keep_by=False, level="doc", max_occurrences=64):
        from pyspark.sql import types as T

        self.T = T
        self.args = args
        self.flags = flags
        self.spark = spark
        self.sc = spark.sparkContext
        self.threshold = threshold
        self.keep_by = keep_by
        self.blocks = level != "doc"
        self.max_occurrences = max_occurrences
        self.work = Work(args.work, params_hash, args.resume)
        self.manifest = os.path.join(args.work, "shards", "manifest.json")
        self.partitions = args.partitions or max(4, 2 * self.sc.defaultParallelism)
        # few shuffle partitions: the rows are small (ids and keys)
        spark.conf.set("spark.sql.shuffle.partitions", str(self.partitions))
        self.pair_schema = T.StructType(
            [
                T.StructField("a_shard", T.IntegerType()),
                T.StructField("a_ord", T.LongType()),
                T.StructField("b_shard", T.IntegerType()),
                T.StructField("b_ord", T.LongType()),
            ]
        )
        self.edge_schema = T.StructType(self.pair_schema.fields + [T.StructField("similarity", T.DoubleType())])
        self.run_schema = T.StructType(
            [
                T.StructField("shard", T.IntegerType()),
                T.StructField("ord", T.LongType()),
                T.StructField("run", T.IntegerType()),
                T.StructField("hash", T.LongType()),
                T.StructField("pos", T.IntegerType()),
            ]
        )
        child = [T.StructField(n, t) for n, t in (("c_shard", T.IntegerType()), ("c_ord", T.LongType()), ("c_run", T.IntegerType()))]
        self.link_schema = T.StructType(child + self.run_schema.fields)
        region = [("a_shard", T.IntegerType()), ("a_ord", T.LongType()), ("a_start", T.LongType()), ("a_end", T.LongType())]
        region += [("b_" + n[2:], t) for n, t in region]
        region += [("similarity", T.DoubleType()), ("frequent", T.IntegerType())]
        self.region_schema = T.StructType([T.StructField(n, t) for n, t in region])

    def stage(self, name, body):
        info = self.work.done(name)
        if info is not None:
            self.work.say(name, info, resumed=True)
            return
        self.work.start(name)
        t = time.time()
        rows = body(self.work.dir(name))
        self.work.say(name, self.work.finish(name, time.time() - t, rows))

    def run(self):
        self.stage("shards", self.shards)
        self.shard_list = [s["shard"] for s in self.manifest_json()["shards"]]
        self.stage("sign", self.sign)
        self.stage("candidates", self.candidates)
        self.stage("verify", self.verify)
        self.stage("components", self.components)
        self.stage("keep", self.keep)
        self.stage("clusters", self.clusters)
        if self.blocks:
            self.stage("groups", self.groups)
            self.stage("star-runs", self.star_runs)
            self.stage("blocks", self.block_pairs)
            self.stage("star-pairs", self.star_pairs)
            self.stage("star-split", self.star_split)
            self.stage("plan", self.plan)
        self.stage("apply", self.apply)
        self.stage("finish", self.finish)

    # -- shards

    def shards(self, out):
        a = self.args
        run_tool(
            [a.neardup, "shards", *a.input, *self.flags, "--shard-bytes", a.shard_bytes, "-o", self.manifest],
            "neardup shards",
        )
        with open(self.manifest, encoding="utf-8") as f:
            m = json.load(f)
        return {
            "shards": len(m["shards"]),
            "files": sum(len(s["files"]) for s in m["shards"]),
            "input bytes": sum(s["bytes"] for s in m["shards"]),
        }

    # -- sign

    def sign(self, out):
        tool, manifest, flags = self.args.neardup, self.manifest, self.flags
        names = self.shard_files()
        todo = [s for s in self.shard_list if not (self.args.resume and self.signed(s))]

        def task(shard):
            t = time.time()
            run_tool(
                [executor_tool(tool), "sign", "--shard", str(shard), manifest, "-o", out, *flags],
                f"neardup sign of shard {shard} ({names[shard]})",
            )
            return time.time() - t

        took = run_per_item(self.sc, todo, task)
        documents = self.check_ids(self.docs())
        bands = self.spark.read.parquet(*self.shard_paths("bands.parquet"))
        return {
            "shards run": len(todo),
            "slowest shard s": round(max(took, default=0.0), 2),
            "documents": documents,
            "band rows": bands.count(),
        }

    def check_ids(self, docs):
        """Refuses a document id held by two shards: one machine would
        rename the later copy (`id@line`), which needs every earlier id;
        `sign` makes ids unique within its shard only. Gives the number of
        documents."""
        from pyspark.sql import functions as F

        per_id = docs.groupBy("doc_id").agg(
            F.count(F.lit(1)).alias("n"), F.min("shard").alias("first"), F.max("shard").alias("last")
        )
        shared = F.col("doc_id").isNotNull() & (F.col("first") != F.col("last"))
        counts = per_id.agg(F.sum("n").alias("docs"), F.count(F.when(shared, 1)).alias("shared")).collect()[0]
        if counts["shared"]:
            r = per_id.where(shared).orderBy("first", "doc_id").limit(1).collect()[0]
            raise StageError(
                f"document id {r['doc_id']!r} is in shard {r['first']} and shard {r['last']}: "
                "ids must be unique across shards on Spark (give unique ids, or --id-field of a unique field)"
            )
        return counts["docs"] or 0

    def shard_files(self):
        """Shard -> its files, shortened, for messages."""
        out = {}
        for s in self.manifest_json()["shards"]:
            files = [str(f["rel"]) for f in s["files"]]
            first = files[0] if files else "no files"
            out[s["shard"]] = first if len(files) <= 1 else f"{first} and {len(files) - 1} more files"
        return out

    def manifest_json(self):
        with open(self.manifest, encoding="utf-8") as f:
            return json.load(f)

    def signed(self, shard):
        """Whether `neardup sign` finished shard `shard` with these
        parameters (its marker holds the manifest's hash)."""
        marker = os.path.join(self.shard_dir(shard), "_SUCCESS")
        if not os.path.exists(marker):
            return False
        with open(marker, encoding="utf-8") as f:
            return f.read().strip() == self.manifest_json()["params_hash"]

    def shard_dir(self, shard):
        """The folder `neardup sign` writes for `shard`."""
        return os.path.join(self.work.dir("sign"), "shard-%05d" % shard)

    def shard_paths(self, name):
        return [os.path.join(self.shard_dir(s), name) for s in self.shard_list]

    def docs(self):
        return self.spark.read.parquet(*self.shard_paths("docs.parquet"))

    # -- candidates

    def candidates(self, out):
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        docs = self.docs().where(F.col("chars") > 0).select("shard", "ord", "exact_hi", "exact_lo")
        # exact groups: the first by (shard, ord) represents them
        first = docs.groupBy("exact_hi", "exact_lo").agg(F.min(F.struct("shard", "ord")).alias("rep")).cache()
        exact = (
            docs.join(first, ["exact_hi", "exact_lo"])
            .where((F.col("shard") != F.col("rep.shard")) | (F.col("ord") != F.col("rep.ord")))
            .select(
                F.col("rep.shard").alias("a_shard"),
                F.col("rep.ord").alias("a_ord"),
                F.col("shard").alias("b_shard"),
                F.col("ord").alias("b_ord"),
            )
        )
        exact.write.parquet(os.path.join(out, "exact"))
        reps = first.select(F.col("rep.shard").alias("shard"), F.col("rep.ord").alias("ord"))
        bands = self.spark.read.parquet(*self.shard_paths("bands.parquet")).join(reps, ["shard", "ord"], "left_semi")
        size = bands.groupBy("band", "key").agg(F.count(F.lit(1)).alias("size")).cache()
        sized = bands.join(size, ["band", "key"])
        # small buckets: all pairs
        small = sized.where(F.col("size") <= MAX_BUCKET).select("band", "key", "shard", "ord")
        a, b = small.alias("a"), small.alias("b")
        all_pairs = a.join(b, ["band", "key"]).where(
            (F.col("a.shard") < F.col("b.shard"))
            | ((F.col("a.shard") == F.col("b.shard")) & (F.col("a.ord") < F.col("b.ord")))
        )
        all_pairs = all_pairs.select(
            F.col("a.shard").alias("a_shard"),
            F.col("a.ord").alias("a_ord"),
            F.col("b.shard").alias("b_shard"),
            F.col("b.ord").alias("b_ord"),
        )
        # giant buckets: consecutive members in (shard, ord) order, and the
        # first with each (src/lsh.rs pairs_from_runs)
        in_order = Window.partitionBy("band", "key").orderBy("shard", "ord")
        giant = (
            sized.where(F.col("size") > MAX_BUCKET)
            .select(
                "band",
                "key",
                "shard",
                "ord",
                F.row_number().over(in_order).alias("n"),
                F.first(F.struct("shard", "ord")).over(in_order).alias("first"),
                F.lag(F.struct("shard", "ord")).over(in_order).alias("prev"),
            )
            .where(F.col("n") > 1)
        )
        path = giant.select(
            F.col("prev.shard").alias("a_shard"),
            F.col("prev.ord").alias("a_ord"),
            F.col("shard").alias("b_shard"),
            F.col("ord").alias("b_ord"),
        )
        star = giant.select(
            F.col("first.shard").alias("a_shard"),
            F.col("first.ord").alias("a_ord"),
            F.col("shard").alias("b_shard"),
            F.col("ord").alias("b_ord"),
        )
        pairs = all_pairs.unionByName(path).unionByName(star).distinct()
        self.write_pairs(pairs, os.path.join(out, "pairs"))
        written = self.spark.read.parquet(os.path.join(out, "pairs"))
        rows = {
            "exact edges": self.spark.read.parquet(os.path.join(out, "exact")).count(),
            "representatives": reps.count(),
            "giant buckets": size.where(F.col("size") > MAX_BUCKET).count(),
            "candidate pairs": written.count(),
            "pair files": len(parquet_files(os.path.join(out, "pairs"))),
        }
        first.unpersist()
        size.unpersist()
        return rows

    def write_pairs(self, pairs, path):
        """Pairs grouped by shard pair, so that one verify-pairs run reads
        the texts of few shards, and sorted as neardup verifies them."""
        from pyspark.sql import functions as F

        cols = ["a_shard", "a_ord", "b_shard", "b_ord"]
        (
            pairs.select(*[F.col(c).cast(f.dataType) for c, f in zip(cols, self.pair_schema.fields)])
            .repartition(self.partitions, "a_shard", "b_shard")
            .sortWithinPartitions(*cols)
            .write.parquet(path)
        )

    # -- verify

    def verify_pairs(self, pairs_dir, out, extra, what):
        """`neardup verify-pairs` on each pair file of `pairs_dir`, one
        Spark task a file -> out/part-NNNNN.parquet."""
        return self.per_file("verify-pairs", pairs_dir, out, extra, what)

    def per_file(self, sub, in_dir, out, extra, what):
        """`neardup SUB` (verify-pairs, block-pairs) on each part file of
        `in_dir`, one Spark task a file -> out/part-NNNNN.parquet; gives
        the number of files."""
        tool, manifest, sign, flags = self.args.neardup, self.manifest, self.work.dir("sign"), self.flags
        os.makedirs(out, exist_ok=True)
        files = list(enumerate(parquet_files(in_dir)))
        said = f"neardup {sub}{' ' + ' '.join(extra) if extra else ''} of {what}"

        def task(item):
            i, path = item
            run_tool(
                [executor_tool(tool), sub, path, "--manifest", manifest, "--sign", sign]
                + ["-o", os.path.join(out, "part-%05d.parquet" % i), *extra, *flags],
                f"{said} {os.path.basename(path)}",
            )
            return i

        run_per_item(self.sc, files, task)
        return len(files)

    def read(self, folder, schema):
        files = parquet_files(folder)
        if not files:
            return self.spark.createDataFrame([], schema)
        return self.spark.read.schema(schema).parquet(*files)

    def verify(self, out):
        n = self.verify_pairs(os.path.join(self.work.dir("candidates"), "pairs"), os.path.join(out, "edges"), [], "pair file")
        edges = self.read(os.path.join(out, "edges"), self.edge_schema)
        return {"pair files": n, "edges": edges.count()}

    # -- components

    def components(self, out):
        from pyspark.sql import functions as F

        self.sc.setCheckpointDir(os.path.join(out, "checkpoints"))

        def packed(shard, ord_):
            return F.shiftleft(F.col(shard).cast("long"), ORD_BITS) + F.col(ord_)

        exact = self.read(os.path.join(self.work.dir("candidates"), "exact"), self.pair_schema)
        verified = self.read(os.path.join(self.work.dir("verify"), "edges"), self.edge_schema)
        edges = (
            exact.unionByName(verified.select(*self.pair_schema.names))
            .select(packed("a_shard", "a_ord").alias("u"), packed("b_shard", "b_ord").alias("v"))
            .where(F.col("u") != F.col("v"))
            .distinct()
        )
        n_edges = edges.count()
        edges, rounds = connected(edges)
        # converged: every edge is (member, root), the root the smallest member
        members = edges.select(F.col("u").alias("node"), F.col("v").alias("root"))
        roots = members.select(F.col("root").alias("node"), "root").distinct()
        members = members.unionByName(roots)
        mask = (1 << ORD_BITS) - 1
        members.select(
            F.shiftright("node", ORD_BITS).cast("int").alias("shard"),
            F.col("node").bitwiseAND(F.lit(mask)).alias("ord"),
            F.shiftright("root", ORD_BITS).cast("int").alias("root_shard"),
            F.col("root").bitwiseAND(F.lit(mask)).alias("root_ord"),
        ).write.parquet(os.path.join(out, "members"))
        shutil.rmtree(os.path.join(out, "checkpoints"), ignore_errors=True)
        written = self.spark.read.parquet(os.path.join(out, "members"))
        is_root = (F.col("shard") == F.col("root_shard")) & (F.col("ord") == F.col("root_ord"))
        counts = written.agg(F.count(F.lit(1)).alias("docs"), F.count(F.when(is_root, 1)).alias("roots")).collect()[0]
        return {
            "input edges": n_edges,
            "rounds": rounds,
            "documents in clusters": counts["docs"],
            "clusters": counts["roots"],
        }

    # -- keep

    def keep(self, out):
        from pyspark.sql import functions as F

        members = self.spark.read.parquet(os.path.join(self.work.dir("components"), "members"))
        docs = self.docs().select("shard", "ord", "keep_rank", "exact_hi", "exact_lo")
        m = members.join(docs, ["shard", "ord"])
        if self.keep_by:
            self.check_keys(m)
        kept = m.groupBy("root_shard", "root_ord").agg(
            F.min(F.struct("keep_rank", "shard", "ord", "exact_hi", "exact_lo")).alias("k")
        )
        m = m.join(kept, ["root_shard", "root_ord"]).select(
            "root_shard",
            "root_ord",
            "shard",
            "ord",
            F.col("k.shard").alias("kept_shard"),
            F.col("k.ord").alias("kept_ord"),
            ((F.col("exact_hi") == F.col("k.exact_hi")) & (F.col("exact_lo") == F.col("k.exact_lo"))).alias("exact"),
        )
        # the pair (kept, member) as verify-pairs takes it: a < b by (shard, ord)
        kept_first = (F.col("kept_shard") < F.col("shard")) | (
            (F.col("kept_shard") == F.col("shard")) & (F.col("kept_ord") < F.col("ord"))
        )
        m = m.where((F.col("shard") != F.col("kept_shard")) | (F.col("ord") != F.col("kept_ord"))).select(
            "*",
            F.when(kept_first, F.col("kept_shard")).otherwise(F.col("shard")).alias("a_shard"),
            F.when(kept_first, F.col("kept_ord")).otherwise(F.col("ord")).alias("a_ord"),
            F.when(kept_first, F.col("shard")).otherwise(F.col("kept_shard")).alias("b_shard"),
            F.when(kept_first, F.col("ord")).otherwise(F.col("kept_ord")).alias("b_ord"),
        )
        m.write.parquet(os.path.join(out, "others"))
        others = self.spark.read.parquet(os.path.join(out, "others"))
        pairs = others.where(~F.col("exact")).select(*self.pair_schema.names)
        self.write_pairs(pairs, os.path.join(out, "pairs"))
        n = self.verify_pairs(os.path.join(out, "pairs"), os.path.join(out, "similarity"), ["--similarity"], "member pair file")
        sims = self.read(os.path.join(out, "similarity"), self.edge_schema)
        return {"members not kept": others.count(), "similarity pairs": sims.count(), "pair files": n}

    def check_keys(self, members):
        """Refuses a cluster whose --keep-by values are numbers in some
        copies and strings in others: one machine compares those by their
        decimal text, which no byte order gives. keep_rank: byte 0 is 0 for
        a copy with the field, byte 1 the value's type (1 number, 2 string;
        complemented for max)."""
        from pyspark.sql import functions as F

        keyed = members.where(F.substring("keep_rank", 1, 1) == F.lit(bytearray([0])))
        mixed = (
            keyed.groupBy("root_shard", "root_ord")
            .agg(F.countDistinct(F.substring("keep_rank", 2, 1)).alias("types"))
            .where(F.col("types") > 1)
            .orderBy("root_shard", "root_ord")
            .limit(1)
            .collect()
        )
        if mixed:
            r = mixed[0]
            raise StageError(
                f"the cluster of document {r['root_ord']} of shard {r['root_shard']} holds --keep-by values "
                "that are numbers in some copies and strings in others, which Spark cannot order as one "
                "machine does: run neardup clean on one machine, or make the field one type"
            )

    # -- clusters

    def clusters(self, out):
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        T = self.T
        kdir = self.work.dir("keep")
        others = self.spark.read.parquet(os.path.join(kdir, "others"))
        sims = self.read(os.path.join(kdir, "similarity"), self.edge_schema)
        scored = others.join(sims, self.pair_schema.names, "left").select(
            "*", F.when(F.col("exact"), F.lit(1.0)).otherwise(F.coalesce(F.col("similarity"), F.lit(0.0))).alias("sim")
        )
        # cluster ids: 1, 2, ... in the order of each cluster's first
        # member (its root); numbered per root shard, then offset by the
        # clusters of the shards before
        members = self.spark.read.parquet(os.path.join(self.work.dir("components"), "members"))
        roots = members.select("root_shard", "root_ord").distinct()
        per_shard = dict(
            (r["root_shard"], r["count"]) for r in roots.groupBy("root_shard").count().collect()
        )
        offsets, at = [], 0
        for s in sorted(per_shard):
            offsets.append((s, at))
            at += per_shard[s]
        offset = self.spark.createDataFrame(
            offsets, T.StructType([T.StructField("root_shard", T.IntegerType()), T.StructField("offset", T.LongType())])
        )
        ids = roots.join(F.broadcast(offset), "root_shard").select(
            "root_shard",
            "root_ord",
            (F.col("offset") + F.row_number().over(Window.partitionBy("root_shard").orderBy("root_ord"))).alias(
                "cluster"
            ),
        )
        place = ["doc_id", "path", "record", "line_first", "line_last", "byte_start", "byte_end", "unit"]
        kept_place = self.docs().select(
            F.col("shard").alias("kept_shard"),
            F.col("ord").alias("kept_ord"),
            *[F.col(c).alias("kept_" + c) for c in place],
        )
        removed = (
            scored.where(F.col("sim") >= F.lit(self.threshold))
            .join(ids, ["root_shard", "root_ord"])
            .join(kept_place, ["kept_shard", "kept_ord"])
            .select(
                F.col("shard").cast("int").alias("shard"),
                F.col("ord").cast("long").alias("ord"),
                F.col("cluster").cast("long").alias("cluster"),
                F.col("sim").alias("similarity"),
                *["kept_" + c for c in place],
                F.col("shard").alias("part_shard"),
            )
        )
        removed.repartition("part_shard").sortWithinPartitions("shard", "ord").write.partitionBy("part_shard").parquet(
            os.path.join(out, "removed")
        )
        written = self.spark.read.parquet(os.path.join(out, "removed"))
        rows = {"clusters": at, "removed documents": written.count()}
        if self.blocks:
            # what `neardup plan` takes: every member, the kept one (not
            # among `others`) with similarity 1.0
            sim = scored.select("shard", "ord", "sim")
            members.join(ids, ["root_shard", "root_ord"]).join(sim, ["shard", "ord"], "left").select(
                F.col("shard").cast("int").alias("shard"),
                F.col("ord").cast("long").alias("ord"),
                F.col("cluster").cast("long").alias("cluster"),
                F.coalesce(F.col("sim"), F.lit(1.0)).alias("similarity"),
            ).write.parquet(os.path.join(out, "members"))
            rows["cluster members"] = self.spark.read.parquet(os.path.join(out, "members")).count()
        return rows

    # -- the block level

    def groups(self, out):
        """Frequent occurrences and rare seeds (the shard module's
        definition, items 8-10)."""
        from pyspark.sql import functions as F

        # (a schema: the folder holds no file when nothing was removed)
        removed = self.spark.read.schema("shard int, ord long").parquet(os.path.join(self.work.dir("clusters"), "removed"))
        prints = self.spark.read.parquet(*self.shard_paths("fingerprints.parquet"))
        active = prints.join(removed, ["shard", "ord"], "left_anti").select("hash", "shard", "ord", "pos")
        counts = active.groupBy("hash").agg(F.count(F.lit(1)).alias("n")).where(F.col("n") >= 2).cache()
        counted = active.join(counts, "hash")
        frequent = counted.where(F.col("n") > self.max_occurrences).select(
            F.col("hash").cast("long"), F.col("shard").cast("int"), F.col("ord").cast("long"), F.col("pos").cast("int")
        )
        # whole shards in a part file: one `star-runs` run a file
        frequent.repartition(self.partitions, "shard").sortWithinPartitions("shard", "ord", "pos").write.parquet(
            os.path.join(out, "frequent")
        )
        rare = counted.where(F.col("n") <= self.max_occurrences).select("hash", "shard", "ord", "pos")
        a, b = rare.alias("a"), rare.alias("b")
        same_doc = (F.col("a.shard") == F.col("b.shard")) & (F.col("a.ord") == F.col("b.ord"))
        before = (F.col("a.shard") < F.col("b.shard")) | (
            (F.col("a.shard") == F.col("b.shard"))
            & ((F.col("a.ord") < F.col("b.ord")) | ((F.col("a.ord") == F.col("b.ord")) & (F.col("a.pos") < F.col("b.pos"))))
        )
        seeds = (
            a.join(b, "hash")
            .where(before & ~(same_doc & (F.col("b.pos") < F.col("a.pos") + F.lit(SEED_K))))
            .select(
                F.col("a.shard").cast("int").alias("a_shard"),
                F.col("a.ord").cast("long").alias("a_ord"),
                F.col("a.pos").cast("int").alias("a_pos"),
                F.col("b.shard").cast("int").alias("b_shard"),
                F.col("b.ord").cast("long").alias("b_ord"),
                F.col("b.pos").cast("int").alias("b_pos"),
            )
        )
        # every seed of a document pair in one part file (one block-pairs
        # run): partitioned by shard pair
        (
            seeds.repartition(self.partitions, "a_shard", "b_shard")
            .sortWithinPartitions("a_shard", "a_ord", "b_shard", "b_ord", "a_pos", "b_pos")
            .write.parquet(os.path.join(out, "seeds"))
        )
        rows = {
            "fingerprints": prints.count(),
            "active fingerprints": active.count(),
            "frequent hashes": counts.where(F.col("n") > self.max_occurrences).count(),
            "frequent rows": self.spark.read.parquet(os.path.join(out, "frequent")).count(),
            "seeds": self.spark.read.parquet(os.path.join(out, "seeds")).count(),
            "seed files": len(parquet_files(os.path.join(out, "seeds"))),
        }
        counts.unpersist()
        return rows

    def block_pairs(self, out):
        """The seeds of document pairs the star path leaves out (`outside_runs`),
        then `neardup block-pairs` on each seed file, one Spark task a file."""
        regions = os.path.join(out, "regions")
        seeds = self.spark.read.parquet(os.path.join(self.work.dir("groups"), "seeds"))
        runs = self.read(os.path.join(self.work.dir("star-runs"), "runs"), self.run_schema)
        kept = os.path.join(out, "seeds")
        (
            outside_runs(seeds, runs)
            .repartition(self.partitions, "a_shard", "b_shard")
            .sortWithinPartitions("a_shard", "a_ord", "b_shard", "b_ord", "a_pos", "b_pos")
            .write.parquet(kept)
        )
        files = self.per_file("block-pairs", kept, regions, [], "seed file")
        n = self.spark.read.parquet(*parquet_files(regions)).count() if parquet_files(regions) else 0
        return {"seeds kept": self.spark.read.parquet(kept).count(), "seed files": files, "region pairs": n}

    def star_runs(self, out):
        """`neardup star-runs` on each file of frequent occurrences (whole
        shards), one Spark task a file: the runs, with their texts'
        weights."""
        frequent = os.path.join(self.work.dir("groups"), "frequent")
        files = parquet_files(frequent)
        if not files or not self.spark.read.parquet(*files).limit(1).count():
            # no boilerplate: no star path (a run of the binary a file saved)
            os.makedirs(os.path.join(out, "runs"))
            return {"files": 0, "occurrences in runs": 0, "runs": 0}
        files = self.per_file("star-runs", frequent, os.path.join(out, "runs"), [], "frequent file")
        runs = self.read(os.path.join(out, "runs"), self.run_schema)
        return {"files": files, "occurrences in runs": runs.count(), "runs": runs.select("shard", "ord", "run").distinct().count()}

    def star_pairs(self, out):
        """Each run's parents (`star_parents`), then `neardup star-pairs`
        on the rows of each child run and its parents, partitioned by the
        child's shard."""
        from pyspark.sql import functions as F

        runs = self.read(os.path.join(self.work.dir("star-runs"), "runs"), self.run_schema)
        if not runs.limit(1).count():
            os.makedirs(os.path.join(out, "aligned"))
            return {"runs with parents": 0, "links": 0, "link rows": 0, "link files": 0, "aligned pairs": 0}
        parents = star_parents(runs).cache()
        children = parents.select("c_shard", "c_ord", "c_run").distinct()
        run_cols = ["shard", "ord", "run", "hash", "pos"]

        def rows_of(keys, prefix):
            """The rows of the runs `prefix`_* of `keys`, each with its child."""
            on = [F.col(prefix + c) == F.col(c) for c in ("shard", "ord", "run")]
            return keys.join(runs, on[0] & on[1] & on[2]).select("c_shard", "c_ord", "c_run", *run_cols)

        links = rows_of(children, "c_").unionByName(rows_of(parents, "p_"))
        (
            links.repartition(self.partitions, "c_shard")
            .sortWithinPartitions("c_shard", "c_ord", "c_run", "shard", "ord", "run", "pos")
            .write.parquet(os.path.join(out, "links"))
        )
        n_parents, n_children = parents.count(), children.count()
        parents.unpersist()
        files = self.per_file("star-pairs", os.path.join(out, "links"), os.path.join(out, "aligned"), [], "link file")
        aligned = self.read(os.path.join(out, "aligned"), self.region_schema)
        return {
            "runs with parents": n_children,
            "links": n_parents,
            "link rows": self.read(os.path.join(out, "links"), self.link_schema).count(),
            "link files": files,
            "aligned pairs": aligned.count(),
        }

    def star_split(self, out):
        """`neardup star-split` on the aligned pairs, partitioned by the
        parent's document (a document's cuts need all its pairs)."""
        aligned = self.read(os.path.join(self.work.dir("star-pairs"), "aligned"), self.region_schema)
        if not aligned.limit(1).count():
            os.makedirs(os.path.join(out, "regions"))
            return {"aligned files": 0, "region pairs": 0}
        ends = ["a_shard", "a_ord", "a_start", "a_end", "b_shard", "b_ord", "b_start", "b_end"]
        aligned.repartition(self.partitions, "a_shard", "a_ord").sortWithinPartitions(*ends).write.parquet(
            os.path.join(out, "by_parent")
        )
        files = self.per_file("star-split", os.path.join(out, "by_parent"), os.path.join(out, "regions"), [], "aligned file")
        regions = self.read(os.path.join(out, "regions"), self.region_schema)
        return {"aligned files": files, "region pairs": regions.count()}

    def plan(self, out):
        """`neardup plan`: one process, here on the driver machine."""
        cdir = self.work.dir("clusters")
        plan = os.path.join(out, "out")
        run_tool(
            [
                self.args.neardup,
                "plan",
                self.manifest,
                "--sign",
                self.work.dir("sign"),
                "--doc-clusters",
                os.path.join(cdir, "members"),
                "--regions",
                os.path.join(self.work.dir("blocks"), "regions"),
                "--star",
                os.path.join(self.work.dir("star-split"), "regions"),
                "-o",
                plan,
                *self.flags,
            ],
            "neardup plan",
        )
        lines = 0
        with open(os.path.join(plan, "removed.jsonl"), "rb") as f:
            lines = sum(1 for _ in f)
        return {"removal log lines": lines}

    # -- apply and finish

    def apply(self, out):
        tool, manifest, flags, target = self.args.neardup, self.manifest, self.flags, self.args.output
        # locals, not self: the task is shipped to the executors without the driver
        how = ["--output-compression", self.args.output_compression]
        removed = os.path.join(self.work.dir("clusters"), "removed")
        plan = self.plan_dir()
        names = self.shard_files()
        todo = []
        for s in self.shard_list:
            # a shard that removes nothing has no partition folder
            folder = os.path.join(removed, f"part_shard={s}")
            os.makedirs(folder, exist_ok=True)
            if not (self.args.resume and self.applied(s)):
                todo.append((s, folder))

        def task(item):
            shard, folder = item
            t = time.time()
            what = ["--plan", plan] if plan else ["--clusters", folder]
            what += how
            run_tool(
                [executor_tool(tool), "apply", "--shard", str(shard), *what, manifest, "-o", target, *flags],
                f"neardup apply of shard {shard} ({names[shard]})",
            )
            write_atomic(os.path.join(out, f"shard-{shard}.done"), "%.2f\n" % (time.time() - t))
            return shard

        run_per_item(self.sc, todo, task)
        return {"shards run": len(todo)}

    def applied(self, shard):
        """Whether shard `shard` was applied and its part of the output is
        still there for `finish` (which removes the parts once done)."""
        done = os.path.join(self.work.dir("apply"), f"shard-{shard}.done")
        part = os.path.join(self.args.output, ".neardup-parts", f"files-{shard}.json")
        return os.path.exists(done) and os.path.exists(part)

    def plan_dir(self):
        """`neardup plan`'s output at the block level, else None."""
        return os.path.join(self.work.dir("plan"), "out") if self.blocks else None

    def finish(self, out):
        plan = self.plan_dir()
        run_tool(
            [self.args.neardup, "apply", "--finish", *(["--plan", plan] if plan else []), self.manifest]
            + ["-o", self.args.output, *self.flags],
            "neardup apply --finish",
        )
        lines = 0
        log = os.path.join(self.args.output, "removed.jsonl")
        if os.path.exists(log):
            with open(log, "rb") as f:
                lines = sum(1 for _ in f)
        return {"removal log lines": lines, "output bytes": du(self.args.output)}


def outside_runs(seeds, runs):
    """The seeds of the document pairs block-pairs chains (the shard module's
    definition, item 11): those of every pair but the ones whose every seed
    lies inside a run on both sides, a run spanning from SEED_W units before
    its first occurrence to SEED_K + SEED_W units past its last."""
    from pyspark.sql import functions as F

    spans = runs.groupBy("shard", "ord", "run").agg(
        (F.min("pos") - F.lit(SEED_W)).alias("start"), (F.max("pos") + F.lit(SEED_K + SEED_W)).alias("end")
    )
    pair = ["a_shard", "a_ord", "b_shard", "b_ord"]

    def covered(rows, side):
        s = spans.alias("s")
        on = (
            (F.col(side + "_shard") == F.col("s.shard"))
            & (F.col(side + "_ord") == F.col("s.ord"))
            & (F.col(side + "_pos") >= F.col("s.start"))
            & (F.col(side + "_pos") < F.col("s.end"))
        )
        return rows.join(s, on, "left_semi")

    inside = covered(covered(seeds, "a"), "b").groupBy(*pair).agg(F.count(F.lit(1)).alias("inside"))
    left = seeds.groupBy(*pair).agg(F.count(F.lit(1)).alias("all")).join(inside, pair).where(F.col("all") == F.col("inside"))
    return seeds.join(left.select(*pair), pair, "left_anti").select(*seeds.columns)


def star_parents(runs):
    """Each run's parents (the shard module's definition, item 11): each
    hash's first run, the least (shard, ord, run) holding it; a run's votes,
    its rows counted by their hash's first run (itself not counted); those
    with at least MIN_VOTES, most votes first, then the least run, at most
    MAX_PARENTS. Rows (c_shard, c_ord, c_run, p_shard, p_ord, p_run)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    first = runs.groupBy("hash").agg(F.min(F.struct("shard", "ord", "run")).alias("f"))
    not_own = (F.col("f.shard") != F.col("shard")) | (F.col("f.ord") != F.col("ord")) | (F.col("f.run") != F.col("run"))
    votes = (
        runs.join(first, "hash")
        .where(not_own)
        .groupBy(
            F.col("shard").alias("c_shard"),
            F.col("ord").alias("c_ord"),
            F.col("run").alias("c_run"),
            F.col("f.shard").alias("p_shard"),
            F.col("f.ord").alias("p_ord"),
            F.col("f.run").alias("p_run"),
        )
        .agg(F.count(F.lit(1)).alias("votes"))
        .where(F.col("votes") >= F.lit(MIN_VOTES))
    )
    most = Window.partitionBy("c_shard", "c_ord", "c_run").orderBy(F.desc("votes"), "p_shard", "p_ord", "p_run")
    return votes.select("*", F.row_number().over(most).alias("n")).where(F.col("n") <= F.lit(MAX_PARENTS)).drop("n", "votes")


def connected(edges):
    """Alternates large-star and small-star (Kiveris et al., "Connected
    components in MapReduce and beyond", 2014) until the edges are stars:
    then every node but the smallest of its component has one edge, to that
    smallest node. Each round is checkpointed (its lineage would grow
    otherwise). Gives the stars and the number of rounds."""
    rounds = 0
    while True:
        rounds += 1
        edges = small_star(large_star(edges)).checkpoint()
        if is_stars(edges):
            return edges, rounds


def is_stars(edges):
    """Whether no node has two edges out, or an edge out and one in."""
    from pyspark.sql import functions as F

    ends = edges.select(F.col("u").alias("n"), F.lit(1).alias("out"), F.lit(0).alias("into")).unionByName(
        edges.select(F.col("v").alias("n"), F.lit(0).alias("out"), F.lit(1).alias("into"))
    )
    per_node = ends.groupBy("n").agg(F.sum("out").alias("out"), F.sum("into").alias("into"))
    bad = per_node.where((F.col("out") > 1) | ((F.col("out") > 0) & (F.col("into") > 0)))
    return bad.limit(1).count() == 0


def large_star(edges):
    """Each node links its larger neighbours to the smallest of its
    neighbourhood (itself included). Edges (u, v) come out with u > v."""
    from pyspark.sql import functions as F

    both = edges.select("u", "v").unionByName(edges.select(F.col("v").alias("u"), F.col("u").alias("v")))
    low = both.groupBy("u").agg(F.min("v").alias("m"))
    return (
        both.join(low, "u")
        .where(F.col("v") > F.col("u"))
        .select(F.col("v").alias("u"), F.least("m", "u").alias("v"))
        .distinct()
    )


def small_star(edges):
    """Each node links itself and its smaller neighbours to the smallest of
    them. Edges (u, v) come out with u > v."""
    from pyspark.sql import functions as F

    down = edges.select(F.greatest("u", "v").alias("u"), F.least("u", "v").alias("v"))
    low = down.groupBy("u").agg(F.min("v").alias("m"))
    linked = down.join(low, "u").where(F.col("v") != F.col("m")).select(F.col("v").alias("u"), F.col("m").alias("v"))
    return linked.unionByName(low.select("u", F.col("m").alias("v"))).distinct()


def params(args, flags):
    """neardup's own check of the flags, the parameters' hash and the
    threshold: `neardup params --json clean`."""
    out = run_tool(
        [args.neardup, "params", "--json", "clean", *args.input, "-o", args.output, *flags]
        + ["--output-compression", args.output_compression],
        "neardup params (checking the flags)",
    )
    p = json.loads(out)
    # the driver's own knobs change the shards, so they are part of the hash
    q = p["params"]
    return f"{p['hash']}-{args.shard_bytes}", float(q["--threshold"]), q["--keep-by"] != "", int(q["--max-occurrences"])


def main(argv=None):
    args, flags = parse_args(sys.argv[1:] if argv is None else argv)
    # inputs stay as given (neardup records them so, and its stages read
    # them from the folder `shards` ran in); the rest must be absolute for
    # the executors
    args.work = os.path.abspath(args.work)
    args.output = os.path.abspath(args.output)
    args.neardup = os.path.abspath(args.neardup) if os.path.sep in args.neardup else args.neardup
    started = time.time()
    try:
        flags, level = checked_flags(flags)
        params_hash, threshold, keep_by, max_occurrences = params(args, flags)
        if not args.resume and os.path.isdir(args.output) and os.listdir(args.output):
            # as `neardup clean` without --force: files of another run would stay
            raise StageError(f"{args.output} is not empty: give a new or empty --output, or --resume")
        os.makedirs(args.work, exist_ok=True)
        if not args.resume:
            for s in STAGES:
                shutil.rmtree(os.path.join(args.work, s), ignore_errors=True)
        spark = session(args)
        try:
            driver = Driver(args, flags, spark, params_hash, threshold, keep_by, level, max_occurrences)
            driver.run()
            if os.environ.get("NEARDUP_SPARK_JOBS"):
                show_jobs(spark)
        finally:
            spark.stop()
    except StageError as e:
        print(f"neardup_spark: error: {failure_message(e)}", file=sys.stderr)
        return 1
    except Exception as e:  # a Spark job failed: the neardup message inside, if any
        msg = failure_message(e)
        print(f"neardup_spark: error: {msg}", file=sys.stderr)
        return 1
    print(f"neardup_spark: done in {time.time() - started:.1f} s: {args.output}", file=sys.stderr)
    return 0


def show_jobs(spark):
    """Each Spark job's wall time and call site (NEARDUP_SPARK_JOBS=1)."""
    store = spark.sparkContext._jsc.sc().statusStore()
    jobs = store.jobsList(None)
    for i in range(jobs.size()):
        j = jobs.apply(i)
        start, end = j.submissionTime(), j.completionTime()
        if start.isDefined() and end.isDefined():
            took = (end.get().getTime() - start.get().getTime()) / 1000
            print(f"job {j.jobId():4d} {took:6.2f} s  {j.name()}", file=sys.stderr)


def session(args):
    from pyspark.sql import SparkSession

    # executors run this interpreter's pyspark unless told otherwise
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    b = SparkSession.builder.appName("neardup")
    if args.master:
        b = b.master(args.master)
    b = (
        b.config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # part files exactly as partitioned (one pair file a partition)
        .config("spark.sql.adaptive.enabled", "false")
    )
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


if __name__ == "__main__":
    sys.exit(main())
