"""REFERENCE (before issue 19), kept for tests/ingest/test_normalize_reference.py: the text clean-up
that sent every value to the pandas UDF and ran every regular expression step on every value.
Not used by the job. The regular expression chain is a frozen copy of the job's before the
guarded steps; the Python function (entity decoding + NFKC) is the job's own, in the pandas UDF the job
used then."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from jobtagger.text.normalize import decode_and_fold

_PARAGRAPH_TAGS = r"(?i)<\s*/?\s*(p|div|h[1-6]|ul|ol|table|tr|section|article|blockquote|pre)\b[^>]*>"
_LINE_BREAK_TAGS = r"(?i)<\s*br\s*/?\s*>"
_LIST_ITEM_TAGS = r"(?i)<\s*li\b[^>]*>"
_INVISIBLE_BLOCKS = r"(?is)<\s*(script|style)\b[^>]*>.*?<\s*/\s*\1\s*>"
_COMMENTS = r"(?s)<!--.*?-->"
_ANY_TAG = r"<\s*/?\s*[A-Za-z!][^<>]*>"
_CONTROL = r"[\p{Cc}\p{Cf}&&[^\n\t]]"
_HORIZONTAL_SPACE = r"[\t\p{Zs}]+"


def strip_html(column: Column) -> Column:
    text = F.regexp_replace(column, _COMMENTS, "")
    text = F.regexp_replace(text, _INVISIBLE_BLOCKS, "")
    text = F.regexp_replace(text, _LINE_BREAK_TAGS, "\n")
    text = F.regexp_replace(text, _LIST_ITEM_TAGS, "\n- ")
    text = F.regexp_replace(text, _PARAGRAPH_TAGS, "\n\n")
    return F.regexp_replace(text, _ANY_TAG, "")


def clean_whitespace(column: Column, *, multiline: bool) -> Column:
    text = F.regexp_replace(column, r"\r\n?", "\n")
    text = F.regexp_replace(text, _CONTROL, "")
    text = F.regexp_replace(text, _HORIZONTAL_SPACE, " ")
    if multiline:
        text = F.regexp_replace(text, r" *\n *", "\n")
        text = F.regexp_replace(text, r"\n{3,}", "\n\n")
    else:
        text = F.regexp_replace(text, r"\s+", " ")
    text = F.regexp_replace(text, r"^\s+|\s+$", "")
    return F.when(text == "", F.lit(None)).otherwise(text)


def decode_and_fold_udf(columns: Sequence[str]):
    """ONE pandas UDF applying the job's :func:`decode_and_fold` to each of ``columns``."""
    out_schema = StructType([StructField(name, StringType(), True) for name in columns])

    @F.pandas_udf(out_schema)
    def _decode_and_fold(*series: pd.Series) -> pd.DataFrame:
        return pd.DataFrame(
            {name: [decode_and_fold(v) for v in s.tolist()] for name, s in zip(columns, series)}
        )

    return _decode_and_fold


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
