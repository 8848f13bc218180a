"""The ingest stage on real landing folders and real Delta tables."""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from chispa import assert_df_equality

from jobtagger.cli import run_stage
from jobtagger.errors import DataQualityError, ReconciliationError
from jobtagger.ingestion import IngestCounts
from jobtagger.runlog import RunContext
from jobtagger.stages.ingest import ingest_folder, landing_folder
from jobtagger.tables import open_table_store
from jobtagger.tables.schemas import BRONZE_POSTINGS, QUARANTINE_POSTINGS
from ingest_support import good_posting, jsonl_line, write_jsonl

DAY1 = dt.date(2026, 11, 1)
DAY2 = dt.date(2026, 11, 2)


def ingest(spark, config, day: dt.date, folder: Path | None = None) -> RunContext:
    run = RunContext(job="ingest", run_date=day)
    store = open_table_store(spark, config.storage)
    ingest_folder(spark, config, run, folder=folder or landing_folder(config, day), store=store)
    return run


def bronze(spark, config):
    return open_table_store(spark, config.storage).read(BRONZE_POSTINGS)


def write_day1(folder: Path) -> None:
    """Good postings in three formats plus one record of every bad kind and a duplicate id."""
    bad_lines = [
        b'{"posting_id": "m-1", "title": "broken',
        jsonl_line({**good_posting("x"), "posting_id": ""}),
        jsonl_line({**good_posting("wt-1"), "description": {"html": "x"}}),
        jsonl_line(good_posting("u-1")).replace(b"Acme", b"Ac\xc3\x28me"),
        jsonl_line({**good_posting("h-1"), "description": "x" * 1200}),
        jsonl_line({**good_posting("e-1"), "title": "", "description": "<div></div>"}),
        jsonl_line({**good_posting("d-1"), "posted_at": "yesterday"}),
    ]
    good = [good_posting(f"j-{i}") for i in range(5)]
    older_dup = {**good_posting("j-0"), "posted_at": "2026-10-30T09:00:00Z", "title": "Old title"}
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_bytes(b"".join(jsonl_line(r) + b"\n" for r in good) + b"\n".join(bad_lines) + b"\n")
    write_jsonl(folder, "b.jsonl", [older_dup])
    csv_text = (
        "posting_id,title,description,company,language,posted_at,labels\n"
        'c-1,"Nurse","Night shifts\nand ""care""",Clinic,en,2026-11-01T07:00:00Z,category:healthcare|seniority:junior\n'
    )
    (folder / "c.csv.gz").write_bytes(gzip.compress(csv_text.encode()))
    pq.write_table(
        pa.table(
            {
                "posting_id": ["p-1"],
                "title": ["Chef"],
                "description": ["Cook"],
                "language": ["fr"],
                "posted_at": pa.array([dt.datetime(2026, 11, 1, 6)], pa.timestamp("us")),
                "labels": [["category:hospitality"]],
            }
        ),
        folder / "d.parquet",
    )
    (folder / "_injected.jsonl").write_text('{"file": "a.jsonl", "kind": "malformed", "marker": "m-1"}\n')


@pytest.fixture
def config(make_config):
    return make_config("ingest.max_text_chars=1000")


def test_first_run_writes_bronze_quarantine_counts_and_quality_results(spark, config):
    write_day1(landing_folder(config, DAY1))
    run = ingest(spark, config, DAY1)

    assert run.counts["read"] == 15
    assert run.counts["quarantined_by_reason"] == {
        "bad_date": 1, "duplicate_version": 1, "empty_text": 1, "huge_text": 1, "invalid_utf8": 1, "malformed": 1,
        "missing_id": 1, "wrong_type": 1,
    }
    assert (run.counts["bronze"], run.counts["duplicate_versions"], run.counts["inserted"]) == (7, 1, 7)
    rows = {r.posting_id: r for r in bronze(spark, config).collect()}
    assert sorted(rows) == ["c-1", "j-0", "j-1", "j-2", "j-3", "j-4", "p-1"]
    assert rows["j-0"].title == "Senior Software Engineer"  # the later version of the duplicate won
    assert rows["j-0"].description == "Build services for j-0.\n\nPython & Spark"
    assert rows["c-1"].description == 'Night shifts\nand "care"'
    assert rows["c-1"].labels == ["category:healthcare_nursing", "seniority:junior"]
    assert rows["p-1"].source_file == "d.parquet" and rows["p-1"].run_id == run.run_id
    assert rows["j-1"].is_content_duplicate is False

    quarantine = open_table_store(spark, config.storage).read(QUARANTINE_POSTINGS).collect()
    by_reason = {r.reason: r for r in quarantine}
    assert by_reason["malformed"].raw_payload == '{"posting_id": "m-1", "title": "broken'
    assert "u-1" in by_reason["invalid_utf8"].raw_payload
    assert by_reason["duplicate_version"].source_file == "b.jsonl"  # the older version, kept
    assert json.loads(by_reason["duplicate_version"].raw_payload)["title"] == "Old title"
    assert {r.source_file for r in quarantine if r.reason != "duplicate_version"} == {"a.jsonl"}
    assert {r.run_id for r in quarantine} == {run.run_id}
    assert {r.run_date for r in quarantine} == {DAY1}

    quality = run.details["quality"]
    assert quality["passed"] and Path(quality["results"]).is_file()
    assert Path(quality["data_docs"]).is_file()


