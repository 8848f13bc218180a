"""Pure logic of the ingest job: raw landing records -> validated canonical postings.

The landing readers (:mod:`jobtagger.landing`) turn every file format into the same *raw record*
shape (:data:`RAW_RECORD_COLUMNS`): the source fields as text, the raw payload, the source file
and a read error (``malformed``, ``invalid_utf8`` or ``wrong_type``) when the record could not be
read as a posting.
This module validates and normalizes those records (one ``reason`` per rejected record, see
:data:`REASONS`), maps labels onto the taxonomy (:mod:`jobtagger.label_resolution`), hashes
content, deduplicates and plans the upsert into bronze. It reads and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Observation, Window
from pyspark.sql import functions as F

from jobtagger.config import IngestConfig
from jobtagger.errors import ReconciliationError
from jobtagger.label_resolution import RESOLVED_LABELS, resolved_labels_column, unpack_resolved_labels
from jobtagger.tables.schemas import BRONZE_POSTINGS_SCHEMA
from jobtagger.text.normalize import normalize_text_columns

# Reason codes of quarantined records, in order of precedence (a record gets the first that applies).
REASONS: dict[str, str] = {
    "unreadable_file": "the whole file could not be read (empty, no CSV header, corrupt Parquet or gzip): one row per file",
    "malformed": "the record could not be parsed (broken JSON line, bad CSV row, not an object)",
    "invalid_utf8": "the raw bytes are not valid UTF-8 (or hold U+FFFD replacement characters)",
    "wrong_type": "a field has the wrong type (e.g. a number or list where text is expected)",
    "missing_id": "the posting id is absent or empty",
    "huge_text": "title or description longer than ingest.max_text_chars",
    "empty_text": "neither a title nor a description after normalization",
    "bad_date": "posted_at is present but not an ISO-8601 date or timestamp (or its year is outside 1-9999)",
    "unknown_label": "a label outside the taxonomy, under ingest.unknown_labels=quarantine",
    "duplicate_version": "an older version of a posting id that appears more than once in the batch",
}
DUPLICATE_VERSION = "duplicate_version"
INVALID_UTF8 = "invalid_utf8"
# A number per landing record, unique within the run (set once, before the records are kept).
RECORD_ID = "record_id"

# Canonical text fields of a posting besides the id (see tables.schemas.POSTING_FIELDS).
TEXT_FIELDS = ("title", "description", "company", "location", "country", "language", "source", "url")
HTML_FIELDS = ("title", "description")
PLAIN_FIELDS = ("company", "location", "country", "language", "source", "url")
CONTENT_FIELDS = ("title", "description", "company", "location")

RAW_RECORD_COLUMNS = (
    "source_file",  # file name inside the landing folder
    "raw_payload",  # the record as read (JSON line, CSV row, or a Parquet row as JSON)
    "read_error",  # unreadable_file | malformed | invalid_utf8 | wrong_type (that first) | null
    "posting_id",
    *TEXT_FIELDS,
    "posted_at",  # text, parsed here
    "labels",  # array<string> from the labels column, null when absent
    "label_values",  # map<string,string>: label column -> value, for ingest.label_columns
    "split",
)

REPLACEMENT_CHARACTER = "\ufffd"


# ---------------------------------------------------------------------------------------------
# Validation and normalization


def with_record_id(raw: DataFrame) -> DataFrame:
    """``raw`` with :data:`RECORD_ID`, a number unique within the run, set on the raw records
    before validation: the projection is not deterministic, so Spark keeps it (and the validation
    above it) above the union of the landing readers instead of copying the validation into every
    reader's branch, which would multiply the code each task carries."""
    return raw.withColumn(RECORD_ID, F.monotonically_increasing_id())


def has_invalid_utf8(column: Column) -> Column:
    """Whether raw bytes are not valid UTF-8 or hold U+FFFD (bytes a reader already decoded,
    such as the CSV reader's, show their invalid sequences as U+FFFD: ``contains`` alone is
    enough for them)."""
    return ~F.is_valid_utf8(column) | column.contains(REPLACEMENT_CHARACTER)


