"""REFERENCE (before issue 19), kept for tests/ingest/test_normalize_reference.py: label ids looked
up in ONE map literal of every taxonomy spelling (Spark scans a map's keys linearly). Not used
by the job."""

from __future__ import annotations

import json
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobtagger import ingestion
from jobtagger.config import IngestConfig


def map_labels(df: DataFrame, *, config: IngestConfig, lookup: Mapping[str, str]) -> DataFrame:
    # A JSON literal parsed once by constant folding: map literals this large are not supported.
    known_ids = F.from_json(F.lit(json.dumps(dict(lookup), sort_keys=True)), "map<string,string>")

    def resolve(keys: Column) -> Column:
        return F.transform(keys, lambda key: F.try_element_at(known_ids, key))

    return ingestion.map_labels(df, config=config, lookup=lookup, resolve=resolve)