@pytest.mark.slow  # test_ingest_rerun covers unchanged reruns
def test_rerun_of_a_date_leaves_bronze_exactly_as_it_was(spark, config):
    write_day1(landing_folder(config, DAY1))
    first = ingest(spark, config, DAY1)
    store = open_table_store(spark, config.storage)
    version, before = store.version(BRONZE_POSTINGS), bronze(spark, config)
    before_rows = before.collect()

    rerun = ingest(spark, config, DAY1)

    assert store.version(BRONZE_POSTINGS) == version
    assert (rerun.counts["unchanged"], rerun.counts["inserted"], rerun.counts["updated"]) == (7, 0, 0)
    after = bronze(spark, config)
    assert_df_equality(spark.createDataFrame(before_rows, before.schema), after, ignore_row_order=True)
    quarantine = store.read(QUARANTINE_POSTINGS)
    # unchanged landing files: nothing committed at all, the quarantine rows are the first run's
    assert rerun.details["outcome"] == "unchanged"
    assert quarantine.count() == 8 and {r.run_id for r in quarantine.collect()} == {first.run_id}


def test_next_date_adds_and_updates_and_flags_content_duplicates(spark, config):
    write_jsonl(landing_folder(config, DAY1), "a.jsonl", [good_posting("k-1"), good_posting("k-2")])
    ingest(spark, config, DAY1)
    write_jsonl(
        landing_folder(config, DAY2),
        "a.jsonl",
        [
            {**good_posting("k-1"), "title": "Staff Engineer", "posted_at": "2026-11-02T08:00:00Z"},  # newer
            {**good_posting("k-2"), "title": "Stale", "posted_at": "2026-10-01T08:00:00Z"},  # older than bronze
            {**good_posting("k-3"), "description": good_posting("k-2")["description"]},  # same content as k-2
        ],
    )
    run = ingest(spark, config, DAY2)

    assert (run.counts["inserted"], run.counts["updated"], run.counts["stale"]) == (1, 1, 1)
    rows = {r.posting_id: r for r in bronze(spark, config).collect()}
    assert rows["k-1"].title == "Staff Engineer" and rows["k-1"].run_date == DAY2
    assert rows["k-2"].title == "Senior Software Engineer" and rows["k-2"].run_date == DAY1
    assert rows["k-3"].is_content_duplicate is True
    assert rows["k-2"].is_content_duplicate is False


def test_critical_expectation_failure_writes_nothing(spark, config):
    write_jsonl(landing_folder(config, DAY1), "a.jsonl", [good_posting(f"it-{i}", language="it") for i in range(3)])
    with pytest.raises(DataQualityError, match=r"expect_column_values_to_be_between\(allowed_language_share\)"):
        ingest(spark, config, DAY1)
    store = open_table_store(spark, config.storage)
    assert not store.exists(BRONZE_POSTINGS) and not store.exists(QUARANTINE_POSTINGS)


def test_batch_of_only_bad_records_fails_the_row_count_expectation(spark, config):
    config = config.with_overrides(["ingest.max_quarantine_share=1.0"])  # past the garbage limit, to the GX suite
    folder = landing_folder(config, DAY1)
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text('{"oops"\n{"posting_id": null, "title": "x"}\n')
    with pytest.raises(DataQualityError, match=r"expect_column_values_to_be_between\(rows\)"):
        ingest(spark, config, DAY1)
    assert not open_table_store(spark, config.storage).exists(QUARANTINE_POSTINGS)


def test_counts_that_do_not_reconcile_raise():
    counts = IngestCounts(
        read=10, quarantined={"malformed": 2, "duplicate_version": 1}, bronze=6, actions={"insert": 6}, unknown_labels=0
    )
    with pytest.raises(ReconciliationError, match="read 10 != bronze 6"):
        counts.check()
    IngestCounts(
        read=9, quarantined={"malformed": 2, "duplicate_version": 1}, bronze=6, actions={"insert": 6}, unknown_labels=0
    ).check()


def test_cli_run_writes_a_summary_with_the_counts(spark, config):
    write_jsonl(landing_folder(config, DAY1), "a.jsonl", [good_posting("s-1")])
    args = argparse.Namespace(run_date=DAY1, landing_folder=None)
    assert run_stage("ingest", config, args, spark=spark) == 0
    summary_file = next((Path(config.storage.warehouse) / "_runs" / "ingest" / DAY1.isoformat()).glob("*.json"))
    summary = json.loads(summary_file.read_text())
    assert summary["status"] == "succeeded"
    assert summary["counts"]["read"] == 1 and summary["counts"]["bronze"] == 1
