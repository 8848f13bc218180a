"""Tag-share drift: how the share of postings carrying each tag moved between two tag runs.

The gold gate (:mod:`jobtagger.quality.gold`) bounds it; the tag stage computes the previous run's
shares with :func:`tag_shares`. ``DataFrame -> DataFrame``, nothing here reads or writes a table.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

TAG_SHARE_COLUMNS = ("tag", "postings", "share")


def tag_shares(gold: DataFrame) -> DataFrame:
    """Share of postings carrying each tag: ``tag, postings, share`` (K rows, small)."""
    total = gold.agg(F.count(F.lit(1)).alias("total"))
    counts = gold.select(F.explode("tags").alias("tag")).groupBy("tag").agg(
        F.count(F.lit(1)).alias("postings")
    )
    return counts.crossJoin(total).select(
        "tag", "postings", (F.col("postings") / F.col("total")).alias("share")
    )


def tag_share_drift(current: DataFrame, previous: DataFrame, *, min_share: float, min_z: float = 0.0) -> DataFrame:
    """Compare two :func:`tag_shares` frames tag by tag.

    ``drift = |share - previous_share| / max(share, previous_share)``: 0 when unchanged, 1 when a
    tag appears or vanishes (the effect size the gate bounds). ``z`` is the two-proportion
    z-statistic of the change, ``|p1 - p2| / sqrt(p (1 - p) (1/n1 + 1/n2))`` with the pooled share
    ``p`` and each run's posting count ``n`` (``postings / share`` of its tags): how unlikely the
    change is as sampling noise at these sample sizes. A tag is exempt (``drift`` null) when it is
    under ``min_share`` in both runs or when ``z < min_z``: on a small run a rare tag's share moves
    a lot from one clean day to the next by chance alone, on a large run the same move is real.
    """
    whole = Window.partitionBy()
    share = F.coalesce(F.col("cur.share"), F.lit(0.0))
    previous_share = F.coalesce(F.col("prev.share"), F.lit(0.0))
    joined = current.alias("cur").join(previous.alias("prev"), on="tag", how="full_outer").select(
        "tag",
        share.alias("share"),
        previous_share.alias("previous_share"),
        F.max(F.col("cur.postings") / F.col("cur.share")).over(whole).alias("_n1"),
        F.max(F.col("prev.postings") / F.col("prev.share")).over(whole).alias("_n2"),
    )
    n1, n2 = F.coalesce("_n1", F.lit(0.0)), F.coalesce("_n2", F.lit(0.0))
    pooled = (F.col("share") * n1 + F.col("previous_share") * n2) / (n1 + n2)
    error = F.sqrt(pooled * (F.lit(1.0) - pooled) * (F.lit(1.0) / n1 + F.lit(1.0) / n2))
    difference = F.abs(F.col("share") - F.col("previous_share"))
    z = (F.when(difference == 0, F.lit(0.0)).when((n1 == 0) | (n2 == 0) | (error == 0), F.lit(float("inf")))
         .otherwise(difference / error))
    drift = difference / F.greatest("share", "previous_share")
    exempt = ((F.col("share") < min_share) & (F.col("previous_share") < min_share)) | (F.col("z") < min_z)
    return joined.withColumn("z", z).select(
        "tag", "share", "previous_share", "z",
        F.when(exempt, F.lit(None).cast("double")).otherwise(drift).alias("drift"),
    )
