"""The label resolution of ingest before issue 19 (one JSON map literal of every taxonomy spelling,
looked up linearly per label), kept as the reference the new path is compared with."""

from __future__ import annotations

import json
from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobtagger.config import IngestConfig
from jobtagger.ingestion import label_key_column, labels_from_columns


def map_labels(df: DataFrame, *, config: IngestConfig, lookup: Mapping[str, str]) -> DataFrame:
    """Resolve ``labels`` (+ label columns) against the taxonomy.

    ``lookup`` comes from :func:`label_lookup`. Adds ``labels`` (sorted, distinct; null when the
    record brought no labels at all) and ``unknown_labels`` (labels that matched nothing, as given;
    kept in ``labels`` too under the ``keep`` policy).
    """
    from_array = F.filter(
        F.transform("labels", lambda label: F.trim(label)), lambda label: label.isNotNull() & (label != "")
    )
    none = F.array().cast("array<string>")
    given = F.concat(F.coalesce(from_array, none), F.coalesce(labels_from_columns(config.label_columns), none))
    # A JSON literal parsed once by constant folding: map literals this large are not supported.
    known_ids = F.from_json(F.lit(json.dumps(dict(lookup), sort_keys=True)), "map<string,string>")
    resolved = F.transform(
        given,
        lambda label: F.struct(
            label.alias("given"), F.try_element_at(known_ids, label_key_column(label)).alias("known")
        ),
    )
    df = df.withColumn("_labels_resolved", resolved)
    known = F.transform(F.filter("_labels_resolved", lambda x: x["known"].isNotNull()), lambda x: x["known"])
    unknown = F.transform(F.filter("_labels_resolved", lambda x: x["known"].isNull()), lambda x: x["given"])
    kept = F.concat(known, unknown) if config.unknown_labels == "keep" else known
    had_labels = F.size("_labels_resolved") > 0
    return (
        df.withColumn("labels", F.when(had_labels, F.array_sort(F.array_distinct(kept))))
        .withColumn("unknown_labels", F.array_sort(F.array_distinct(unknown)))
        .drop("_labels_resolved")
    )
