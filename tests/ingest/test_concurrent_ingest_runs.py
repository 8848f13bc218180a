"""Two ``jobtagger ingest`` processes of one date started together (issue 18, item 1): bronze
never holds a posting twice; each run exits 0, or 6 with one line when the other won the commit."""

from __future__ import annotations

from collections import Counter

import pytest

from jobtagger.config import StorageConfig
from jobtagger.session import JvmCapabilities
from jobtagger.tables import open_table_store
from jobtagger.tables.schemas import BRONZE_POSTINGS
from testkit import REPO_ROOT, assert_won_or_lost_loudly, start_together

from ingest_support import good_posting, write_jsonl

pytestmark = pytest.mark.reliability
RUN_DATE = "2026-11-03"


def test_two_ingest_runs_of_one_date_at_once_never_duplicate_bronze(spark, tmp_path):
    records = [good_posting(f"p{index:04d}") for index in range(300)]
    write_jsonl(tmp_path / "landing" / RUN_DATE, "postings.jsonl", records)

    results = start_together("ingest", RUN_DATE, tmp_path, f"paths.landing={tmp_path / 'landing'}",
                             f"paths.taxonomy={REPO_ROOT / 'conf' / 'taxonomy'}")

    assert_won_or_lost_loudly(results, "ingest")
    store = open_table_store(spark, StorageConfig(warehouse=tmp_path / "warehouse"),
                             capabilities=JvmCapabilities(delta_spark=False, spark_nlp=False))
    ids = Counter(row.posting_id for row in store.read(BRONZE_POSTINGS).select("posting_id").collect())
    assert len(ids) == 300 and set(ids.values()) == {1}
