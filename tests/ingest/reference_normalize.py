"""REFERENCE (before issue 19), kept for tests/ingest/test_normalize_reference.py: the text clean-up
that sent every value to the pandas UDF. Not used by the job; the regular expression steps and
the Python function are the job's own (unchanged), only how values reach Python differs."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobtagger.text.normalize import clean_whitespace, decode_and_fold_udf, strip_html


def normalize_text_columns(
    df: DataFrame, *, html_columns: Sequence[str], plain_columns: Sequence[str]
) -> DataFrame:
    """Clean the given string columns in place.

    ``html_columns`` (title, description) may hold markup and keep their line structure;
    ``plain_columns`` (company, location...) become one trimmed line each. Empty results are null.
    """
    columns = [*html_columns, *plain_columns]
    if not columns:
        return df
    _decode_and_fold = decode_and_fold_udf(columns)
    stripped = [strip_html(F.col(name)) for name in html_columns] + [F.col(name) for name in plain_columns]
    folded = "_jobtagger_folded"
    df = df.withColumn(folded, _decode_and_fold(*stripped))
    cleaned = {
        name: clean_whitespace(F.col(f"{folded}.{name}"), multiline=name in html_columns) for name in columns
    }
    return df.withColumns(cleaned).drop(folded)
