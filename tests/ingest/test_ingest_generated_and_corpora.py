"""Ingest of generator output (every injected bad-record kind) and of the two shared corpora."""

from __future__ import annotations

import pytest

import argparse
import datetime as dt
import json
from pathlib import Path

from testkit import shared_data
from ingest_support import REPO_ROOT
from jobtagger.config import load_config
from jobtagger.runlog import RunContext
from jobtagger.stages import generate
from jobtagger.stages.ingest import ingest_folder, landing_folder
from jobtagger.tables import open_table_store
from jobtagger.tables.schemas import BRONZE_POSTINGS, QUARANTINE_POSTINGS

DAY = dt.date(2026, 11, 1)
KIND_TO_REASON = {
    "malformed": "malformed",
    "missing_id": "missing_id",
    "empty_text": "empty_text",
    "wrong_type": "wrong_type",
    "huge_text": "huge_text",
    "invalid_utf8": "invalid_utf8",
    "bad_date": "bad_date",
}


def run_ingest(spark, config, folder: Path, day: dt.date = DAY) -> RunContext:
    run = RunContext(job="ingest", run_date=day)
    ingest_folder(spark, config, run, folder=folder, store=open_table_store(spark, config.storage))
    return run


@pytest.mark.slow  # generate + ingest with gzip; the reliability fuzz covers every kind
def test_generated_landing_every_injected_kind_is_accounted_for(spark, make_config):
    config = make_config(
        "generate.rows=400", "generate.bad_records.rate=0.08", "generate.files_per_format=1",
        "generate.compression=gzip", "ingest.max_text_chars=2000",
    )
    generate.run(spark, config, RunContext(job="generate", run_date=DAY), argparse.Namespace(run_date=DAY))
    folder = landing_folder(config, DAY)
    injected = [json.loads(line) for line in (folder / "_injected.jsonl").read_text().splitlines()]
    assert {item["kind"] for item in injected} >= set(KIND_TO_REASON) | {"duplicate_id"}

    run = run_ingest(spark, config, folder)

    quarantine = open_table_store(spark, config.storage).read(QUARANTINE_POSTINGS).collect()
    duplicates = [row for row in quarantine if row.reason == "duplicate_version"]
    quarantine = [row for row in quarantine if row.reason != "duplicate_version"]
    for item in injected:
        if item["kind"] == "duplicate_id":
            continue
        hits = [row for row in quarantine if item["marker"] in row.raw_payload]
        assert [(row.reason, row.source_file) for row in hits] == [(KIND_TO_REASON[item["kind"]], item["file"])], item
    # Every quarantined row holds an injected record. Two broken CSV rows can be ONE record (an
    # unterminated quote runs on to the end of the file), so rows <= injected, never fewer markers.
    markers = [item["marker"] for item in injected if item["kind"] != "duplicate_id"]
    assert all(any(marker in row.raw_payload for marker in markers) for row in quarantine)
    assert run.counts["quarantined"] - len(duplicates) == len(quarantine) <= len(markers)
    assert run.counts["duplicate_versions"] == len(duplicates) == sum(1 for item in injected if item["kind"] == "duplicate_id")
    assert run.counts["read"] == run.counts["bronze"] + run.counts["quarantined"]
    bronze = open_table_store(spark, config.storage).read(BRONZE_POSTINGS)
    assert bronze.count() == run.counts["bronze"] == run.counts["inserted"]
    assert bronze.where("labels IS NOT NULL AND size(labels) > 0").count() == run.counts["bronze"]


def ingest_corpus(spark, tmp_path: Path, name: str, source: Path):
    """Ingest one shared corpus file with its example config ``conf/<name>.yaml``."""
    config = load_config(
        REPO_ROOT / "conf" / f"{name}.yaml",
        overrides=[
            f"storage.warehouse={tmp_path / 'warehouse'}",
            f"paths.taxonomy={REPO_ROOT / 'conf' / 'taxonomy'}",
            "spark.shuffle_partitions=2",
        ],
    )
    folder = tmp_path / name
    folder.mkdir()
    (folder / source.name).symlink_to(source)
    return config, run_ingest(spark, config, folder)


@pytest.mark.slow  # the whole corpus
def test_reuters_corpus_keeps_topics_and_the_split(spark, tmp_path):
    config, run = ingest_corpus(spark, tmp_path, "reuters", shared_data("reuters21578/reuters21578_modapte90.jsonl"))

    assert run.counts["read"] == 10_789 and run.counts["quarantined"] == run.counts["duplicate_versions"] == 0
    bronze = open_table_store(spark, config.storage).read(BRONZE_POSTINGS)
    splits = {row["split"]: row["count"] for row in bronze.groupBy("split").count().collect()}
    assert splits == {"train": 7_770, "test": 3_019}
    first = bronze.where("posting_id = '1'").collect()[0]
    assert first.title == "BAHIA COCOA REVIEW" and first.labels == ["cocoa"]
    assert first.description.startswith("Showers continued throughout the week in\nthe Bahia cocoa zone")
    topics = bronze.selectExpr("explode(labels) AS label").distinct().count()
    assert topics == 90


@pytest.mark.slow  # a real corpus
def test_glassdoor_corpus_maps_categorical_and_flag_columns(spark, tmp_path):
    config, run = ingest_corpus(spark, tmp_path, "glassdoor", shared_data("glassdoor_ds_jobs/eda_data.csv"))

    assert run.counts["read"] == 742
    assert run.counts["read"] == run.counts["bronze"] + run.counts["quarantined"]
    bronze = open_table_store(spark, config.storage).read(BRONZE_POSTINGS)
    first = bronze.where("posting_id = '0'").collect()[0]
    assert first.title == "Data Scientist" and first.location == "Albuquerque, NM"
    assert first.description.startswith("Data Scientist\nLocation: Albuquerque, NM")
    assert "category:data_science" in first.labels and "skill:python" in first.labels
    label_counts = {r["label"]: r["count"] for r in bronze.selectExpr("explode(labels) AS label").groupBy("label").count().collect()}
    assert label_counts["skill:python"] > 300 and label_counts["seniority:senior"] > 100
    assert not any(label.endswith(":na") for label in label_counts)
