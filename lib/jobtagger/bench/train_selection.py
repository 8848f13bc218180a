"""Cost of choosing reg_param by validation: the train stage's core with and without it.

``jobtagger bench train_selection --conf conf/local.yaml --rows 100000 [--option k=100]
[--option grid=[3e-6,1e-6]]``

Generated labelled postings (the K most frequent labels, ``training.max_labels``) are written to
Parquet once under ``--out`` (not timed); then :func:`jobtagger.training.fit_and_evaluate`
(features, classifier, thresholds, test evaluation, model card data) runs on them twice in one
session: ``training.reg_grid=[]`` (one fit at ``reg_param``), then with the grid. Target (issue
17): the run with selection takes at most twice as long as the run without.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobtagger.bench import options
from jobtagger.bench.common import POSTED_DATE, labelled_generate_overrides
from jobtagger.config import JobtaggerConfig
from jobtagger.runlog import RunContext
from jobtagger.training import MODEL_INPUT_COLUMNS, fit_and_evaluate
from jobtagger.synthetic import generate_postings
from jobtagger.taxonomy import load_taxonomy

DEFAULT_ROWS = 100_000


def run(spark: SparkSession, config: JobtaggerConfig, args: argparse.Namespace) -> dict:
    opts = options(args)
    k = int(opts.get("k", 100))
    base = config.with_overrides([*labelled_generate_overrides(labels=k), f"training.max_labels={k}"])
    grid = opts.get("grid", str(base.training.reg_grid or [3e-6, 1e-6]))
    postings = generate_postings(
        spark, base.generate, load_taxonomy(base.paths.taxonomy), first_id=0, end_id=args.rows or DEFAULT_ROWS,
        posted_date=POSTED_DATE, num_partitions=spark.sparkContext.defaultParallelism,
    ).filter(~F.col("bad_record") & F.col("labels").isNotNull())
    path = str(Path(args.out) / "postings.parquet")
    columns = [c for c in MODEL_INPUT_COLUMNS if c in postings.columns]
    postings.select(*columns).withColumn("split", F.lit(None).cast("string")).write.mode("overwrite").parquet(path)
    data = spark.read.parquet(path)
    result: dict = {"rows": data.count()}
    for name, reg_grid in (("without_selection", "[]"), ("with_selection", grid)):
        run_config = base.with_overrides([f"training.reg_grid={reg_grid}"])
        started = time.perf_counter()
        outcome = fit_and_evaluate(spark, run_config, data, RunContext(job="train", run_date=dt.date(2026, 11, 1)),
                                   model_version=name)
        seconds = time.perf_counter() - started
        headline = outcome.evaluation.headline
        result[name] = {
            "stage_seconds": round(seconds, 1), "training_seconds": round(outcome.training_seconds, 1),
            "labels": len(outcome.labels), "split": outcome.split_counts,
            "micro_f1": round(headline.micro_f1, 4), "macro_f1": round(headline.macro_f1, 4),
            "reg_grid": run_config.training.reg_grid,
            "selection": outcome.selection.metrics() if outcome.selection else None,
        }
        outcome.release()
    result["stage_ratio"] = round(result["with_selection"]["stage_seconds"] / result["without_selection"]["stage_seconds"], 2)
    return result
