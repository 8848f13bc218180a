"""The generate stage end to end on real folders: layout, formats read back, manifest, idempotence."""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
from pathlib import Path

import pytest
from chispa import assert_df_equality

from jobtagger.config import load_config
from jobtagger.errors import ConfigError
from jobtagger.runlog import RunContext
from jobtagger.stages import generate
from jobtagger.synthetic import POSTING_COLUMNS, day_id_range, generate_postings
from jobtagger.taxonomy import load_taxonomy

START = dt.date(2026, 11, 1)
REPO_ROOT = Path(__file__).resolve().parents[1]


def _run(spark, config, *, run_date=None, **flags):
    args = argparse.Namespace(run_date=run_date, rows=None, days=None, bad_rate=None, **flags)
    run = RunContext(job="generate", run_date=run_date or START)
    return generate.run(spark, config, run, args), run


def _raw(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _read(spark, folder: Path, fmt: str):
    files = [str(p) for p in sorted(folder.glob(f"postings-*.{fmt}*"))]
    if fmt == "parquet":
        return spark.read.parquet(*files)
    if fmt == "csv":
        return spark.read.csv(files, header=True, multiLine=True, escape='"', inferSchema=False)
    return spark.read.json(files)


@pytest.fixture(scope="module")
def landing(spark, tmp_path_factory):
    """Two dates, every format, 2 files each, 4% bad records."""
    root = tmp_path_factory.mktemp("gen")
    config = load_config(REPO_ROOT / "conf" / "local.yaml", overrides=[
        f"paths.landing={root / 'landing'}", f"storage.warehouse={root / 'wh'}",
        "generate.rows=1200", "generate.days=2", "generate.bad_records.rate=0.04",
        "generate.files_per_format=2", "generate.skills=50",
    ])
    result, run = _run(spark, config)
    return config, result, run, root / "landing"


def test_layout_has_stable_names_per_date(landing):
    _, result, run, folder = landing
    assert sorted(p.name for p in folder.iterdir()) == ["2026-11-01", "2026-11-02"]
    names = sorted(p.name for p in (folder / "2026-11-01").iterdir())
    assert names == ["_injected.jsonl", "bad-00000.csv", "bad-00000.jsonl",
                     "postings-00000.csv", "postings-00000.jsonl", "postings-00000.parquet",
                     "postings-00001.csv", "postings-00001.jsonl", "postings-00001.parquet"]
    assert run.counts["rows"] + run.counts["injected"] >= 1200 - 2 * 8  # only unexpressible kinds are dropped
    assert run.counts["dates"] == 2


def test_each_format_reads_back_as_the_generated_rows(spark, landing):
    config, result, _, folder = landing
    taxonomy = load_taxonomy(config.paths.taxonomy)
    first, end = day_id_range(config.generate, 0)
    expected = generate_postings(spark, config.generate, taxonomy, first_id=first, end_id=end,
                                 posted_date=START, num_partitions=1).filter("NOT bad_record")
    day = folder / "2026-11-01"
    parquet = _read(spark, day, "parquet")
    total = 0
    for fmt in ("jsonl", "csv", "parquet"):
        df = _read(spark, day, fmt)
        assert df.count() == result["dates"]["2026-11-01"]["formats"][fmt]["rows"]
        assert set(df.columns) == set(POSTING_COLUMNS)
        total += df.count()
    ids = expected.select("posting_id", "title", "description", "labels").join(parquet.select("posting_id"), "posting_id")
    assert_df_equality(parquet.select("posting_id", "title", "description", "labels"), ids,
                       ignore_row_order=True, ignore_nullable=True)
    csv = _read(spark, day, "csv").selectExpr("posting_id", "title", "description", "split(labels, '[|]') AS labels", "posted_at")
    jsonl = _read(spark, day, "jsonl").select("posting_id", "title", "description", "labels", "posted_at")
    for text_df in (csv, jsonl):
        joined = text_df.join(expected.selectExpr(
            "posting_id", "title AS t", "description AS d", "labels AS l",
            "date_format(posted_at, \"yyyy-MM-dd'T'HH:mm:ss'Z'\") AS p"), "posting_id")
        assert joined.count() == text_df.count()
        assert joined.filter("title != t OR description != d OR labels != l OR posted_at != p").count() == 0
    assert total == result["dates"]["2026-11-01"]["rows"]
    all_ids = [r.posting_id for fmt in ("jsonl", "csv", "parquet") for r in _read(spark, day, fmt).collect()]
    assert len(all_ids) == len(set(all_ids))


def test_manifest_markers_occur_once_in_the_named_file(landing):
    _, result, _, folder = landing
    for day in folder.iterdir():
        manifest = [json.loads(line) for line in (day / "_injected.jsonl").read_text().splitlines()]
        assert len(manifest) == result["dates"][day.name]["injected"] > 0
        assert {m["kind"] for m in manifest} == {"malformed", "missing_id", "empty_text", "wrong_type",
                                                 "duplicate_id", "huge_text", "invalid_utf8", "bad_date"}
        contents = {p.name: _raw(p) for p in day.iterdir() if not p.name.startswith("_")}
        for entry in manifest:
            marker = entry["marker"].encode()
            assert contents[entry["file"]].count(marker) == 1
            assert sum(c.count(marker) for c in contents.values()) == 1
        assert b"\xff\xfe" in contents["bad-00000.jsonl"] or b"\xff\xfe" in contents["bad-00000.csv"]


@pytest.mark.slow  # a second generate run
def test_rerun_of_a_date_replaces_its_folder_with_identical_files(spark, landing):
    config, _, _, folder = landing
    day = folder / "2026-11-02"
    before = {p.name: p.read_bytes() for p in day.iterdir()}
    (day / "stray-00000.jsonl").write_text("{}\n")
    _run(spark, config, run_date=dt.date(2026, 11, 2))
    after = {p.name: p.read_bytes() for p in day.iterdir()}
    assert set(after) == set(before)
    assert {n: b for n, b in after.items() if not n.endswith(".parquet")} == {
        n: b for n, b in before.items() if not n.endswith(".parquet")}
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


@pytest.mark.slow  # a second generate run
def test_gzip_compression_writes_readable_gz_files(spark, make_config, tmp_path):
    config = make_config("generate.rows=120", "generate.compression=gzip", "generate.files_per_format=1",
                         "generate.bad_records.rate=0.05", "generate.skills=10")
    result, _ = _run(spark, config)
    day = tmp_path / "landing" / "2026-11-01"
    names = sorted(p.name for p in day.iterdir())
    assert "postings-00000.jsonl.gz" in names and "postings-00000.csv.gz" in names and "bad-00000.jsonl.gz" in names
    assert not [n for n in names if n.endswith((".crc", "_SUCCESS"))]
    assert _read(spark, day, "jsonl").count() == result["dates"]["2026-11-01"]["formats"]["jsonl"]["rows"]
    assert _read(spark, day, "csv").count() == result["dates"]["2026-11-01"]["formats"]["csv"]["rows"]


def test_run_date_before_start_is_a_clean_error(spark, make_config):
    with pytest.raises(ConfigError, match="before generate.start_date"):
        _run(spark, make_config(), run_date=dt.date(2020, 1, 1))


@pytest.mark.parametrize(
    ("override", "message"),
    [("generate.formats=[csv, csv]", "each format may be listed once"),
     ("generate.formats=[]", "at least 1 item"),
     ("generate.bad_records.kinds=[]", "at least 1 item"),
     ("generate.skills=6000", "less than or equal to 5000")],
)
def test_generate_settings_are_validated(make_config, override, message):
    with pytest.raises(ConfigError, match=message):
        make_config(override)