def longer_than(column: str, limit: int) -> Column:
    """``length(column) > limit``, counting characters only when the bytes are over the limit
    (a string has at least as many bytes as characters; counting them reads every byte)."""
    return (F.octet_length(column) > limit) & (F.length(column) > limit)


def validate_records(raw: DataFrame, *, config: IngestConfig, lookup: Mapping[str, str]) -> DataFrame:
    """Raw records -> normalized canonical fields plus ``reason`` (null for a good record).

    Size is checked on the raw text (before any Python work); emptiness after HTML stripping.
    The readers name a record's invalid UTF-8 as its read error (checked the cheapest way for
    each format), so only those records' text is made valid before the clean-up.
    """
    posting_id = F.trim("posting_id")
    too_long = longer_than("title", config.max_text_chars) | longer_than("description", config.max_text_chars)
    df = raw.withColumns(
        {
            "posting_id": F.when(posting_id != "", posting_id),
            "_too_long": F.coalesce(too_long, F.lit(False)),
            "_posted_at_text": F.trim("posted_at"),
            "split": F.lower(F.trim("split")),
        }
    )
    # the label resolution (an Arrow UDF) rides in the text clean-up's Python pass
    df = normalize_text_columns(
        df, html_columns=HTML_FIELDS, plain_columns=PLAIN_FIELDS,
        alongside={RESOLVED_LABELS: resolved_labels_column(df.sparkSession, lookup, config=config)},
        invalid_utf8=F.col("read_error") == INVALID_UTF8,
    )
    df = df.withColumns(
        {
            "language": F.lower("language"),
            # years outside 1-9999 parse in Spark but no client can read them back: bad_date
            "posted_at": F.expr("CASE WHEN year(try_cast(_posted_at_text AS TIMESTAMP)) BETWEEN 1 AND 9999 "
                                "THEN try_cast(_posted_at_text AS TIMESTAMP) END"),
        }
    )
    df = unpack_resolved_labels(df)
    unknown_label = (
        F.size("unknown_labels") > 0 if config.unknown_labels == "quarantine" else F.lit(False)
    )
    reason = (
        F.when(F.col("read_error").isNotNull(), F.col("read_error"))
        .when(F.col("posting_id").isNull(), "missing_id")
        .when(F.col("_too_long"), "huge_text")
        .when(F.col("title").isNull() & F.col("description").isNull(), "empty_text")
        .when(
            F.col("posted_at").isNull() & F.col("_posted_at_text").isNotNull() & (F.col("_posted_at_text") != ""),
            "bad_date",
        )
        .when(unknown_label, "unknown_label")
    )
    return (
        df.withColumn("reason", reason)
        .withColumn("raw_payload", F.when(F.col("reason").isNotNull(), F.col("raw_payload")))  # kept for quarantine only
        .drop("_too_long", "_posted_at_text", "label_values")
    )


def observed_reasons(records: DataFrame) -> tuple[DataFrame, Observation]:
    """``records`` with their count per ``reason`` observed by Spark while the first action over
    them runs (no pass of its own); read it with :func:`reason_counts`."""
    observation = Observation()
    metrics = [F.count(F.lit(1)).alias("rows"), F.count("reason").alias("rejected")]
    metrics += [F.count_if(F.col("reason") == reason).alias(reason) for reason in REASONS]
    return records.observe(observation, *metrics), observation


def reason_counts(observation: Observation) -> dict[str | None, int] | None:
    """Rows per reason (``None``: good records) that :func:`observed_reasons` saw, or None when
    some rejected rows had a reason outside :data:`REASONS` (then count them with a query)."""
    metrics = observation.get
    counts: dict[str | None, int] = {reason: metrics[reason] for reason in REASONS if metrics[reason]}
    if sum(counts.values()) != metrics["rejected"]:
        return None
    if metrics["rows"] > metrics["rejected"]:
        counts[None] = metrics["rows"] - metrics["rejected"]
    return counts


