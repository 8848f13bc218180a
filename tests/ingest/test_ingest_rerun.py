"""A rerun of a date whose landing files did not change: nothing read, nothing committed."""

from __future__ import annotations

import pytest

import datetime as dt
import os

from jobtagger.runlog import RunContext
from jobtagger.stages.ingest import COUNTS_KEY, FINGERPRINT_KEY, ingest_folder, landing_folder
from jobtagger.tables import open_table_store
from jobtagger.tables.schemas import BRONZE_POSTINGS, QUARANTINE_POSTINGS
from ingest_support import good_posting, jsonl_line, write_jsonl

DAY = dt.date(2026, 11, 1)
TABLES = (BRONZE_POSTINGS, QUARANTINE_POSTINGS)


def ingest(spark, config) -> tuple[RunContext, dict]:
    run = RunContext(job="ingest", run_date=DAY)
    result = ingest_folder(spark, config, run, folder=landing_folder(config, DAY), store=open_table_store(spark, config.storage))
    return run, result


@pytest.mark.slow
def test_rerun_with_unchanged_files_commits_nothing_and_reports_reconciled_counts(spark, make_config):
    config = make_config()
    folder = landing_folder(config, DAY)
    write_jsonl(folder, "a.jsonl", [good_posting(f"r-{i}") for i in range(4)])
    with (folder / "b.jsonl").open("ab") as out:
        out.write(b'{"posting_id": "r-9", "title": "broken\n' + jsonl_line({**good_posting("r-8"), "posted_at": "soon"}) + b"\n")
    store = open_table_store(spark, config.storage)

    first, result = ingest(spark, config)
    assert result["outcome"] == "ingested"
    versions = {name: store.version(name) for name in TABLES}
    last = store.history(QUARANTINE_POSTINGS, limit=1)[0]
    assert last[FINGERPRINT_KEY] and last[COUNTS_KEY]

    rerun, result = ingest(spark, config)
    assert result["outcome"] == "unchanged" and result["same_as_run"] == first.run_id
    assert {name: store.version(name) for name in TABLES} == versions
    assert "read" not in [step["step"] for step in rerun.steps]
    assert rerun.counts == {**first.counts, "inserted": 0, "unchanged": 4}
    assert (rerun.counts["read"], rerun.counts["bronze"], rerun.counts["quarantined"]) == (6, 4, 2)

    # The same bytes written again (a new modification time): the date is read and checked again;
    # bronze has nothing to commit, the quarantine rows of the date are replaced.
    os.utime(folder / "a.jsonl", ns=(os.stat(folder / "a.jsonl").st_atime_ns, os.stat(folder / "a.jsonl").st_mtime_ns + 10**9))
    touched, result = ingest(spark, config)
    assert result["outcome"] == "ingested"
    assert store.version(BRONZE_POSTINGS) == versions[BRONZE_POSTINGS]
    assert store.version(QUARANTINE_POSTINGS) == versions[QUARANTINE_POSTINGS] + 1
    assert (touched.counts["unchanged"], touched.counts["quarantined"]) == (4, 2)


@pytest.mark.slow  # three full ingests
def test_rerun_after_a_setting_changed_or_quarantine_rows_went_missing_reads_again(spark, make_config):
    config = make_config()
    folder = landing_folder(config, DAY)
    write_jsonl(folder, "a.jsonl", [good_posting("s-1"), {**good_posting("s-2"), "posted_at": "soon"}])
    store = open_table_store(spark, config.storage)
    ingest(spark, config)

    _, result = ingest(spark, config.with_overrides(["ingest.max_text_chars=5000"]))
    assert result["outcome"] == "ingested"

    store.write(store.read(QUARANTINE_POSTINGS).limit(0), QUARANTINE_POSTINGS, mode="replace_where",
                replace_where=f"run_date = '{DAY.isoformat()}'")
    run, result = ingest(spark, config.with_overrides(["ingest.max_text_chars=5000"]))
    assert result["outcome"] == "ingested"
    assert run.counts["quarantined"] == 1 and store.read(QUARANTINE_POSTINGS).count() == 1
