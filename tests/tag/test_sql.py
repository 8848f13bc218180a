"""The example queries of the README, run through Spark SQL and deltalake's QueryBuilder on a
small known gold table; both engines must give the documented answers."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, QueryBuilder

from jobtagger.config import load_config
from jobtagger.tables.catalog import posting_tag_datafusion_sql, register_catalog
from jobtagger.tables import open_table_store
from jobtagger.tables.schemas import GOLD_POSTING_TAGS
from jobtagger.gold_rows import to_gold_rows

DOC = Path(__file__).resolve().parents[2] / "README.md"
MON, WED, NEXT_MON = dt.date(2026, 11, 2), dt.date(2026, 11, 4), dt.date(2026, 11, 9)
POSTINGS = {  # posting_id: (run_date, tags)
    "p1": (MON, ["category:data", "skill:python", "skill:sql"]),
    "p2": (MON, ["category:data", "skill:sql"]),
    "p3": (WED, ["category:software_engineering", "skill:java", "skill:python"]),
    "p4": (NEXT_MON, ["category:data", "skill:python"]),
    "p5": (NEXT_MON, ["category:software_engineering", "skill:java"]),
}
EXPECTED = {
    "postings_per_tag_per_week": [
        (MON, "category:data", 2), (MON, "skill:python", 2), (MON, "skill:sql", 2),
        (MON, "category:software_engineering", 1), (MON, "skill:java", 1),
        (NEXT_MON, "category:data", 1), (NEXT_MON, "category:software_engineering", 1),
        (NEXT_MON, "skill:java", 1), (NEXT_MON, "skill:python", 1),
    ],
    "top_skills_in_category": [("skill:python", 2), ("skill:sql", 2)],
    "postings_with_two_tags": [("p1", MON, pytest.approx(0.8))],
}


def documented_queries() -> dict[str, str]:
    blocks = re.findall(r"```sql\n-- name: (\w+)\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return {name: body.strip() for name, body in blocks}


@pytest.fixture(scope="module")
def gold_table(spark, tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("sql") / "warehouse"
    config = load_config(DOC.parent / "conf" / "local.yaml", overrides=[f"storage.warehouse={warehouse}"])
    store = open_table_store(spark, config.storage)
    decided = spark.createDataFrame(
        [(pid, day, tags, {tag: 0.8 for tag in tags}, {tag: 0.8 for tag in tags}) for pid, (day, tags) in POSTINGS.items()],
        "posting_id string, run_date date, tags array<string>, tag_scores map<string,double>, "
        "candidate_scores map<string,double>",
    )
    gold = to_gold_rows(decided, model_version="m1", run_id="r1", tagged_at=dt.datetime(2026, 11, 10))
    store.write(gold, GOLD_POSTING_TAGS, mode="append", partition_by=["run_date"])
    assert register_catalog(spark, store) == ["jobtagger.gold_posting_tags", "jobtagger.gold_posting_tag"]
    return store.path(GOLD_POSTING_TAGS)


def test_the_page_documents_the_three_queries():
    assert set(documented_queries()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spark_sql_answers(spark, gold_table, name):
    rows = [tuple(row) for row in spark.sql(documented_queries()[name]).collect()]
    assert rows == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_datafusion_answers(gold_table, name):
    query = documented_queries()[name].replace("jobtagger.", "")
    view = f"WITH gold_posting_tag AS ({posting_tag_datafusion_sql('gold_posting_tags')}) "
    builder = QueryBuilder().register("gold_posting_tags", DeltaTable(gold_table))
    rows = [tuple(row.values()) for row in pa.table(builder.execute(view + query)).to_pylist()]
    assert rows == EXPECTED[name]
