"""Copy-on-write by key: the data files of a table that hold some of a set of keys.

A merge, and a write that replaces keys outside its own partitions, both remove exactly those
files and add new ones with their other rows, in the same commit (no deletion vectors). Only the
file names of the matching rows reach the driver.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def relative_path(root: str, uri: str) -> str:
    """``uri`` (a ``file:`` URI or a plain path) relative to the table folder ``root``."""
    path = unquote(urlparse(uri).path) if uri.startswith("file:") else uri
    return os.path.relpath(path, root)


def files_holding(current: DataFrame, keys: DataFrame, root: str) -> list[str]:
    """Paths, relative to ``root``, of the files scanned by ``current`` (a Parquet scan of the
    table's files) with a row whose key matches a row of ``keys`` (its columns are the key)."""
    names = keys.columns
    uris = (
        current.select(*names, F.col("_metadata.file_path").alias("_file"))
        .join(keys, names, "left_semi")
        .select("_file")
        .distinct()
        .collect()
    )
    return sorted({relative_path(root, row[0]) for row in uris})
