"""SQL catalog registration: the warehouse's tables as ``<db>.<table>`` and the exploded gold view.

What analysts' SQL needs in a session: the tag stage registers gold after publishing it, ``jobtagger
sql`` and the demo register the whole warehouse before running a query.
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from jobtagger.tables.base import TableStore
from jobtagger.tables.schemas import GOLD_POSTING_TAG_VIEW, GOLD_POSTING_TAGS


def register_gold(spark: SparkSession, store: TableStore) -> list[str]:
    """``<db>.gold_posting_tags`` and the exploded view ``<db>.gold_posting_tag`` over it."""
    table = store.register(GOLD_POSTING_TAGS)
    return [table, _register_posting_tag_view(spark, store, table)]


def register_catalog(spark: SparkSession, store: TableStore) -> list[str]:
    """Every table of the warehouse as ``<db>.<table>``, and the gold view once gold exists: what
    a fresh session needs before analysts' SQL runs."""
    registered = store.register_all()
    gold = f"{store.database}.{GOLD_POSTING_TAGS}"
    return registered + ([_register_posting_tag_view(spark, store, gold)] if gold in registered else [])


def _register_posting_tag_view(spark: SparkSession, store: TableStore, gold_table: str) -> str:
    view = f"{store.database}.{GOLD_POSTING_TAG_VIEW}"
    spark.sql(f"CREATE OR REPLACE VIEW {view} AS {posting_tag_view_sql(gold_table)}")
    return view


def posting_tag_view_sql(gold_table: str) -> str:
    """Spark SQL of the exploded view: one row per (posting, assigned tag) with its score."""
    return (
        f"SELECT posting_id, tag, score, run_date, model_version FROM {gold_table} "
        "LATERAL VIEW explode(tag_scores) assigned AS tag, score"
    )


def posting_tag_datafusion_sql(gold_table: str) -> str:
    """The same rows for deltalake's ``QueryBuilder`` (DataFusion), which has no LATERAL VIEW."""
    return (
        "SELECT posting_id, entry['key'] AS tag, entry['value'] AS score, run_date, model_version FROM "
        f"(SELECT posting_id, run_date, model_version, unnest(map_entries(tag_scores)) AS entry FROM {gold_table})"
    )