# ---------------------------------------------------------------------------------------------
# Hashing and deduplication


def with_content_hash(df: DataFrame) -> DataFrame:
    """SHA-256 of the normalized title, description, company and location (exact reposts)."""
    parts = [F.coalesce(F.col(name), F.lit("")) for name in CONTENT_FIELDS]
    return df.withColumn("content_hash", F.sha2(F.concat_ws("\u001f", *parts), 256))


def rank_versions(df: DataFrame) -> DataFrame:
    """``version_rank`` per posting_id: 1 is the version kept (latest posted_at, then the later
    file, then the larger hash, then the first record read: deterministic), the others are
    duplicates to drop."""
    order = Window.partitionBy("posting_id").orderBy(
        F.col("posted_at").desc_nulls_last(), F.col("source_file").desc(), F.col("content_hash").desc(), F.col(RECORD_ID)
    )
    return df.withColumn("version_rank", F.row_number().over(order))


def surplus_versions(good: DataFrame) -> DataFrame:
    """The ``record_id`` of every version :func:`rank_versions` does not keep. Only the ranking
    keys are ranked (a shuffle of a few short columns, not of the texts)."""
    keys = good.select(RECORD_ID, "posting_id", "posted_at", "source_file", "content_hash")
    return rank_versions(keys).where("version_rank > 1").select(RECORD_ID)


def duplicate_versions(older: DataFrame) -> DataFrame:
    """Versions that were not kept (see :func:`surplus_versions`) as quarantine candidates
    (``reason = duplicate_version``): their normalized posting as JSON is the payload, so nothing
    is lost."""
    payload = F.to_json(F.struct(*[F.col(name) for name in ("posting_id", *TEXT_FIELDS, "posted_at", "labels", "split")]))
    return older.select(
        "run_date", "run_id", "source_file", F.lit(DUPLICATE_VERSION).alias("reason"), payload.alias("raw_payload")
    )


def record_fingerprint(df: DataFrame) -> Column:
    """Hash of every canonical field: equal fingerprints mean an unchanged posting."""
    fields = [name for name in BRONZE_POSTINGS_SCHEMA.fieldNames() if name in _FINGERPRINT_FIELDS]
    return F.sha2(F.to_json(F.struct(*[df[name] for name in fields])), 256)


# The upsert plan's actions (see plan_upsert); the first two are written to bronze.
UPSERT_ACTIONS = ("insert", "update", "unchanged", "stale")
CHANGED_ACTIONS = UPSERT_ACTIONS[:2]

_FINGERPRINT_FIELDS = frozenset(
    ["posting_id", *TEXT_FIELDS, "posted_at", "labels", "content_hash", "split"]
)


def plan_upsert(batch: DataFrame, existing: DataFrame | None) -> DataFrame:
    """Classify each batch posting against bronze as ``action``: insert (new id), update (this
    version is at least as recent: later posted_at, or same posted_at from a later or the same run
    date), unchanged (identical to bronze), or stale (bronze holds a newer version)."""
    if existing is None:
        return batch.withColumn("action", F.lit("insert"))
    current = existing.select(
        F.col("posting_id").alias("_id"),
        F.col("posted_at").alias("_old_posted_at"),
        F.col("run_date").alias("_old_run_date"),
        record_fingerprint(existing).alias("_old_fingerprint"),
    )
    joined = batch.join(current, batch["posting_id"] == current["_id"], "left")
    old_time = F.coalesce("_old_posted_at", F.lit(dt.datetime(1, 1, 1)))
    new_time = F.coalesce("posted_at", F.lit(dt.datetime(1, 1, 1)))
    newer = (new_time > old_time) | ((new_time == old_time) & (F.col("run_date") >= F.col("_old_run_date")))
    action = (
        F.when(F.col("_id").isNull(), "insert")
        .when(record_fingerprint(joined) == F.col("_old_fingerprint"), "unchanged")
        .when(newer, "update")
        .otherwise("stale")
    )
    return joined.withColumn("action", action).drop("_id", "_old_posted_at", "_old_run_date", "_old_fingerprint")


