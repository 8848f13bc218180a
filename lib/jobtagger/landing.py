"""Read a landing folder into raw records (see :data:`jobtagger.ingestion.RAW_RECORD_COLUMNS`).

Every format keeps what is needed to quarantine a bad record without losing it:
- JSONL is read as text lines and parsed with ``try_parse_json`` into a VARIANT, so a broken line
  keeps its raw text, and the type of each field can be checked (a number where text belongs is a
  ``wrong_type``, not silently turned into text as ``from_json`` would do).
- CSV is read with RFC 4180 quoting (multi-line fields), PERMISSIVE mode and a corrupt-record
  column; every column is text. Files with the same header line are read together.
- Parquet files are read together when their schemas are identical (schemas may differ between
  files); columns of an unexpected type mark their non-null values as ``wrong_type``.
``.gz`` files are decompressed by Spark. Files whose name starts with ``_`` or ``.`` are not data.

A file that cannot be read at all (0 bytes, a CSV without a header, a Parquet file whose footer
or pages are corrupt, a truncated ``.gz``) does not fail the date: it becomes ONE raw record with
``read_error = unreadable_file``, its name as ``source_file`` and a one-line cause as
``raw_payload``. Most such files fail while the plan is built (cheap driver-side checks: the size,
the CSV header, the Parquet footer read by pyarrow); a file that fails only when its data
is read is named by Spark's ``FAILED_READ_FILE`` error (:func:`failed_landing_file`), and the
caller reads the folder again without it. The healthy path does no extra work.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.parquet as pq
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DataType,
    DateType,
    IntegralType,
    StringType,
    StructField,
    StructType,
    TimestampNTZType,
    TimestampType,
    VariantType,
)

from jobtagger.config import IngestConfig
from jobtagger.errors import MissingInputError
from jobtagger.ingestion import INVALID_UTF8, RAW_RECORD_COLUMNS, REPLACEMENT_CHARACTER, TEXT_FIELDS, has_invalid_utf8

FORMATS = {".jsonl": "jsonl", ".jsonl.gz": "jsonl", ".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet"}
CORRUPT = "_corrupt_record"
UNREADABLE_FILE = "unreadable_file"
_MAX_ERROR_CHARS = 300
_FAILED_READ = re.compile(r"Encountered error while reading file (\S+?)\.?\s")
# Variant types accepted per field (schema_of_variant names); anything else is wrong_type.
_TEXT_TYPES = ("STRING",)
_ID_TYPES = ("STRING", "TINYINT", "SMALLINT", "INT", "BIGINT")
_LABEL_ARRAY_TYPES = ("ARRAY<STRING>", "ARRAY<VOID>")


@dataclass(frozen=True)
class SourceColumns:
    """Which source column feeds each part of a raw record (from ``ingest`` settings)."""

    posting_id: str
    text: dict[str, str]  # canonical text field (incl. posted_at) -> source column
    labels: str
    split: str
    label_columns: tuple[str, ...]

    @classmethod
    def from_config(cls, config: IngestConfig) -> "SourceColumns":
        fields = (*TEXT_FIELDS, "posted_at")
        return cls(
            posting_id=config.id_column,
            text={name: config.text_columns.get(name, name) for name in fields},
            labels=config.labels_column,
            split=config.split_column,
            label_columns=tuple(config.label_columns),
        )


def landing_files(folder: Path) -> dict[str, list[Path]]:
    """Data files of a landing folder by format; raises MissingInputError when there are none."""
    if not folder.is_dir():
        raise MissingInputError(f"landing folder not found: {folder}")
    found: dict[str, list[Path]] = {"jsonl": [], "csv": [], "parquet": []}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(("_", ".")) or not path.is_file():
            continue
        kind = next((fmt for suffix, fmt in FORMATS.items() if path.name.endswith(suffix)), None)
        if kind:
            found[kind].append(path)
    if not any(found.values()):
        raise MissingInputError(f"no .jsonl/.csv/.parquet files (optionally .gz) in {folder}")
    return found


def landing_fingerprint(folder: Path, *, inputs: Mapping[str, object] | None = None) -> str:
    """SHA-256 of what an ingest of ``folder`` depends on: the folder, each data file's name, size
    and modification time (nanoseconds), and ``inputs`` (settings, taxonomy files...). Equal
    fingerprints mean the same files, untouched since: a rerun would find nothing new. Reading no
    data, it costs one directory listing."""
    files = [
        [path.name, stat.st_size, stat.st_mtime_ns]
        for kind in landing_files(folder).values()
        for path in kind
        for stat in (path.stat(),)
    ]
    document = {"folder": str(folder.resolve()), "files": sorted(files), "inputs": inputs or {}}
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def file_stamps(folder: Path) -> list[list[object]]:
    """``[name, size, mtime_ns]`` of every file under ``folder`` (recursively, sorted), or [] when
    it is not a folder: what a fingerprint records of inputs such as the taxonomy."""
    if not folder.is_dir():
        return []
    return sorted(
        [str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns]
        for path in folder.rglob("*") if path.is_file()
        for stat in (path.stat(),)
    )


class UnreadableFile(Exception):
    """A landing file that cannot be read as its format; ``str(exc)`` is the one-line cause."""


@dataclass(frozen=True)
class LandingRead:
    """Raw records of a landing folder, and the files that could not be read (name -> cause);
    each of those is one record of ``frame`` with ``read_error = unreadable_file``."""

    frame: DataFrame
    unreadable: Mapping[str, str]


def read_landing(spark: SparkSession, folder: Path, *, config: IngestConfig) -> DataFrame:
    """All data files of ``folder`` as one DataFrame of raw records."""
    return read_landing_files(spark, folder, config=config).frame


def read_landing_files(
    spark: SparkSession, folder: Path, *, config: IngestConfig, unreadable: Mapping[str, str] | None = None
) -> LandingRead:
    """Raw records of every data file of ``folder``; files named in ``unreadable`` (found so by an
    earlier attempt) and files failing while their plan is built are not read but quarantined."""
    files = landing_files(folder)
    columns = SourceColumns.from_config(config)
    skipped = dict(unreadable or {})

    def readable(path: Path) -> bool:
        if path.name not in skipped and os.path.getsize(path) == 0:
            skipped[path.name] = "the file is empty (0 bytes)"
        return path.name not in skipped

    parts: list[DataFrame] = []
    jsonl = [path for path in files["jsonl"] if readable(path)]
    if jsonl:
        parts.append(read_jsonl(spark, jsonl, columns=columns))
    csv = same_csv_header([path for path in files["csv"] if readable(path)])
    parquet = same_parquet_schema([path for path in files["parquet"] if readable(path) and _parquet_footer(path, skipped)])
    pending = [(group, read_csv) for group in csv] + [(group, read_parquet) for group in parquet]
    while pending:
        group, reader = pending.pop(0)
        try:
            parts.append(reader(spark, group, columns=columns, separator=config.csv_label_separator))
        except (UnreadableFile, Py4JJavaError, PySparkException) as exc:
            if len(group) > 1:  # which file failed: each is read alone
                pending[:0] = [([path], reader) for path in group]
            else:
                skipped[group[0].name] = short_error(exc)
    if skipped:
        parts.append(unreadable_records(spark, skipped))
    return LandingRead(reduce(DataFrame.unionByName, parts), skipped)


def short_error(exc: BaseException) -> str:
    """One line saying why a file could not be read: the innermost Java cause, else the first line."""
    text = str(exc)
    causes = re.findall(r"Caused by: ([^\n]+)", text)
    line = (causes[-1] if causes else text.strip().splitlines()[0] if text.strip() else type(exc).__name__).strip()
    return line[:_MAX_ERROR_CHARS]


def failed_landing_file(exc: BaseException, folder: Path) -> str | None:
    """The name of the landing file of ``folder`` a Spark failure names (``FAILED_READ_FILE``), or None."""
    root = folder.resolve()
    for uri in _FAILED_READ.findall(str(exc)):
        path = Path(unquote(urlparse(uri).path) if uri.startswith("file:") else uri)
        if path.parent.resolve() == root:
            return path.name
    return None


def unreadable_records(spark: SparkSession, unreadable: Mapping[str, str]) -> DataFrame:
    """One raw record per unreadable file: its name, the cause as payload, ``unreadable_file``."""
    files = spark.createDataFrame(sorted(unreadable.items()), "source_file string, cause string")
    empty = F.lit(None).cast("string")
    return files.select(
        _raw_record(
            source_file=F.col("source_file"),
            raw_payload=F.col("cause"),
            read_error=F.lit(UNREADABLE_FILE),
            fields={name: empty for name in ("posting_id", *TEXT_FIELDS, "posted_at")},
            labels=F.lit(None),
            label_values=F.create_map(),
            split=F.lit(None),
        )
    )


def _raw_record(
    *,
    source_file: Column,
    raw_payload: Column,
    read_error: Column,
    fields: dict[str, Column],
    labels: Column,
    label_values: Column,
    split: Column,
) -> list[Column]:
    values = {
        "source_file": source_file,
        "raw_payload": raw_payload,
        "read_error": read_error,
        **fields,
        "labels": labels.cast("array<string>"),
        "label_values": label_values.cast("map<string,string>"),
        "split": split.cast("string"),
    }
    return [values[name].alias(name) for name in RAW_RECORD_COLUMNS]


def _label_values(columns: SourceColumns, value_of) -> Column:
    if not columns.label_columns:
        return F.create_map()
    return F.create_map(*[item for name in columns.label_columns for item in (F.lit(name), value_of(name))])


# ---------------------------------------------------------------------------------------------
# JSONL


def _json_path(name: str) -> str:
    return "$['" + name.replace("\\", "\\\\").replace("'", "\\'") + "']"


def _variant_fields(columns: SourceColumns, *, one_cast: bool) -> tuple[Callable[[str], Column], Column]:
    """A function from a source column's name to its value in the parsed line ``_v`` (a variant;
    null when absent), and whether the line is a JSON object. The line is cast ONCE to a struct
    of variants holding every source column (each field its own sub-variant), instead of one
    path lookup in the whole line per read and per type check: same values, a third of the cost.
    The cast is null exactly when the line is not an object, so it also answers that without
    walking the whole line for its schema. Names equal but for case cannot share a struct (Spark
    resolves fields without case), so they keep one lookup each."""
    names = list(dict.fromkeys(
        [columns.posting_id, *columns.text.values(), columns.labels, *filter(None, [columns.split]), *columns.label_columns]
    ))
    if not one_cast or len({name.lower() for name in names}) < len(names):
        is_object = F.coalesce(F.schema_of_variant("_v").startswith("OBJECT"), F.lit(False))
        return (lambda name: F.variant_get("_v", _json_path(name), "variant")), is_object
    record = F.col("_v").try_cast(StructType([StructField(name, VariantType()) for name in names]))
    return (lambda name: record.getField(name)), record.isNotNull()


def read_jsonl(spark: SparkSession, paths: Sequence[Path], *, columns: SourceColumns, one_cast: bool = True) -> DataFrame:
    """JSON lines as raw records. ``one_cast=False`` looks every field up by its path (the
    reference the one cast is tested against)."""
    lines = (
        spark.read.text([str(p) for p in paths])
        .select(F.col("value"), F.col("_metadata.file_name").alias("source_file"))
        .where(F.trim("value") != "")
        .withColumn("_v", F.try_parse_json("value"))
    )

    field, is_object = _variant_fields(columns, one_cast=one_cast)

    def type_of(name: str) -> Column:
        return F.schema_of_variant(field(name))

    def text_of(name: str) -> Column:
        return F.try_variant_get(field(name), "$", "string")

    def typed(name: str, allowed: Sequence[str]) -> Column:
        kind = type_of(name)
        return kind.isNull() | kind.isin("VOID", *allowed)

    checks = [typed(columns.posting_id, _ID_TYPES), typed(columns.labels, _LABEL_ARRAY_TYPES)]
    checks += [typed(source, _TEXT_TYPES) for source in columns.text.values()]
    if columns.split:
        checks.append(typed(columns.split, _TEXT_TYPES))
    read_error = (
        F.when(~is_object, "malformed")
        .when(has_invalid_utf8(F.col("value")), INVALID_UTF8)
        .when(~reduce(lambda a, b: a & b, checks), "wrong_type")
    )
    return lines.select(
        _raw_record(
            source_file=F.col("source_file"),
            raw_payload=F.col("value"),
            read_error=read_error,
            fields={"posting_id": text_of(columns.posting_id), **{k: text_of(v) for k, v in columns.text.items()}},
            labels=F.try_variant_get(field(columns.labels), "$", "array<string>"),
            label_values=_label_values(columns, text_of),
            split=text_of(columns.split) if columns.split else F.lit(None),
        )
    )


# ---------------------------------------------------------------------------------------------
# CSV


def _split_labels(column: Column, separator: str) -> Column:
    parts = F.filter(F.split(column, "\\Q" + separator + "\\E"), lambda label: F.trim(label) != "")
    return F.when(F.size(parts) > 0, parts)


def same_csv_header(paths: Sequence[Path]) -> list[list[Path]]:
    """CSV files in groups that Spark can read as one: files whose first line is the same
    complete record (an even number of quotes: no quoted field runs on to the next line). Any
    other file is a group of its own. One reader per group means one header job and one branch of
    the plan, not one per file."""
    groups: dict[bytes, list[Path]] = {}
    alone: list[list[Path]] = []
    for path in paths:
        line = _first_line(path)
        if line is None or line.count(b'"') % 2:
            alone.append([path])
        else:
            groups.setdefault(line, []).append(path)
    return [*groups.values(), *alone]


def _first_line(path: Path, *, limit: int = 1 << 16) -> bytes | None:
    """The first line of a (possibly gzipped) file with its line break, or None when it has no
    line break in its first ``limit`` bytes or cannot be read."""
    try:
        with (gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")) as handle:
            line = handle.readline(limit)
    except (OSError, EOFError):
        return None
    return line if line.endswith(b"\n") else None


def read_csv(spark: SparkSession, paths: Sequence[Path], *, columns: SourceColumns, separator: str) -> DataFrame:
    """CSV files with the same header line (see :func:`same_csv_header`); Spark reads the header."""
    options = {"header": "true", "multiLine": "true", "escape": '"', "encoding": "UTF-8"}
    header = spark.read.options(**options).csv(str(paths[0])).columns
    if not header:
        raise UnreadableFile("no header line")
    schema = ", ".join(f"`{name.replace('`', '``')}` STRING" for name in header) + f", {CORRUPT} STRING"
    df = (
        spark.read.options(**options, mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT)
        .schema(schema)
        .csv([str(path) for path in paths])
    )
    present = set(header)

    def text_of(name: str) -> Column:
        return F.col(f"`{name}`") if name in present else F.lit(None).cast("string")

    payload = F.coalesce(F.col(CORRUPT), F.to_json(F.struct(*[F.col(f"`{n}`") for n in header])))
    # the reader decoded the bytes: an invalid sequence is a U+FFFD in the payload
    read_error = F.when(F.col(CORRUPT).isNotNull(), "malformed").when(payload.contains(REPLACEMENT_CHARACTER), INVALID_UTF8)
    return df.select(
        _raw_record(
            source_file=F.col("_metadata.file_name"),
            raw_payload=payload,
            read_error=read_error,
            fields={"posting_id": text_of(columns.posting_id), **{k: text_of(v) for k, v in columns.text.items()}},
            labels=_split_labels(text_of(columns.labels), separator),
            label_values=_label_values(columns, text_of),
            split=text_of(columns.split) if columns.split else F.lit(None),
        )
    )


# ---------------------------------------------------------------------------------------------
# Parquet


def _parquet_footer(path: Path, skipped: dict[str, str]) -> bool:
    """Whether the footer of ``path`` reads, on the driver: a corrupt file is named here (in
    ``skipped``), without a failed Spark job."""
    try:
        pq.read_metadata(path)
        return True
    except (OSError, pa.ArrowException) as exc:
        skipped[path.name] = f"not a readable Parquet file: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        return False


def same_parquet_schema(paths: Sequence[Path]) -> list[list[Path]]:
    """Parquet files in groups of identical schemas (fields and key-value metadata), which Spark
    reads as one: one schema job and one branch of the plan per group, not per file."""
    groups: dict[bytes, list[Path]] = {}
    for path in paths:
        groups.setdefault(pq.read_schema(path).serialize().to_pybytes(), []).append(path)
    return list(groups.values())


def read_parquet(spark: SparkSession, paths: Sequence[Path], *, columns: SourceColumns, separator: str) -> DataFrame:
    """Parquet files of one schema (see :func:`same_parquet_schema`)."""
    df = spark.read.parquet(*[str(path) for path in paths])
    types: dict[str, DataType] = {f.name: f.dataType for f in df.schema.fields}
    wrong: list[Column] = []

    def as_text(name: str, *, accept_integral: bool = False, accept_time: bool = False) -> Column:
        if name not in types:
            return F.lit(None).cast("string")
        kind, column = types[name], F.col(f"`{name}`")
        if isinstance(kind, StringType):
            return column
        if (accept_integral and isinstance(kind, IntegralType)) or (
            accept_time and isinstance(kind, (TimestampType, TimestampNTZType, DateType))
        ):
            return column.cast("string")
        wrong.append(column.isNotNull())
        return F.lit(None).cast("string")

    def any_text(name: str) -> Column:
        return F.col(f"`{name}`").cast("string") if name in types else F.lit(None).cast("string")

    fields = {"posting_id": as_text(columns.posting_id, accept_integral=True)}
    fields |= {k: as_text(v, accept_time=k == "posted_at") for k, v in columns.text.items()}
    labels: Column = F.lit(None)
    label_type = types.get(columns.labels)
    if isinstance(label_type, ArrayType) and isinstance(label_type.elementType, StringType):
        labels = F.col(f"`{columns.labels}`")
    elif isinstance(label_type, StringType):
        labels = _split_labels(F.col(f"`{columns.labels}`"), separator)
    elif label_type is not None:
        wrong.append(F.col(f"`{columns.labels}`").isNotNull())
    split = as_text(columns.split) if columns.split else F.lit(None)
    # to_json decodes every string: an invalid sequence in the file is a U+FFFD in the payload
    payload = F.to_json(F.struct(*[F.col(f"`{n}`") for n in df.columns]))
    read_error = F.when(payload.contains(REPLACEMENT_CHARACTER), INVALID_UTF8)
    if wrong:
        read_error = read_error.when(reduce(lambda a, b: a | b, wrong), "wrong_type")
    return df.select(
        _raw_record(
            source_file=F.col("_metadata.file_name"),
            raw_payload=payload,
            read_error=read_error,
            fields=fields,
            labels=labels,
            label_values=_label_values(columns, any_text),
            split=split,
        )
    )
