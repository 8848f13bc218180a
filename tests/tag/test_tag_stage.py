"""The tag stage on real Delta tables: publish, rerun, backfill, and a gate that blocks publishing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobtagger.errors import DataQualityError, MissingInputError
from jobtagger.runlog import RunContext
from jobtagger.stages.tag import tag_postings
from jobtagger.tables import open_table_store
from jobtagger.tables.schemas import BRONZE_POSTINGS, GOLD_POSTING_TAGS

from tiny_world import DAY_1, DAY_2, LABELS, bronze_rows


@pytest.fixture
def config(make_config):
    return make_config()


@pytest.fixture
def store(spark, config):
    store = open_table_store(spark, config.storage)
    bronze = bronze_rows(spark, DAY_1, 12, prefix="a").unionByName(bronze_rows(spark, DAY_2, 9, prefix="b"))
    store.write(bronze, BRONZE_POSTINGS, mode="append", partition_by=["run_date"])
    return store


def tag(spark, config, store, model, day, *, model_version="m1", mode="daily", trained_through=None):
    run = RunContext(job="tag", run_date=day)
    summary = tag_postings(spark, config, run, store=store, model=model, model_version=model_version, mode=mode,
                           trained_through=trained_through)
    return run, {**run.details, **summary}


def by_date(store):
    rows = store.read(GOLD_POSTING_TAGS).groupBy("run_date", "run_id", "model_version").count().collect()
    return {(row.run_date, row.run_id, row.model_version): row["count"] for row in rows}


def test_daily_run_publishes_one_row_per_posting_and_the_view(spark, config, store, tiny_model):
    run, summary = tag(spark, config, store, tiny_model, DAY_1)

    gold = store.read(GOLD_POSTING_TAGS)
    assert gold.count() == 12
    assert gold.select("posting_id").distinct().count() == 12
    assert {row.run_date for row in gold.select("run_date").distinct().collect()} == {DAY_1}
    assert gold.where(F.size("tags") == 0).count() == 0
    python_rows = gold.where(F.array_contains("tags", "skill:python")).collect()
    assert python_rows and all("category:data" in row.tags for row in python_rows)
    java = gold.where("posting_id = 'a001'").first()
    assert "skill:java" in java.tags and "skill:python" not in java.tags
    assert set(java.candidate_scores) <= set(LABELS) and len(java.candidate_scores) == config.tagging.top_candidates
    assert summary["committed"] and summary["model_version"] == "m1"
    score = next(step for step in run.steps if step["step"] == "score")
    assert score["scorer"] == "fused" and score["fallback_reason"] is None

    exploded = spark.sql("SELECT * FROM jobtagger.gold_posting_tag")
    assert exploded.count() == gold.select(F.explode("tags")).count()
    commit = store.history(GOLD_POSTING_TAGS, limit=1)[0]
    assert json.dumps(commit, default=str).count(run.run_id) >= 1
    assert commit["jobtagger.rows"] == "12" and score["rows"] == 12 and run.counts["tagged"] == 12
    assert [report["suite"] for report in summary["quality"]] == ["gold_posting_tags", "gold_tags"]  # no earlier run
    saved = json.loads(open(summary["quality"][0]["results"]).read())
    assert saved["success"] is True


@pytest.mark.slow  # a second train or tag run
def test_rerun_replaces_exactly_that_date(spark, config, store, tiny_model):
    first, _ = tag(spark, config, store, tiny_model, DAY_1)
    second, _ = tag(spark, config, store, tiny_model, DAY_2)
    rerun, _ = tag(spark, config, store, tiny_model, DAY_1)

    assert by_date(store) == {(DAY_1, rerun.run_id, "m1"): 12, (DAY_2, second.run_id, "m1"): 9}


@pytest.mark.slow  # a second train or tag run
def test_backfill_retags_everything_with_the_new_model_and_records_it(spark, config, store, tiny_model):
    tag(spark, config, store, tiny_model, DAY_1)
    tag(spark, config, store, tiny_model, DAY_2)
    backfill, summary = tag(spark, config, store, tiny_model, DAY_2, model_version="m2", mode="backfill")

    assert by_date(store) == {(DAY_1, backfill.run_id, "m2"): 12, (DAY_2, backfill.run_id, "m2"): 9}
    assert summary["mode"] == "backfill" and summary["model_version"] == "m2"
    commit = json.dumps(store.history(GOLD_POSTING_TAGS, limit=1)[0], default=str)
    assert '"jobtagger.tag.mode": "backfill"' in commit and '"jobtagger.model_version": "m2"' in commit


@pytest.mark.slow  # a tag run per failure; tests/quality covers each gate check
def test_duplicate_postings_fail_the_gate_and_publish_nothing(spark, config, store, tiny_model):
    tag(spark, config, store, tiny_model, DAY_1)
    before = store.version(GOLD_POSTING_TAGS)
    day_3 = dt.date(2026, 11, 3)
    store.write(bronze_rows(spark, day_3, 5, prefix="c", duplicate_first=True), BRONZE_POSTINGS, mode="append")
    gold_files = set(Path(store.path(GOLD_POSTING_TAGS)).rglob("*.parquet"))

    with pytest.raises(DataQualityError, match=r"expect_column_values_to_be_between\(duplicate_ids\): 1 unexpected \[duplicate_ids=1\]") as failure:
        tag(spark, config, store, tiny_model, day_3)

    assert "\n" not in str(failure.value)
    assert store.version(GOLD_POSTING_TAGS) == before
    assert set(Path(store.path(GOLD_POSTING_TAGS)).rglob("*.parquet")) == gold_files  # staged files deleted
    assert store.read(GOLD_POSTING_TAGS).where(F.col("run_date") == day_3).count() == 0
    kept = list((config.storage.warehouse / config.quality.results_dir / "tag" / day_3.isoformat()).glob("gold_posting_tags.*.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["success"] is False


def test_a_date_without_postings_fails_and_leaves_gold_as_it_was(spark, config, store, tiny_model):
    tag(spark, config, store, tiny_model, DAY_1)
    before, files = store.version(GOLD_POSTING_TAGS), set(Path(store.path(GOLD_POSTING_TAGS)).rglob("*.parquet"))

    with pytest.raises(MissingInputError, match="no postings to tag in bronze for run date 2026-11-09"):
        tag(spark, config, store, tiny_model, dt.date(2026, 11, 9))

    assert store.version(GOLD_POSTING_TAGS) == before
    assert set(Path(store.path(GOLD_POSTING_TAGS)).rglob("*.parquet")) == files


@pytest.mark.slow  # a tag run per failure; tests/quality covers each gate check
def test_tag_share_drift_fails_the_gate(spark, make_config, store, tiny_model):
    strict = make_config("tagging.drift_bound=0.0", "tagging.drift_min_share=0.0", "tagging.drift_min_z=0")
    tag(spark, strict, store, tiny_model, DAY_1)
    day_3 = dt.date(2026, 11, 3)
    only_java = bronze_rows(spark, day_3, 6, prefix="c").where("title LIKE 'java%'")
    store.write(only_java, BRONZE_POSTINGS, mode="append")

    with pytest.raises(DataQualityError, match="tag share drift above 0.0"):
        tag(spark, strict, store, tiny_model, day_3)
    assert store.read(GOLD_POSTING_TAGS).where(F.col("run_date") == day_3).count() == 0


def test_a_posting_sent_again_on_a_later_date_is_in_gold_once_under_that_date(spark, config, store, tiny_model):
    tag(spark, config, store, tiny_model, DAY_1)
    before = store.version(GOLD_POSTING_TAGS)
    # ingest of DAY_2 receives a001 and a004 again: bronze moves them (one row per posting_id)
    reposted = bronze_rows(spark, DAY_2, 6, prefix="a").where("posting_id IN ('a001', 'a004')")
    store.merge(reposted, BRONZE_POSTINGS, keys=["posting_id"])

    _, summary = tag(spark, config, store, tiny_model, DAY_2)

    gold = store.read(GOLD_POSTING_TAGS)
    assert gold.count() == gold.select("posting_id").distinct().count() == 12 + 9
    moved = {row.posting_id: row.run_date for row in gold.where("posting_id IN ('a001', 'a004')").collect()}
    assert moved == {"a001": DAY_2, "a004": DAY_2}
    assert gold.where(F.col("run_date") == DAY_1).count() == 10
    assert summary["gold_version"] == before + 1  # one commit: the partition and the moved rows
    assert store.read(GOLD_POSTING_TAGS, version=before).where("posting_id = 'a001'").first().run_date == DAY_1

    tag(spark, config, store, tiny_model, DAY_2)  # a rerun keeps it so
    gold = store.read(GOLD_POSTING_TAGS)
    assert gold.count() == gold.select("posting_id").distinct().count() == 21


@pytest.mark.slow  # a second train or tag run
def test_the_training_day_is_no_drift_baseline_but_the_next_day_is(spark, make_config, store, tiny_model):
    strict = make_config("tagging.drift_bound=0.0", "tagging.drift_min_share=0.0", "tagging.drift_min_z=0")
    tag(spark, strict, store, tiny_model, DAY_1, trained_through=DAY_1)

    run, _ = tag(spark, strict, store, tiny_model, DAY_2, trained_through=DAY_1)  # DAY_1 is training data
    assert next(step for step in run.steps if step["step"] == "quality")["drift_checked"] is False

    day_3 = dt.date(2026, 11, 3)
    store.write(bronze_rows(spark, day_3, 6, prefix="c").where("title LIKE 'java%'"), BRONZE_POSTINGS, mode="append")
    with pytest.raises(DataQualityError, match="tag share drift above 0.0"):
        tag(spark, strict, store, tiny_model, day_3, trained_through=DAY_1)  # compared with DAY_2
    # a new model has no baseline yet (its promotion gate judged its shift)
    assert tag(spark, strict, store, tiny_model, day_3, model_version="m2", trained_through=DAY_1)[1]["committed"]
