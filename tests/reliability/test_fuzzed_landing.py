"""Hypothesis-generated landing folders through the real ingest stage: whatever the files hold,
every landing record ends in bronze or quarantine (an unreadable file as one record), and bronze
never holds an id twice.

Each example is a folder of JSONL, CSV, Parquet and gzip files mixing good postings with broken
JSON, BOMs, invalid UTF-8, NUL bytes, huge texts, 0-byte and corrupt files, wrong types, labels
as strings and odd timestamps. The garbage limits are lifted so each batch is committed: the
accounting is what is tested here (the limits have their own tests).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import os
import re
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobtagger.config import load_config
from jobtagger.runlog import RunContext
from jobtagger.stages.ingest import ingest_folder
from jobtagger.tables import open_table_store
from jobtagger.tables.schemas import BRONZE_POSTINGS, QUARANTINE_POSTINGS
from testkit import REPO_ROOT

pytestmark = pytest.mark.reliability

DAY = dt.date(2026, 11, 1)
EXAMPLES = int(os.environ.get("JOBTAGGER_FUZZ_EXAMPLES", "12"))
FIGURES: dict[str, int] = {"cases": 0, "records": 0, "rows_lost": 0, "duplicates": 0, "unreadable_files": 0}

ids = st.sampled_from([f"p-{i}" for i in range(12)])  # a small pool: ids repeat within and across files
odd_text = st.one_of(
    st.text(min_size=0, max_size=40),
    st.sampled_from(["", " ", "\x00", "\ufeffBOM title", "<p>&nbsp;</p>", "Caf\ufffd", "x\x00y", "a\u2028b", "é" * 3]),
    st.just("word " * 400),  # longer than max_text_chars below: huge_text
)
odd_time = st.sampled_from([
    "2026-11-01T09:00:00Z", "2026-11-01", "2026-11-01 09:00:00+02:00", "1999-12-31T23:59:59Z", "2026-13-45",
    "yesterday", "", "2026-11-01T09:00:00.123456789Z", "0001-01-01", "+10000-01-01",
])
labels = st.one_of(
    st.lists(st.sampled_from(["category:software_engineering", "skill:python", "seniority:senior", "made:up", ""]),
             max_size=4),
    st.sampled_from(["skill:python", "skill:python|seniority:senior"]),  # labels as a string
)


@st.composite
def posting(draw) -> dict:
    record = {
        "posting_id": draw(st.one_of(ids, ids, ids, st.sampled_from(["", " ", None]), st.integers(0, 5))),
        "title": draw(st.one_of(st.just("Data Engineer"), odd_text, st.integers(), st.none())),
        "description": draw(st.one_of(st.just("<p>Build pipelines in Python.</p>"), odd_text, st.lists(st.text(max_size=3), max_size=2))),
        "language": draw(st.sampled_from(["en", "en", "de", "xx", None])),
        "posted_at": draw(st.one_of(odd_time, st.none(), st.integers())),
        "labels": draw(labels),
    }
    return {key: value for key, value in record.items() if not (value is None and draw(st.booleans()))}


@st.composite
def jsonl_file(draw) -> tuple[bytes, int]:
    lines: list[bytes] = []
    for record in draw(st.lists(posting(), min_size=1, max_size=8)):
        line = json.dumps(record, ensure_ascii=draw(st.booleans())).encode("utf-8")
        damage = draw(st.sampled_from(["none", "none", "none", "cut", "bom", "invalid_utf8", "nul", "array"]))
        if damage == "cut":
            line = line[: max(1, len(line) // 2)]
        elif damage == "bom":
            line = b"\xef\xbb\xbf" + line
        elif damage == "invalid_utf8":
            line = line.replace(b'"', b'"\xff\xfe', 1)
        elif damage == "nul":
            line = line + b"\x00"
        elif damage == "array":
            line = b"[" + line + b"]"
        lines.append(line)
    return b"\n".join(lines) + b"\n", len(lines)


def csv_field(value) -> str:
    return "|".join(value) if isinstance(value, list) else "" if value is None else str(value)


@st.composite
def csv_file(draw) -> tuple[bytes, int]:
    records = draw(st.lists(posting(), min_size=1, max_size=8))
    columns = ["posting_id", "title", "description", "language", "posted_at", "labels"]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(columns)
    for record in records:
        writer.writerow([csv_field(record.get(column)).replace("\x00", "") for column in columns])
    data = text.getvalue().encode("utf-8")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data  # a BOM before the header
    return data, len(records)


@st.composite
def parquet_file(draw) -> tuple[bytes, int]:
    records = draw(st.lists(posting(), min_size=1, max_size=8))
    texts = {column: [None if r.get(column) is None else str(r.get(column)) for r in records]
             for column in ("posting_id", "title", "description", "language", "posted_at")}
    table = pa.table({**texts, "labels": [r["labels"] if isinstance(r.get("labels"), list) else None for r in records]})
    if draw(st.booleans()):  # a wrong type: numbers where a title belongs
        table = table.set_column(1, "title", pa.array(list(range(len(records)))))
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue(), len(records)


@st.composite
def landing_folder(draw) -> list[tuple[str, bytes, int]]:
    """(file name, bytes, records it holds; an unreadable file holds one)."""
    files = [("good.jsonl", json.dumps({"posting_id": "anchor", "title": "Data Engineer", "language": "en"}).encode()
              + b"\n", 1)]
    for index in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["jsonl", "jsonl.gz", "csv", "csv.gz", "parquet", "empty", "corrupt", "truncated"]))
        if kind.startswith("jsonl"):
            data, count = draw(jsonl_file())
        elif kind.startswith("csv"):
            data, count = draw(csv_file())
        elif kind == "parquet":
            data, count = draw(parquet_file())
        elif kind == "empty":
            data, count = b"", 1
            kind = draw(st.sampled_from(["jsonl", "csv", "parquet"]))
        elif kind == "corrupt":
            data, count = draw(st.binary(min_size=1, max_size=64)), 1
            kind = "parquet"
        else:  # a gzip file cut in half
            data, count = gzip.compress(draw(st.binary(min_size=2000, max_size=4000)))[:-40], 1
            kind = "jsonl.gz"
        if kind.endswith(".gz") and data[:2] != b"\x1f\x8b":
            data = gzip.compress(data)
        files.append((f"f{index}.{kind}", data, count))
    return files


def jsonl_records(data: bytes) -> int:
    """Records Spark's text reader sees: lines split at \\n, \\r or \\r\\n, blank (spaces only) ones skipped."""
    return sum(1 for line in re.split(rb"\r\n|\r|\n", data) if line.strip(b" "))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(files=landing_folder())
