"""Ingest under failure, on real files, real Spark and real Delta tables: unreadable landing
files, a batch that is mostly garbage, and a real ingest process killed between its two commits."""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import logging
import os
import signal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobtagger.cli import run_stage
from jobtagger.runlog import LOGGER, RunContext
from jobtagger.stages.ingest import ingest_folder, landing_folder
from jobtagger.tables import open_table_store
from jobtagger.tables.schemas import BRONZE_POSTINGS, QUARANTINE_POSTINGS
from ingest_support import good_posting, write_jsonl
from runkit import content, job_command, run_job, uncommitted_files

DAY1 = dt.date(2026, 11, 1)
DAY2 = dt.date(2026, 11, 2)


@pytest.fixture
def config(make_config):
    return make_config("ingest.max_text_chars=1000")


def ingest(spark, config, day: dt.date) -> RunContext:
    run = RunContext(job="ingest", run_date=day)
    ingest_folder(spark, config, run, folder=landing_folder(config, day), store=open_table_store(spark, config.storage))
    return run


def corrupt_pages_parquet(path: Path) -> None:
    """A Parquet file whose footer is intact (its schema reads) but whose data pages are garbage."""
    table = pa.table({"posting_id": [f"cp-{i}" for i in range(2000)], "title": ["Chef " * 10] * 2000})
    pq.write_table(table, path, compression="snappy", use_dictionary=False)
    data = bytearray(path.read_bytes())
    for i in range(64, len(data) // 2):
        data[i] = (data[i] * 7 + 13) % 256
    path.write_bytes(bytes(data))


@pytest.mark.slow
def test_unreadable_files_are_quarantined_as_files_and_the_rest_of_the_date_goes_on(spark, config, caplog):
    folder = landing_folder(config, DAY1)
    write_jsonl(folder, "good.jsonl", [good_posting(f"g-{i}") for i in range(4)])
    (folder / "good.csv").write_text("posting_id,title,description,language\nc-1,Nurse,Night shifts,en\n")
    (folder / "empty.csv").write_bytes(b"")
    (folder / "random.parquet").write_bytes(os.urandom(3000))
    corrupt_pages_parquet(folder / "pages.parquet")
    payload = gzip.compress(os.urandom(100_000))
    (folder / "truncated.jsonl.gz").write_bytes(payload[: len(payload) // 2])
    unreadable = {"empty.csv", "random.parquet", "pages.parquet", "truncated.jsonl.gz"}

    LOGGER.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER.name):
            run = ingest(spark, config, DAY1)
    finally:
        LOGGER.removeHandler(caplog.handler)

    assert set(run.details["unreadable_files"]) == unreadable
    assert run.counts["read"] == 5 + len(unreadable) == run.counts["bronze"] + run.counts["quarantined"]
    store = open_table_store(spark, config.storage)
    assert sorted(r.posting_id for r in store.read(BRONZE_POSTINGS).collect()) == ["c-1", "g-0", "g-1", "g-2", "g-3"]
    rows = {r.source_file: r for r in store.read(QUARANTINE_POSTINGS).collect()}
    assert set(rows) == unreadable and {r.reason for r in rows.values()} == {"unreadable_file"}
    assert rows["empty.csv"].raw_payload == "the file is empty (0 bytes)"
    assert all(0 < len(r.raw_payload) <= 300 and "\n" not in r.raw_payload for r in rows.values())
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    for name in unreadable:
        assert any(str(folder / name) in message for message in warnings), name


def write_garbage_day(folder: Path, *, empty: int, good: int) -> None:
    records = [{**good_posting(f"e-{i}"), "title": "", "description": ""} for i in range(empty)]
    records += [{**good_posting(f"k-{i}"), "labels": ["made:up", "skill:nonsense"]} for i in range(good)]
    write_jsonl(folder, "a.jsonl", records)


@pytest.mark.parametrize(
    ("empty", "good", "reason"),
    [(190, 10, "records quarantined as bad: 95.0%"), (0, 20, "labels dropped as unknown: 100.0%")],
)
@pytest.mark.slow  # an ingest run per limit
def test_a_batch_over_the_garbage_limits_fails_the_gate_and_commits_nothing(spark, config, empty, good, reason, capsys):
    write_garbage_day(landing_folder(config, DAY1), empty=empty, good=good)
    code = run_stage("ingest", config, argparse.Namespace(run_date=DAY1, landing_folder=None), spark=spark)
    assert code == 3
    assert reason in capsys.readouterr().err
    store = open_table_store(spark, config.storage)
    assert not store.exists(BRONZE_POSTINGS) and not store.exists(QUARANTINE_POSTINGS)


@pytest.mark.slow  # the parametrized gate test covers the limits
def test_the_garbage_limits_are_configurable(spark, make_config):
    config = make_config("ingest.max_quarantine_share=1.0", "ingest.max_dropped_label_share=1.0")
    write_garbage_day(landing_folder(config, DAY1), empty=190, good=10)
    run = ingest(spark, config, DAY1)
    assert (run.counts["bronze"], run.counts["quarantined"], run.counts["dropped_label_share"]) == (10, 190, 1.0)


def write_two_days(config) -> None:
    write_jsonl(landing_folder(config, DAY1), "a.jsonl", [good_posting(f"a-{i}") for i in range(6)])
    day2 = [{**good_posting("a-0"), "title": "Staff Engineer", "posted_at": "2026-11-02T08:00:00Z"}]
    day2 += [good_posting(f"b-{i}") for i in range(4)]
    day2 += [{**good_posting("b-0"), "posted_at": "2026-10-01T08:00:00Z"}]  # an older version: duplicate_version
    day2 += [{**good_posting("x-1"), "title": "", "description": ""}, {**good_posting("x-2"), "posted_at": "soon"}]
    write_jsonl(landing_folder(config, DAY2), "b.jsonl", day2)


@pytest.mark.reliability  # a child process SIGKILLed mid-run: over two minutes
def test_ingest_killed_between_its_two_commits_is_redone_by_the_next_run_of_the_date(spark, make_config, tmp_path):
    config = make_config()
    write_two_days(config)
    ingest(spark, config, DAY1)
    store = open_table_store(spark, config.storage)
    quarantine_before = content(store, QUARANTINE_POSTINGS)

    killed = run_job(job_command("ingest", config, DAY2), fault="ingest.bronze_committed=kill")

    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert {r.run_date for r in store.read(BRONZE_POSTINGS).collect()} == {DAY1, DAY2}  # bronze committed
    assert content(store, QUARANTINE_POSTINGS) == quarantine_before  # the quarantine commit never came
    quarantine_folder = Path(store.path(QUARANTINE_POSTINGS))
    assert uncommitted_files(quarantine_folder), "the killed run's staged quarantine files are on disk"
    killed_run = store.history(BRONZE_POSTINGS, limit=1)[0]["jobtagger.run_id"]

    rerun = ingest(spark, config, DAY2)

    assert rerun.details["redoes_run"] == killed_run
    assert not uncommitted_files(quarantine_folder)
    clean_config = config.model_copy(update={"storage": config.storage.model_copy(
        update={"warehouse": tmp_path / "clean_warehouse"})})
    ingest(spark, clean_config, DAY1)
    ingest(spark, clean_config, DAY2)
    clean = open_table_store(spark, clean_config.storage)
    for table in (BRONZE_POSTINGS, QUARANTINE_POSTINGS):
        assert content(store, table) == content(clean, table), table
    reasons = sorted(r.reason for r in store.read(QUARANTINE_POSTINGS).collect() if r.run_date == DAY2)
    assert reasons == ["bad_date", "duplicate_version", "empty_text"]