def content_duplicate_ids(batch: DataFrame, existing: DataFrame | None) -> DataFrame:
    """``posting_id`` of each batch posting whose content hash was seen first under another
    posting id (bronze before this batch, then the batch by ascending id; one of a group is not
    named). Only ids and hashes are shuffled."""
    seen = batch.select("posting_id", "content_hash", F.lit(1).alias("_batch"))
    if existing is not None:
        seen = seen.unionByName(existing.select("posting_id", "content_hash", F.lit(0).alias("_batch")))
    order = Window.partitionBy("content_hash").orderBy(F.col("_batch"), F.col("posting_id"))
    return (
        seen.withColumn("_first", F.first("posting_id").over(order))
        .where((F.col("_batch") == 1) & (F.col("_first") != F.col("posting_id")))
        .select("posting_id")
    )


SURPLUS = "surplus"
CONTENT_DUPLICATE = "content_duplicate"


def dedup_marks(good: DataFrame, existing: DataFrame | None) -> DataFrame:
    """Both dedup decisions in ONE pass over the keys: ``record_id``, ``posting_id`` and ``mark`` of
    every good record that :func:`surplus_versions` names (``mark = surplus``) or, among the
    versions kept, that :func:`content_duplicate_ids` names (``content_duplicate``); records that
    are neither are left out. The versions are ranked first, then the content hashes are ordered
    over the kept versions and bronze, so the batch is not joined with the surplus in between."""
    keys = good.select(RECORD_ID, "posting_id", "posted_at", "source_file", "content_hash")
    seen = rank_versions(keys).select(
        RECORD_ID, "posting_id", "content_hash", (F.col("version_rank") == 1).alias("_kept"), F.lit(1).alias("_batch")
    )
    if existing is not None:
        seen = seen.unionByName(existing.select(
            F.lit(None).cast("long").alias(RECORD_ID), "posting_id", "content_hash",
            F.lit(True).alias("_kept"), F.lit(0).alias("_batch"),
        ))
    # the first kept posting id of the hash in (bronze first, then by id) order, as content_duplicate_ids
    order = Window.partitionBy("content_hash").orderBy(F.col("_batch"), F.col("posting_id"))
    first = F.first(F.when(F.col("_kept"), F.col("posting_id")), ignorenulls=True).over(order)
    mark = F.when(~F.col("_kept"), F.lit(SURPLUS)).when(first != F.col("posting_id"), F.lit(CONTENT_DUPLICATE))
    return (
        seen.withColumn("mark", mark)
        .where((F.col("_batch") == 1) & F.col("mark").isNotNull())
        .select(RECORD_ID, "posting_id", "mark")
    )


def flag_content_duplicates(batch: DataFrame, duplicate_ids: DataFrame) -> DataFrame:
    """``is_content_duplicate``: the posting's id is one of ``duplicate_ids`` (from
    :func:`content_duplicate_ids`; a broadcast frame when it is small, so the batch is not shuffled)."""
    flagged = duplicate_ids.select("posting_id", F.lit(True).alias("is_content_duplicate"))
    return batch.join(flagged, "posting_id", "left").withColumn(
        "is_content_duplicate", F.coalesce("is_content_duplicate", F.lit(False))
    )


def to_bronze_rows(df: DataFrame) -> DataFrame:
    """Exactly the bronze columns, in order, with the bronze types."""
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    return df.select(
        [
            F.col(f.name) if types[f.name] == f.dataType.simpleString() else F.col(f.name).cast(f.dataType).alias(f.name)
            for f in BRONZE_POSTINGS_SCHEMA.fields
        ]
    )