def test_every_landing_record_ends_in_bronze_or_quarantine(spark, files):
    with tempfile.TemporaryDirectory(prefix="jobtagger-fuzz-") as root:
        folder = Path(root) / "landing" / DAY.isoformat()
        folder.mkdir(parents=True)
        expected = 0
        for name, data, count in files:
            (folder / name).write_bytes(data)
            if name.endswith(".jsonl") and data:
                count = jsonl_records(data)
            elif name.endswith(".jsonl.gz") and count > 1:
                count = jsonl_records(gzip.decompress(data))
            expected += count
        config = load_config(REPO_ROOT / "conf" / "local.yaml", overrides=[
            f"storage.warehouse={root}/warehouse", f"paths.landing={root}/landing",
            f"paths.taxonomy={REPO_ROOT / 'conf' / 'taxonomy'}", "spark.shuffle_partitions=2",
            "ingest.max_text_chars=1000", "ingest.max_quarantine_share=1.0", "ingest.max_dropped_label_share=1.0",
            "quality.language_mostly=0.01",
        ])
        store = open_table_store(spark, config.storage)
        run = RunContext(job="ingest", run_date=DAY)
        ingest_folder(spark, config, run, folder=folder, store=store)

        bronze = [r.posting_id for r in store.read(BRONZE_POSTINGS).select("posting_id").collect()]
        quarantine = store.read(QUARANTINE_POSTINGS).select("reason").collect()
        store.read(BRONZE_POSTINGS).select("posted_at").collect()  # every timestamp converts to a Python datetime
        FIGURES["cases"] += 1
        FIGURES["records"] += expected
        FIGURES["rows_lost"] += abs(expected - len(bronze) - len(quarantine))
        FIGURES["duplicates"] += len(bronze) - len(set(bronze))
        FIGURES["unreadable_files"] += sum(1 for r in quarantine if r.reason == "unreadable_file")
        assert run.counts["read"] == expected == len(bronze) + len(quarantine), (run.counts, files)
        assert len(bronze) == len(set(bronze))
        assert {r.reason for r in quarantine} <= {
            "unreadable_file", "malformed", "invalid_utf8", "wrong_type", "missing_id", "huge_text", "empty_text",
            "bad_date", "unknown_label", "duplicate_version",
        }


def test_fuzz_figures():
    """Prints the figures BENCHMARKS.md records (run after the fuzz test, in file order)."""
    print(f"\nreliability fuzz: {FIGURES}")
    if FIGURES["cases"]:
        assert FIGURES["rows_lost"] == FIGURES["duplicates"] == 0
