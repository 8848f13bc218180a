"""Landing readers + record validation on hand-written files: every bad-record kind gets its reason."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobtagger.config import IngestConfig
from jobtagger.errors import MissingInputError
from jobtagger.ingestion import validate_records
from jobtagger.label_resolution import label_lookup
from jobtagger.landing import (
    SourceColumns,
    landing_files,
    read_jsonl,
    read_landing,
    read_landing_files,
    same_csv_header,
    same_parquet_schema,
)
from jobtagger.taxonomy import load_taxonomy
from ingest_support import REPO_ROOT, good_posting, jsonl_line

TAXONOMY = load_taxonomy(REPO_ROOT / "conf" / "taxonomy")


def validated(spark, folder: Path, **settings):
    config = IngestConfig(**settings)
    raw = read_landing(spark, folder, config=config)
    return validate_records(raw, config=config, lookup=label_lookup(TAXONOMY))


def reasons_by_id(df) -> dict[str, str | None]:
    return {row.posting_id or row.raw_payload[:40]: row.reason for row in df.collect()}


def test_jsonl_bad_records_each_get_their_reason(spark, tmp_path):
    lines = [
        jsonl_line(good_posting("ok-1")),
        b'{"posting_id": "broken-1", "title": "unterminated',
        b'["not", "an", "object"]',
        jsonl_line({**good_posting("x"), "posting_id": "  "}),
        jsonl_line({k: v for k, v in good_posting("x").items() if k != "posting_id"}),
        jsonl_line({**good_posting("wrong-1"), "title": 42}),
        jsonl_line({**good_posting("wrong-2"), "labels": "skill:python"}),
        jsonl_line(good_posting("utf8-1")).replace(b"Engineer", b"Engin\xff\xfeer"),
        jsonl_line({**good_posting("fffd-1"), "title": "Caf\ufffd manager"}),
        jsonl_line({**good_posting("huge-1"), "description": "word " * 30_000}),
        jsonl_line({**good_posting("empty-1"), "title": " ", "description": "<p> &nbsp; </p>"}),
        jsonl_line({**good_posting("date-1"), "posted_at": "2026-13-45"}),
        jsonl_line({**good_posting("nodate-1"), "posted_at": None}),
        jsonl_line({**good_posting("int-id"), "posting_id": 12345}),
        b"   ",
    ]
    (tmp_path / "part-0.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    df = validated(spark, tmp_path)
    rows = df.collect()
    assert len(rows) == 14  # the blank line is not a record
    by_payload = {row.raw_payload: row.reason for row in rows}
    reasons = reasons_by_id(df)
    assert reasons["ok-1"] is None
    assert by_payload['{"posting_id": "broken-1", "title": "unterminated'] == "malformed"
    assert by_payload['["not", "an", "object"]'] == "malformed"
    assert sorted(r.reason for r in rows if r.posting_id is None and r.reason == "missing_id") == ["missing_id"] * 2
    assert reasons["wrong-1"] == reasons["wrong-2"] == "wrong_type"
    assert reasons["utf8-1"] == reasons["fffd-1"] == "invalid_utf8"
    assert reasons["huge-1"] == "huge_text"
    assert reasons["empty-1"] == "empty_text"
    assert reasons["date-1"] == "bad_date"
    assert reasons["nodate-1"] is None and reasons["12345"] is None
    assert {r.source_file for r in rows} == {"part-0.jsonl"}


def test_jsonl_fields_from_one_struct_cast_equal_path_lookups(spark, tmp_path):
    lines = [
        '{"posting_id": "a", "title": "T", "labels": ["x", "y"], "split": "train"}',
        '{"posting_id": 7, "Title": "case differs", "title": "kept"}',
        '{"posting_id": "b", "TITLE": 3, "title": null, "description": {"nested": 1}}',
        '{"posting_id": "c", "title": [1, 2], "labels": "x", "company": 1.5e300, "location": true}',
        '{"posting_id": "d", "labels": ["x", 1], "split": 4}',
        '[1, 2]', '"a string"', '{}', '{"posting_id": "e", "title": "a", "title": "b"}', '{broken',
        'null', '42',
    ]
    (tmp_path / "part.jsonl").write_text("\n".join(lines) + "\n")
    columns = SourceColumns.from_config(IngestConfig(label_columns={"company": "category"}))
    one, paths = (
        read_jsonl(spark, [tmp_path / "part.jsonl"], columns=columns, one_cast=cast).withColumn(
            "label_values", F.to_json("label_values")  # maps cannot be sorted
        )
        for cast in (True, False)
    )
    assert_df_equality(one, paths, ignore_row_order=True)
    errors = {row.raw_payload: row.read_error for row in one.collect()}
    assert errors[lines[0]] is None and errors[lines[3]] == "wrong_type" and errors[lines[7]] is None
    assert [errors[line] for line in (lines[5], lines[6], lines[9], "null", "42")] == ["malformed"] * 5


def test_csv_quoted_multiline_gzip_and_a_broken_row(spark, tmp_path):
    text = (
        "posting_id,title,description,language,posted_at,labels\n"
        'c-1,"Data Engineer","Line one\nLine ""two"", quoted",EN,2026-11-01T08:00:00Z,skill:python|Skill:Apache Spark\n'
        "c-2,Short row\n"
        "c-3,Analyst,plain,en,2026-11-01,\n"
    )
    (tmp_path / "part-0.csv.gz").write_bytes(gzip.compress(text.encode()))
    rows = {r.posting_id: r for r in validated(spark, tmp_path, unknown_labels="quarantine").collect()}
    assert rows["c-1"].reason is None
    assert rows["c-1"].description == 'Line one\nLine "two", quoted'
    assert rows["c-1"].language == "en"
    assert rows["c-1"].labels == ["skill:python", "skill:spark"]
    assert rows["c-2"].reason == "malformed"
    assert rows["c-3"].reason is None and rows["c-3"].labels is None
    assert rows["c-3"].posted_at.isoformat() == "2026-11-01T00:00:00"


def test_csv_files_with_one_header_line_are_read_as_one_group(spark, tmp_path):
    header = '"posting_id","title","description"\n'
    (tmp_path / "a.csv").write_text(header + "a-1,Nurse,Care\n")
    (tmp_path / "b.csv").write_text(header + 'b-1,"Chef","Two\nlines"\n')
    (tmp_path / "c.csv").write_text("posting_id,title,description\nc-1,Cook,Food\n")  # other bytes
    (tmp_path / "d.csv").write_text('posting_id,"title\n",description\nd-1,Baker,Bread\n')  # runs on
    (tmp_path / "e.csv.gz").write_bytes(gzip.compress((header + "e-1,Driver,Roads\n").encode()))
    groups = same_csv_header(sorted(tmp_path.glob("*.csv*")))
    assert sorted(sorted(path.name for path in group) for group in groups) == [
        ["a.csv", "b.csv", "e.csv.gz"], ["c.csv"], ["d.csv"],
    ]
    rows = {r.posting_id: r for r in read_landing(spark, tmp_path, config=IngestConfig()).collect()}
    assert {pid: r.source_file for pid, r in rows.items()} == {
        "a-1": "a.csv", "b-1": "b.csv", "c-1": "c.csv", "d-1": "d.csv", "e-1": "e.csv.gz",
    }
    assert rows["b-1"].description == "Two\nlines" and rows["d-1"].title is None


def test_parquet_files_are_grouped_by_identical_schema(spark, tmp_path):
    pq.write_table(pa.table({"posting_id": ["a-1"], "title": ["Nurse"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"posting_id": ["b-1"], "title": ["Chef"]}), tmp_path / "b.parquet")
    pq.write_table(pa.table({"posting_id": ["c-1"], "title": [7]}), tmp_path / "c.parquet")
    (tmp_path / "d.parquet").write_bytes(b"PAR1 not parquet")
    groups = same_parquet_schema(sorted(tmp_path.glob("[abc].parquet")))
    assert sorted(sorted(path.name for path in group) for group in groups) == [["a.parquet", "b.parquet"], ["c.parquet"]]
    read = read_landing_files(spark, tmp_path, config=IngestConfig())
    assert set(read.unreadable) == {"d.parquet"}
    rows = {r.source_file: (r.posting_id, r.title, r.read_error) for r in read.frame.collect()}
    assert rows == {
        "a.parquet": ("a-1", "Nurse", None), "b.parquet": ("b-1", "Chef", None),
        "c.parquet": ("c-1", None, "wrong_type"), "d.parquet": (None, None, "unreadable_file"),
    }


def test_parquet_typed_columns_and_a_wrong_type_file(spark, tmp_path):
    import datetime as dt

    good = pa.table(
        {
            "posting_id": ["p-1"],
            "title": ["Nurse"],
            "description": ["Care"],
            "posted_at": pa.array([dt.datetime(2026, 11, 1, 9, 30)], pa.timestamp("us")),
            "labels": [["category:healthcare", "made:up"]],
        }
    )
    bad = pa.table({"posting_id": ["p-2", "p-3"], "title": [7, None], "description": ["x", "y"]})
    pq.write_table(good, tmp_path / "a.parquet")
    pq.write_table(bad, tmp_path / "b.parquet")
    rows = {r.posting_id: r for r in validated(spark, tmp_path, unknown_labels="quarantine").collect()}
    assert rows["p-1"].reason == "unknown_label"
    assert rows["p-1"].unknown_labels == ["made:up"]
    assert rows["p-1"].posted_at == dt.datetime(2026, 11, 1, 9, 30)
    assert rows["p-2"].reason == "wrong_type"
    assert rows["p-3"].reason is None and rows["p-3"].title is None


def _unchecked_strings(values: list[bytes]) -> pa.Array:
    """A string array holding ``values`` as they are (pyarrow would refuse invalid UTF-8)."""
    offsets = [0]
    for value in values:
        offsets.append(offsets[-1] + len(value))
    return pa.Array.from_buffers(
        pa.string(), len(values), [None, pa.py_buffer(pa.array(offsets, pa.int32()).buffers()[1]), pa.py_buffer(b"".join(values))]
    )


def test_invalid_utf8_in_parquet_and_csv_is_quarantined_and_its_text_made_valid(spark, tmp_path):
    # invalid bytes in the title, and in a label (a column of another type), and a U+FFFD
    pq.write_table(pa.table({
        "posting_id": ["p-ok", "p-bad", "p-label", "p-fffd"],
        "title": _unchecked_strings([b"Nurse", b"Nur\xffse", b"Cook", "Caf\ufffd".encode()]),
        "labels": pa.array([["x"], ["y"], ["z"], ["w"]]).cast(pa.list_(pa.string())),
    }), tmp_path / "a.parquet")
    table = pq.read_table(tmp_path / "a.parquet")
    labels = pa.ListArray.from_arrays(pa.array([0, 1, 2, 3, 4], pa.int32()), _unchecked_strings([b"x", b"y", b"\xfe", b"w"]))
    pq.write_table(table.set_column(2, "labels", labels), tmp_path / "a.parquet")
    (tmp_path / "b.csv").write_bytes(b"posting_id,title\nc-ok,Chef\nc-bad,Ch\xc3\x28ef\n")
    rows = {r.posting_id: r for r in validated(spark, tmp_path).collect()}

    assert {pid: r.reason for pid, r in rows.items()} == {
        "p-ok": None, "p-bad": "invalid_utf8", "p-label": "invalid_utf8", "p-fffd": "invalid_utf8",
        "c-ok": None, "c-bad": "invalid_utf8",
    }
    assert rows["p-ok"].title == "Nurse" and rows["p-bad"].title == "Nur\ufffdse"
    assert "\ufffd" in rows["p-label"].raw_payload and rows["c-bad"].raw_payload is not None


@pytest.mark.parametrize(
    ("policy", "labels", "unknown"),
    [
        ("keep", ["category:healthcare_nursing", "earn", "seniority:junior"], ["earn"]),
        ("drop", ["category:healthcare_nursing", "seniority:junior"], ["earn"]),
    ],
)
def test_unknown_label_policies(spark, tmp_path, policy, labels, unknown):
    record = {**good_posting("l-1"), "labels": ["Category: Healthcare", "earn", "seniority:jr", "earn"]}
    (tmp_path / "x.jsonl").write_bytes(jsonl_line(record) + b"\n")
    row = validated(spark, tmp_path, unknown_labels=policy).collect()[0]
    assert (row.reason, row.labels, row.unknown_labels) == (None, labels, unknown)


def test_label_columns_flags_and_categories(spark, tmp_path):
    text = (
        "id,Job Title,Job Description,job_simp,seniority,python_yn,spark\n"
        "1,Data Scientist,Models,data scientist,senior,1,0\n"
        "2,Analyst,Reports,na,na,0,0\n"
    )
    (tmp_path / "g.csv").write_text(text)
    rows = {
        r.posting_id: r
        for r in validated(
            spark,
            tmp_path,
            id_column="id",
            text_columns={"title": "Job Title", "description": "Job Description"},
            label_columns={"job_simp": "category", "seniority": "seniority", "python_yn": "skill:python", "spark": "skill:spark"},
        ).collect()
    }
    assert rows["1"].labels == ["category:data_science", "seniority:senior", "skill:python"]
    assert rows["1"].title == "Data Scientist"
    assert rows["2"].labels is None


def test_landing_folder_without_data_files_is_missing_input(tmp_path):
    with pytest.raises(MissingInputError, match="landing folder not found"):
        landing_files(tmp_path / "absent")
    (tmp_path / "_injected.jsonl").write_text("{}\n")
    with pytest.raises(MissingInputError, match="no .jsonl"):
        landing_files(tmp_path)
