"""Label space, multi-hot targets and deterministic train/validation/test splits (pure logic).

- :func:`build_label_space`: labels seen in the training data with at least ``min_support``
  postings, the ``max_labels`` most frequent kept. Nothing disappears silently: labels below the
  support, beyond the cap or outside the taxonomy are listed in the :class:`LabelSpaceReport`.
- :func:`assign_split`: a ``split`` column (train/validation/test). Postings are grouped by their
  rarest in-space label and ranked inside the group by a hash of ``posting_id``; the first three of
  each group go to train, validation and test (so a label with >= 3 postings has an example in
  every split where its postings allow), the rest by their rank's quantile. Same data, same seed,
  same split. When the corpus brings its own ``split`` (train/test, e.g. Reuters ModApte) the test
  rows are kept and validation is carved from train the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobtagger.config import SplitConfig

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class LabelSpaceReport:
    """The labels kept (most frequent first) and every label left out, with its support."""

    labels: list[str]
    support: dict[str, int]
    below_support: dict[str, int] = field(default_factory=dict)
    beyond_max_labels: dict[str, int] = field(default_factory=dict)
    not_in_taxonomy: dict[str, int] = field(default_factory=dict)
    missing_from_data: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "labels": len(self.labels),
            "below_support": self.below_support,
            "beyond_max_labels": self.beyond_max_labels,
            "not_in_taxonomy": self.not_in_taxonomy,
            "missing_from_data": self.missing_from_data,
        }


def label_support(df: DataFrame, *, labels_col: str = "labels") -> dict[str, int]:
    """Postings per label (a label repeated in one posting counts once); K rows reach the driver."""
    rows = (
        df.select(F.explode(F.array_distinct(F.col(labels_col))).alias("label"))
        .groupBy("label")
        .count()
        .collect()
    )
    return {row["label"]: int(row["count"]) for row in rows if row["label"] is not None}


def build_label_space(
    df: DataFrame,
    *,
    min_support: int,
    max_labels: int,
    labels_col: str = "labels",
    taxonomy_labels: Iterable[str] | None = None,
) -> LabelSpaceReport:
    support = label_support(df, labels_col=labels_col)
    known = set(taxonomy_labels) if taxonomy_labels is not None else None
    not_in_taxonomy = {k: v for k, v in support.items() if known is not None and k not in known}
    candidates = {k: v for k, v in support.items() if k not in not_in_taxonomy}
    below = {k: v for k, v in candidates.items() if v < min_support}
    ranked = sorted(
        ((k, v) for k, v in candidates.items() if v >= min_support), key=lambda kv: (-kv[1], kv[0])
    )
    kept, beyond = ranked[:max_labels], dict(ranked[max_labels:])
    missing = sorted(known - set(support)) if known is not None else []
    return LabelSpaceReport(
        labels=[k for k, _ in kept],
        support=dict(kept),
        below_support=dict(sorted(below.items())),
        beyond_max_labels=beyond,
        not_in_taxonomy=dict(sorted(not_in_taxonomy.items())),
        missing_from_data=missing,
    )


def multi_hot(
    df: DataFrame, labels: list[str], *, labels_col: str = "labels", output_col: str = "targets"
) -> DataFrame:
    """``output_col``: array<int> of 0/1 aligned with ``labels``."""
    space = F.array(*[F.lit(label) for label in labels])
    return df.withColumn(
        output_col,
        F.transform(
            space,
            lambda label: F.when(F.array_contains(F.coalesce(F.col(labels_col), F.array()), label), 1).otherwise(0),
        ),
    )


def assign_split(
    df: DataFrame,
    report: LabelSpaceReport,
    split_config: SplitConfig,
    *,
    id_col: str = "posting_id",
    labels_col: str = "labels",
) -> DataFrame:
    """Add (or complete) the ``split`` column; see the module docstring for the rule.

    Rows whose own ``split`` is null are split three ways; own ``train`` rows are carved into train
    and validation; any other own split (``test``) is kept as it is.
    """
    rank = _rarest_label_rank(df, report, split_config.seed, id_col=id_col, labels_col=labels_col)
    if "split" not in df.columns:
        df = df.withColumn("split", F.lit(None).cast("string"))
    own = F.col("split")
    three_way = rank(df.where(own.isNull())).withColumn(
        "split", _by_rank(split_config.validation, split_config.test, first=SPLITS)
    )
    carved = rank(df.where(own == "train")).withColumn(
        "split", _by_rank(split_config.validation / (1.0 - split_config.test), 0.0, first=("train", "validation"))
    )
    return (
        three_way.unionByName(carved)
        .drop("_group_size", "_rank")
        .unionByName(df.where(own.isNotNull() & (own != "train")))
    )


def assign_folds(
    df: DataFrame,
    report: LabelSpaceReport,
    folds: int,
    *,
    seed: int,
    id_col: str = "posting_id",
    labels_col: str = "labels",
    fold_col: str = "fold",
) -> DataFrame:
    """Add ``fold_col`` (0..folds-1), stratified like :func:`assign_split`.

    Postings grouped by their rarest label are dealt round robin in hash order, so a label with
    at least ``folds`` postings has a posting in every fold, and one with fewer has them in
    different folds (each is then held out once with the others still in training).
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    rank = _rarest_label_rank(df, report, seed, id_col=id_col, labels_col=labels_col)
    return rank(df).withColumn(fold_col, (F.col("_rank") % folds).cast("int")).drop("_group_size", "_rank")


def _rarest_label_rank(df, report, seed, *, id_col, labels_col):
    support = F.create_map(*[item for k, v in report.support.items() for item in (F.lit(k), F.lit(v))]) \
        if report.support else F.create_map().cast("map<string,int>")

    def rank(frame: DataFrame) -> DataFrame:
        in_space = F.filter(F.coalesce(F.col(labels_col), F.array()), lambda x: support[x].isNotNull())
        keyed = F.transform(in_space, lambda x: F.struct(support[x].alias("n"), x.alias("label")))
        group = F.coalesce(F.array_min(keyed)["label"], F.lit(""))
        by_hash = Window.partitionBy("_group").orderBy(F.xxhash64(F.col(id_col).cast("string"), F.lit(seed)), id_col)
        return (
            frame.withColumn("_group", group)
            .withColumn("_rank", F.row_number().over(by_hash) - 1)
            .withColumn("_group_size", F.count(F.lit(1)).over(Window.partitionBy("_group")))
            .drop("_group")
        )

    return rank


def _by_rank(validation: float, test: float, *, first: tuple[str, ...]):
    """First ranks seed each split in turn; later ranks by their quantile within the group."""
    quantile = (F.col("_rank") + 0.5) / F.col("_group_size")
    rule = F.when(quantile < test, "test") if test > 0 else None
    rule = (rule.when(quantile < test + validation, "validation") if rule is not None
            else F.when(quantile < validation, "validation"))
    rule = rule.otherwise("train")
    seeded = None
    for position, name in enumerate(first):
        seeded = (F.when(F.col("_rank") == position, name) if seeded is None
                  else seeded.when(F.col("_rank") == position, name))
    return seeded.otherwise(rule)