def to_quarantine_rows(df: DataFrame, *, quarantined_at: dt.datetime) -> DataFrame:
    """Rejected records: ``run_date, run_id, source_file, reason, raw_payload, quarantined_at``."""
    return df.select(
        F.col("run_date").cast("date"),
        F.col("run_id").cast("string"),
        F.col("source_file").cast("string"),
        F.col("reason").cast("string"),
        F.make_valid_utf8("raw_payload").alias("raw_payload"),
        F.lit(quarantined_at).cast("timestamp").alias("quarantined_at"),
    )


# ---------------------------------------------------------------------------------------------
# Reconciliation


@dataclass(frozen=True)
class IngestCounts:
    """Where every record read went: bronze (valid postings after in-batch dedup) or quarantine
    (by reason, older duplicate versions included). An unreadable file counts as one record."""

    read: int
    quarantined: Mapping[str, int]
    bronze: int
    actions: Mapping[str, int]
    unknown_labels: int
    labels_given: int = 0  # labels the bronze rows brought (known + unknown)
    labels_dropped: int = 0  # unknown labels removed under ingest.unknown_labels=drop

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def duplicate_versions(self) -> int:
        return self.quarantined.get(DUPLICATE_VERSION, 0)

    @property
    def bad_record_share(self) -> float:
        """Share of the records read that were quarantined as bad (older duplicate versions are
        not bad records and do not count)."""
        return (self.quarantined_total - self.duplicate_versions) / self.read if self.read else 0.0

    @property
    def dropped_label_share(self) -> float:
        return self.labels_dropped / self.labels_given if self.labels_given else 0.0

    def check(self) -> None:
        """Raise ReconciliationError unless read = bronze + quarantined and the bronze rows are
        all accounted for by the upsert plan."""
        accounted = self.bronze + self.quarantined_total
        if accounted != self.read:
            raise ReconciliationError(
                f"ingest counts do not reconcile: read {self.read} != bronze {self.bronze} + quarantined "
                f"{self.quarantined_total} (duplicate versions {self.duplicate_versions} included) = {accounted}"
            )
        planned = sum(self.actions.values())
        if planned != self.bronze:
            raise ReconciliationError(
                f"ingest counts do not reconcile: bronze {self.bronze} != planned upsert rows {planned}"
            )

    def as_record(self) -> dict[str, object]:
        """The fields, for :meth:`from_record` (e.g. kept in a commit's metadata as JSON)."""
        return {
            "read": self.read, "quarantined": dict(self.quarantined), "bronze": self.bronze,
            "actions": dict(self.actions), "unknown_labels": self.unknown_labels,
            "labels_given": self.labels_given, "labels_dropped": self.labels_dropped,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, object]) -> IngestCounts:
        return cls(**record)  # type: ignore[arg-type]

    def as_rerun(self) -> IngestCounts:
        """The counts a rerun of the same records finds: what this run inserted or updated is
        unchanged then (stale postings stay stale)."""
        actions = {"unchanged": sum(self.actions.get(name, 0) for name in ("insert", "update", "unchanged"))}
        if self.actions.get("stale"):
            actions["stale"] = self.actions["stale"]
        return IngestCounts(
            read=self.read, quarantined=self.quarantined, bronze=self.bronze, actions=actions,
            unknown_labels=self.unknown_labels, labels_given=self.labels_given, labels_dropped=self.labels_dropped,
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "read": self.read,
            "bronze": self.bronze,
            "quarantined": self.quarantined_total,
            "quarantined_by_reason": dict(sorted(self.quarantined.items())),
            "duplicate_versions": self.duplicate_versions,
            "bad_record_share": round(self.bad_record_share, 4),
            "inserted": self.actions.get("insert", 0),
            "updated": self.actions.get("update", 0),
            "unchanged": self.actions.get("unchanged", 0),
            "stale": self.actions.get("stale", 0),
            "unknown_labels": self.unknown_labels,
            "labels_dropped": self.labels_dropped,
            "dropped_label_share": round(self.dropped_label_share, 4),
        }
