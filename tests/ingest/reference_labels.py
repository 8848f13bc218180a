"""REFERENCE (before issue 19), kept for the label tests: the label resolution as Spark
expressions (``transform``/``filter`` with regular expressions inside, evaluated row by row)
around a lookup of each key. ``resolve="map"`` looks keys up in ONE map literal of every
taxonomy spelling (the first version: Spark scans a map's keys linearly); ``resolve="udf"`` in
the broadcast Arrow lookup that followed it. Not used by the job."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import arrow_udf

from jobtagger.config import IngestConfig
from jobtagger.label_resolution import labels_from_columns
from jobtagger.taxonomy import normalize_key_column


def label_key_column(label: Column) -> Column:
    return F.regexp_replace(normalize_key_column(label), r"^([^:]*?) ?: ?", "$1:")


def given_labels(config: IngestConfig) -> Column:
    from_array = F.filter(
        F.transform("labels", lambda label: F.trim(label)), lambda label: label.isNotNull() & (label != "")
    )
    none = F.array().cast("array<string>")
    from_columns = labels_from_columns(config.label_columns)
    return F.concat(F.coalesce(from_array, none), none if from_columns is None else F.coalesce(from_columns, none))


def _udf_lookup(spark, lookup: Mapping[str, str]):
    keys = sorted(lookup)
    shared = spark.sparkContext.broadcast(
        (pa.array(keys, pa.string()), pa.array([lookup[key] for key in keys], pa.string()))
    )

    @arrow_udf("array<string>")
    def resolve(batch: pa.Array) -> pa.Array:
        table_keys, table_ids = shared.value
        values = batch.flatten()
        ids = table_ids.take(pc.index_in(values, value_set=table_keys.cast(values.type)))
        offsets = pc.subtract(batch.offsets, batch.offsets[0])
        return pa.ListArray.from_arrays(offsets, ids, mask=batch.is_null())

    return resolve


def map_labels(
    df: DataFrame, *, config: IngestConfig, lookup: Mapping[str, str], resolve: Literal["map", "udf"] = "map"
) -> DataFrame:
    if resolve == "map":
        # A JSON literal parsed once by constant folding: map literals this large are not supported.
        known_ids = F.from_json(F.lit(json.dumps(dict(lookup), sort_keys=True)), "map<string,string>")

        def ids_of(keys: Column) -> Column:
            return F.transform(keys, lambda key: F.try_element_at(known_ids, key))
    else:
        ids_of = _udf_lookup(df.sparkSession, lookup)
    df = df.withColumn("_labels_given", given_labels(config))
    df = df.withColumn("_label_ids", ids_of(F.transform("_labels_given", label_key_column)))
    resolved = F.transform(
        "_labels_given", lambda label, i: F.struct(label.alias("given"), F.get("_label_ids", i).alias("known"))
    )
    df = df.withColumn("_labels_resolved", resolved)
    known = F.transform(F.filter("_labels_resolved", lambda x: x["known"].isNotNull()), lambda x: x["known"])
    unknown = F.transform(F.filter("_labels_resolved", lambda x: x["known"].isNull()), lambda x: x["given"])
    kept = F.concat(known, unknown) if config.unknown_labels == "keep" else known
    had_labels = F.size("_labels_resolved") > 0
    return (
        df.withColumn("labels", F.when(had_labels, F.array_sort(F.array_distinct(kept))))
        .withColumn("unknown_labels", F.array_sort(F.array_distinct(unknown)))
        .drop("_labels_given", "_label_ids", "_labels_resolved")
    )
