"""End to end through the CLI runner: the real train stage registers a model, the tag stage uses
it; a gate failure exits non-zero with one line and publishes nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from jobtagger.cli import build_parser, run_stage
from jobtagger.errors import DataQualityError
from jobtagger.tables import open_table_store
from jobtagger.tables.schemas import BRONZE_POSTINGS, GOLD_POSTING_TAGS
from tiny_world import DAY_1, bronze_rows


def stage(spark, config, name, day, *extra):
    args = build_parser([name]).parse_args([name, "--run-date", day.isoformat(), *extra])
    return run_stage(name, config, args, spark=spark)


@pytest.mark.slow  # trains a real model: minutes on a shared 2-core machine
def test_train_then_tag_then_a_failing_gate(spark, make_config, capsys):
    config = make_config("training.min_support=2", "features.min_doc_freq=1", "tagging.drift_min_share=0.0")
    store = open_table_store(spark, config.storage)
    store.write(bronze_rows(spark, DAY_1, 60, prefix="a"), BRONZE_POSTINGS, mode="append", partition_by=["run_date"])

    assert stage(spark, config, "train", DAY_1) == 0
    assert stage(spark, config, "tag", DAY_1) == 0
    gold = store.read(GOLD_POSTING_TAGS)
    assert gold.count() == 60
    model_versions = {row.model_version for row in gold.select("model_version").distinct().collect()}
    assert len(model_versions) == 1 and model_versions.pop().startswith("m20261101-")

    # day 2 is the first day after the training day: published without a drift baseline
    day_2, day_3 = dt.date(2026, 11, 2), dt.date(2026, 11, 3)
    store.write(bronze_rows(spark, day_2, 30, prefix="b"), BRONZE_POSTINGS, mode="append")
    strict = config.with_overrides(["tagging.drift_bound=0.05", "tagging.drift_min_z=0"])
    assert stage(spark, strict, "tag", day_2) == 0
    store.write(bronze_rows(spark, day_3, 30, prefix="c").where("title LIKE 'java%'"), BRONZE_POSTINGS, mode="append")
    published = store.version(GOLD_POSTING_TAGS)
    capsys.readouterr()

    assert stage(spark, strict, "tag", day_3) == DataQualityError.exit_code  # compared with day 2
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1 and message[0].startswith("jobtagger tag: gold data-quality gate failed")
    assert "tag share drift above 0.05" in message[0]
    assert store.version(GOLD_POSTING_TAGS) == published
    summaries = list((config.storage.warehouse / "_runs" / "tag" / day_3.isoformat()).glob("*.json"))
    assert [json.loads(path.read_text())["status"] for path in summaries] == ["failed"]

    # day 3 never reached gold, so the backfill (100 postings) is compared with 90: allow more drift
    relaxed = config.with_overrides(["tagging.drift_bound=0.5"])
    assert stage(spark, relaxed, "tag", day_3, "--backfill") == 0
    assert store.read(GOLD_POSTING_TAGS).count() == 100
