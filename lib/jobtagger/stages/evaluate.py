"""``jobtagger evaluate``: train and evaluate on any labelled corpus given as files, print the metrics.

``--train FILES --test FILES``, or ``--train FILES`` alone when the files carry a ``split`` column
(train/test; validation is carved from train). Files are JSONL, CSV or Parquet (``.gz`` for the
text formats) with an id, text fields and labels (a JSON/Parquet array, or ``|``-joined in CSV).
Nothing is written to the warehouse tables: this is how a user compares jobtagger with the tool
they use now, on their own data. ``--card FOLDER`` also writes the model card there.
``--baseline`` also fits the scikit-learn baseline of :mod:`jobtagger.baseline` on the same train
rows and prints its figures in a column beside the model's (scikit-learn is an optional extra).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from jobtagger.baseline import fit_and_evaluate_baseline, require_scikit_learn
from jobtagger.config import JobtaggerConfig
from jobtagger.errors import MissingInputError
from jobtagger.metrics import format_table
from jobtagger.model_card import write_model_card
from jobtagger.runlog import RunContext
from jobtagger.training import fit_and_evaluate

ID_COLUMNS = ("posting_id", "id")
DESCRIPTION_COLUMNS = ("description", "text", "body")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", nargs="+", required=True, metavar="FILE",
                        help="labelled files (.jsonl/.csv/.parquet, .gz allowed); with a 'split' column when --test is omitted")
    parser.add_argument("--test", nargs="+", metavar="FILE", help="labelled test files")
    parser.add_argument("--id-column", default=None, help="id column (default: posting_id or id)")
    parser.add_argument("--text-column", default=None, help="body text column (default: description, text or body)")
    parser.add_argument("--card", metavar="FOLDER", help="also write the model card into this folder")
    parser.add_argument("--show-labels", type=int, default=50, help="labels listed in the printed table")
    parser.add_argument("--baseline", action="store_true",
                        help="also fit the scikit-learn TF-IDF + logistic regression baseline on the same split "
                             "(needs the 'baseline' extra)")


def run(spark: SparkSession, config: JobtaggerConfig, context: RunContext, args: argparse.Namespace) -> dict[str, Any]:
    with_baseline = bool(getattr(args, "baseline", False))
    if with_baseline:
        require_scikit_learn()  # before any training
    with context.step("read") as info:
        train = read_labelled_files(spark, args.train, id_column=args.id_column, text_column=args.text_column)
        if args.test:
            test = read_labelled_files(spark, args.test, id_column=args.id_column, text_column=args.text_column)
            corpus = train.withColumn("split", F.lit("train")).unionByName(test.withColumn("split", F.lit("test")))
        elif "split" in train.columns:
            corpus = train
        else:
            raise MissingInputError("evaluate needs --test files or a 'split' column (train/test) in the --train files")
        info.update(files=len(args.train) + len(args.test or []))
    version = f"evaluate-{context.run_id}"
    outcome = fit_and_evaluate(spark, config, corpus, context, model_version=version)
    sklearn = None
    try:
        card_data = outcome.card
        if with_baseline:
            with context.step("sklearn_baseline") as info:
                # The same rows as the model: its test rows, and every other row of the corpus.
                train_rows = corpus.join(outcome.test_rows.select("posting_id"), "posting_id", "left_anti")
                sklearn = fit_and_evaluate_baseline(train_rows, outcome.test_rows, seed=config.training.split.seed)
                figures = sklearn.evaluation.headline
                info.update(micro_f1=round(figures.micro_f1, 4), macro_f1=round(figures.macro_f1, 4))
                card_data = dataclasses.replace(card_data, facts={
                    **card_data.facts,
                    "scikit-learn baseline micro-F1 / macro-F1": f"{figures.micro_f1:.3f} / {figures.macro_f1:.3f}",
                })
        beside = {"sklearn": sklearn.evaluation.headline} if sklearn else None
        print(format_table(outcome.evaluation, max_labels=args.show_labels, beside=beside))
        base = outcome.baseline.headline
        print(f"\nbaseline with one 0.5 threshold: micro_f1 {base.micro_f1:.4f}  macro_f1 {base.macro_f1:.4f}")
        if sklearn:
            print("sklearn: the scikit-learn baseline (TF-IDF + logistic regression) on the same split")
        selection = outcome.selection
        if selection:
            tried = ", ".join(
                f"{c.reg_param:g}: {c.micro_f1:.4f} / {c.macro_f1:.4f}" for c in selection.candidates
            )
            print(f"reg_param {selection.reg_param:g} chosen by {selection.held_out} micro / macro-F1 ({tried})")
        if outcome.feature_selection:
            print(outcome.feature_selection.summary())
        rules = ", ".join(f"{rule} {n}" for rule, n in sorted(outcome.thresholds.rule_counts().items()))
        print(f"threshold rules followed per label: {rules or 'none'}")
        per_posting = outcome.thresholds.labels_per_posting
        if per_posting:
            print("one global threshold for k labels per posting on validation: " + ", ".join(
                f"{k}: {t:.4f}" for k, t in sorted(per_posting.items())))
        card = str(write_model_card(Path(args.card), card_data)) if args.card else None
        context.counts.update(labels=len(outcome.labels), **{f"{k}_postings": v for k, v in outcome.split_counts.items()})
        return {
            "metrics": outcome.evaluation.headline.as_dict(),
            "baseline_metrics": base.as_dict(),
            **({"sklearn_baseline_metrics": sklearn.evaluation.headline.as_dict()} if sklearn else {}),
            **({"reg_param_selection": {
                "chosen": selection.reg_param,
                "candidates": [dataclasses.asdict(c) for c in selection.candidates],
            }} if selection else {}),
            **({"feature_selection": {
                "chosen": outcome.feature_selection.name,
                "candidates": [{"name": name, **dataclasses.asdict(c)} for name, c in outcome.feature_selection.best()],
            }} if outcome.feature_selection else {}),
            "threshold_fallbacks": outcome.thresholds.fallback_counts(),
            "threshold_rules": outcome.thresholds.rule_counts(),
            "thresholds_for_labels_per_posting": outcome.thresholds.labels_per_posting,
            "labels_below_support": outcome.label_space.below_support,
            "model_card": card,
        }
    finally:
        outcome.release()
        if sklearn:
            sklearn.release()


def read_labelled_files(
    spark: SparkSession, paths: list[str], *, id_column: str | None = None, text_column: str | None = None
) -> DataFrame:
    """Files of one format -> posting_id, title, description, labels (array<string>) [, split]."""
    formats = {_format_of(path) for path in paths}
    missing = [path for path in paths if not Path(path).exists()]
    if missing:
        raise MissingInputError(f"input file not found: {missing[0]}")
    if len(formats) != 1:
        raise MissingInputError(f"give files of one format per option, got {sorted(formats)}")
    fmt = formats.pop()
    if fmt == "json":
        raw = spark.read.json(paths)
    elif fmt == "csv":
        raw = spark.read.options(header=True, multiLine=True, escape='"').csv(paths)
    else:
        raw = spark.read.parquet(*paths)
    ids = _first_present(raw, (id_column,) if id_column else ID_COLUMNS, "id")
    text = _first_present(raw, (text_column,) if text_column else DESCRIPTION_COLUMNS, "text")
    if "labels" not in raw.columns:
        raise MissingInputError(f"no 'labels' column in {paths[0]}")
    labels = F.col("labels")
    if not isinstance(raw.schema["labels"].dataType, ArrayType):
        labels = F.filter(F.split(F.coalesce(labels.cast("string"), F.lit("")), r"\|"), lambda x: x != "")
    columns = [
        F.col(ids).cast("string").alias("posting_id"),
        (F.col("title").cast("string") if "title" in raw.columns else F.lit(None).cast(StringType())).alias("title"),
        F.col(text).cast("string").alias("description"),
        labels.cast("array<string>").alias("labels"),
    ]
    if "split" in raw.columns:
        columns.append(F.col("split").cast("string").alias("split"))
    return raw.select(*columns).where(F.col("posting_id").isNotNull() & F.col("labels").isNotNull())


def _format_of(path: str) -> str:
    name = path.lower().removesuffix(".gz")
    for suffix, fmt in ((".jsonl", "json"), (".json", "json"), (".csv", "csv"), (".parquet", "parquet")):
        if name.endswith(suffix):
            return fmt
    raise MissingInputError(f"cannot tell the format of {path}: use .jsonl, .csv or .parquet")


def _first_present(df: DataFrame, candidates: tuple[str, ...], what: str) -> str:
    for name in candidates:
        if name in df.columns:
            return name
    raise MissingInputError(f"no {what} column: looked for {', '.join(candidates)} in {', '.join(df.columns)}")
