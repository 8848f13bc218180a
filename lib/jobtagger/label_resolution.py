"""Raw labels of landing records -> taxonomy label ids (pure logic, no I/O).

A record's *given* labels are its ``labels`` trimmed (empty ones dropped), then those derived from
``ingest.label_columns``. Each is looked up by its key: :func:`~jobtagger.taxonomy.normalize_key`
spelling with ASCII whitespace collapsed and no spaces around the kind colon, so
``Skill : Python3`` finds ``skill:python``. The result per record is ``labels`` (sorted, distinct;
null when the record brought no labels) and ``unknown_labels`` (the given labels that matched
nothing, as given; kept in ``labels`` too under the ``keep`` policy).

All of it runs in ONE Arrow UDF per batch (:func:`label_resolver`): every given label of the batch
is trimmed, keyed, looked up (``index_in`` against the broadcast table) and put back into sorted,
distinct lists at once. As Spark higher-order functions (``transform``/``filter`` with regular
expressions inside, which Spark cannot compile to code and evaluates row by row), the same work
cost the ingest read job about a fifth of its time on a fresh JVM.

The keys follow the Spark expressions the job used before (``tests/ingest/reference_labels.py``
keeps them): Java's ``\\s`` is ASCII whitespace, Spark's ``trim`` removes spaces only, and
non-ASCII text is lowercased by Python's ``str.lower`` (Java's ``toLowerCase``: both apply
Unicode's full case mappings).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.functions import arrow_udf
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from jobtagger.config import IngestConfig
from jobtagger.taxonomy import Taxonomy, normalize_key, snake_case

NULL_LABEL_VALUES = ("", "na", "n/a", "none", "null", "nan", "-", "0", "false", "no")
TRUE_FLAG_VALUES = ("1", "1.0", "true", "yes", "y", "t")
RESOLVED_SCHEMA = StructType(
    [StructField("labels", ArrayType(StringType())), StructField("unknown_labels", ArrayType(StringType()))]
)
RESOLVED_LABELS = "_labels_resolved"  # the resolver's struct column, before unpack_resolved_labels
_JAVA_SPACES = r"[\t\n\x0B\f\r ]+"  # Java's \s+, which the key collapses to one space
_KIND_COLON = (r"^([^:]*?) ?: ?", r"\1:")  # "skill : python" -> "skill:python"


def label_lookup(taxonomy: Taxonomy | None) -> dict[str, str]:
    """Lookup key -> canonical label id.

    Keys are ``kind:form`` where form is the id's value, the display name or a synonym, each in
    :func:`~jobtagger.taxonomy.normalize_key` and snake-case spelling, so ``skill:python``,
    ``Skill:Python3`` and ``seniority:jr`` all resolve. A bare word (``earn``, ``python``) never
    matches: label ids carry their kind, and a corpus's own topic codes must not collide with a
    synonym by accident. The first label claiming a key wins (taxonomy file order).
    """
    lookup: dict[str, str] = {}
    if taxonomy is None:
        return lookup
    for label in taxonomy.labels:
        kind, value = label.split(":", 1)
        for form in (value, *taxonomy.surface_forms(label)):
            for spelling in (normalize_key(form), snake_case(form)):
                lookup.setdefault(f"{kind}:{spelling}", label)
    return lookup


def labels_from_columns(label_columns: Mapping[str, str]) -> Column | None:
    """Labels derived from ``ingest.label_columns`` (see IngestConfig) out of ``label_values``, or
    None when there are none."""
    parts = []
    for source, target in label_columns.items():
        value = F.lower(F.trim(F.try_element_at("label_values", F.lit(source))))
        if ":" in target:  # a flag column: 1/true/yes sets the label
            parts.append(F.when(value.isin(*TRUE_FLAG_VALUES), F.lit(target)))
        else:  # a categorical column: its value names the label of that kind
            parts.append(
                F.when(
                    value.isNotNull() & ~value.isin(*NULL_LABEL_VALUES),
                    F.concat(F.lit(f"{target}:"), F.regexp_replace(F.regexp_replace(value, "[^a-z0-9]+", "_"), "^_+|_+$", "")),
                )
            )
    if not parts:
        return None
    return F.filter(F.array(*parts), lambda label: label.isNotNull())


def label_keys(labels: pa.Array) -> pa.Array:
    """Lookup keys of given labels (valid UTF-8): whitespace runs to one space, trimmed,
    lowercased, no spaces around the kind colon."""
    keys = pc.utf8_trim(pc.replace_substring_regex(labels, _JAVA_SPACES, " "), characters=" ")
    ascii_only = pc.fill_null(pc.string_is_ascii(keys), True)
    if pc.all(ascii_only).as_py():
        keys = pc.ascii_lower(keys)
    else:
        keys = pa.array([None if key is None else key.lower() for key in keys.to_pylist()], keys.type)
    return pc.replace_substring_regex(keys, _KIND_COLON[0], _KIND_COLON[1])


def resolve_label_arrays(
    given: pa.ListArray, extra: pa.ListArray | None, *, keys: pa.Array, ids: pa.Array, keep_unknown: bool
) -> pa.StructArray:
    """One batch: raw ``given`` labels (trimmed here, empty ones dropped) and ``extra`` labels (from
    label columns, taken as they are) -> ``labels`` and ``unknown_labels`` per row (see the
    module docstring). ``keys``/``ids``: the lookup table, as parallel arrays."""
    rows = len(given)
    raw, raw_rows = _flat(given)
    raw = pc.utf8_trim(_valid_utf8(raw), characters=" ")
    present = pc.fill_null(pc.not_equal(raw, ""), False)
    values, value_rows = raw.filter(present), raw_rows[np.asarray(present, dtype=bool)]
    if extra is not None:
        more, more_rows = _flat(extra)
        values = pa.concat_arrays([values, _valid_utf8(more).cast(values.type)])
        value_rows = np.concatenate([value_rows, more_rows])
    # each distinct label of the batch is keyed and looked up once (a batch repeats a few hundred labels)
    encoded = pc.dictionary_encode(values)
    distinct = encoded.dictionary
    found = ids.take(pc.index_in(label_keys(distinct), value_set=keys.cast(distinct.type))).cast(values.type)
    found = found.take(encoded.indices)
    known = pc.is_valid(found)
    is_known = np.asarray(known, dtype=bool)
    unknown_values, unknown_rows = values.filter(pc.invert(known)), value_rows[~is_known]
    if keep_unknown:
        kept_values, kept_rows = pc.coalesce(found, values), value_rows
    else:
        kept_values, kept_rows = found.filter(known), value_rows[is_known]
    had_labels = np.bincount(value_rows, minlength=rows) > 0
    return pa.StructArray.from_arrays(
        [_sorted_distinct_lists(kept_rows, kept_values, rows, null=~had_labels),
         _sorted_distinct_lists(unknown_rows, unknown_values, rows, null=None)],
        names=["labels", "unknown_labels"],
    )


def _flat(lists: pa.ListArray) -> tuple[pa.Array, np.ndarray]:
    """The values of ``lists`` (null lists give none) and the row of each value."""
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    return lists.flatten(), np.repeat(np.arange(len(lists)), lengths)


def _valid_utf8(values: pa.Array) -> pa.Array:
    """``values``, with byte sequences that are not UTF-8 replaced by U+FFFD (Spark passes the
    raw bytes of a broken record on; it is quarantined, its labels must just not fail the batch)."""
    try:
        values.validate(full=True)
        return values
    except pa.ArrowInvalid:
        raw = values.cast(pa.binary() if values.type == pa.string() else pa.large_binary()).to_pylist()
        return pa.array([None if v is None else v.decode("utf-8", "replace") for v in raw], values.type)


def _sorted_distinct_lists(rows: np.ndarray, values: pa.Array, count: int, *, null: np.ndarray | None) -> pa.ListArray:
    """``count`` lists: list ``i`` holds the distinct ``values`` whose row is ``i``, sorted by
    their UTF-8 bytes (Spark's ``array_sort(array_distinct(...))``); null where ``null`` is set."""
    table = pa.table({"row": pa.array(rows, pa.int64()), "value": values})
    table = table.take(pc.sort_indices(table, sort_keys=[("row", "ascending"), ("value", "ascending")]))
    row, value = table["row"].to_numpy(), table["value"].combine_chunks()
    first = np.ones(len(row), dtype=bool)
    if len(row) > 1:
        first[1:] = (row[1:] != row[:-1]) | np.asarray(pc.not_equal(value[1:], value[:-1]), dtype=bool)
    offsets = np.zeros(count + 1, dtype=np.int32)
    np.cumsum(np.bincount(row[first], minlength=count), out=offsets[1:])
    mask = None if null is None else pa.array(null, pa.bool_())
    return pa.ListArray.from_arrays(pa.array(offsets), value.filter(pa.array(first)), mask=mask)


def label_resolver(
    spark: SparkSession, lookup: Mapping[str, str], *, keep_unknown: bool
) -> Callable[..., Column]:
    """``(labels[, extra]) -> struct<labels, unknown_labels>``: the Arrow UDF resolving a batch
    (:func:`resolve_label_arrays`). The lookup table travels as a broadcast variable, once per
    executor, not inside the query plan."""
    table_keys = sorted(lookup)
    shared = spark.sparkContext.broadcast(
        (pa.array(table_keys, pa.string()), pa.array([lookup[key] for key in table_keys], pa.string()))
    )

    @arrow_udf(RESOLVED_SCHEMA)
    def resolve(given: pa.Array, *extra: pa.Array) -> pa.Array:
        keys, ids = shared.value  # unpickled once per Python worker
        return resolve_label_arrays(given, extra[0] if extra else None, keys=keys, ids=ids, keep_unknown=keep_unknown)

    return resolve


def resolved_labels_column(spark: SparkSession, lookup: Mapping[str, str], *, config: IngestConfig) -> Column:
    """The resolver applied to a raw record's ``labels`` and ``label_values``, under
    ``config.unknown_labels``; add it as :data:`RESOLVED_LABELS`, then :func:`unpack_resolved_labels`."""
    resolve = label_resolver(spark, lookup, keep_unknown=config.unknown_labels == "keep")
    extra = labels_from_columns(config.label_columns)
    return resolve(F.col("labels")) if extra is None else resolve(F.col("labels"), extra)


def unpack_resolved_labels(df: DataFrame) -> DataFrame:
    """``labels`` and ``unknown_labels`` out of :data:`RESOLVED_LABELS`, which is dropped."""
    return df.withColumns(
        {"labels": F.col(f"{RESOLVED_LABELS}.labels"), "unknown_labels": F.col(f"{RESOLVED_LABELS}.unknown_labels")}
    ).drop(RESOLVED_LABELS)


def map_labels(df: DataFrame, *, config: IngestConfig, lookup: Mapping[str, str]) -> DataFrame:
    """Raw records with ``labels`` resolved against the taxonomy and ``unknown_labels`` added."""
    resolved = df.withColumn(RESOLVED_LABELS, resolved_labels_column(df.sparkSession, lookup, config=config))
    return unpack_resolved_labels(resolved)
