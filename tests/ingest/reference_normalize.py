"""REFERENCE (before issue 19), kept for tests/ingest/test_normalize_reference.py: the text clean-up
that sent every value to the pandas UDF. Not used by the job.

Everything that Spark's built-in functions can do runs as SQL expressions (tag stripping,
paragraph breaks, control characters, whitespace). Only HTML entity decoding and NFKC need
Python; they run in ONE vectorised pandas UDF over all text columns, with a fast path for plain
ASCII values that contain no entity (the common case), so the Python round trip stays cheap.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

# Block-level tags become paragraph breaks, <br> a line break, list items a new line.
_PARAGRAPH_TAGS = r"(?i)<\s*/?\s*(p|div|h[1-6]|ul|ol|table|tr|section|article|blockquote|pre)\b[^>]*>"
_LINE_BREAK_TAGS = r"(?i)<\s*br\s*/?\s*>"
_LIST_ITEM_TAGS = r"(?i)<\s*li\b[^>]*>"
_INVISIBLE_BLOCKS = r"(?is)<\s*(script|style)\b[^>]*>.*?<\s*/\s*\1\s*>"
_COMMENTS = r"(?s)<!--.*?-->"
_ANY_TAG = r"<\s*/?\s*[A-Za-z!][^<>]*>"
# Control and format characters except newline and tab (tabs become spaces below).
_CONTROL = r"[\p{Cc}\p{Cf}&&[^\n\t]]"
_HORIZONTAL_SPACE = r"[\t\p{Zs}]+"


def strip_html(column: Column) -> Column:
    """Tags removed, block tags turned into paragraph breaks (entities are decoded later)."""
    text = F.regexp_replace(column, _COMMENTS, "")
    text = F.regexp_replace(text, _INVISIBLE_BLOCKS, "")
    text = F.regexp_replace(text, _LINE_BREAK_TAGS, "\n")
    text = F.regexp_replace(text, _LIST_ITEM_TAGS, "\n- ")
    text = F.regexp_replace(text, _PARAGRAPH_TAGS, "\n\n")
    return F.regexp_replace(text, _ANY_TAG, "")


def clean_whitespace(column: Column, *, multiline: bool) -> Column:
    """Control characters dropped, spaces collapsed, lines trimmed, at most one blank line."""
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


def decode_and_fold(value: str | None) -> str | None:
    """HTML entities decoded, then Unicode NFKC (full-width letters, ligatures, odd spaces)."""
    if not isinstance(value, str):  # None, or NaN for a null in a pandas batch
        return None
    if value.isascii() and "&" not in value:
        return value
    return unicodedata.normalize("NFKC", html.unescape(value))


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
    out_schema = StructType([StructField(name, StringType(), True) for name in columns])

    @F.pandas_udf(out_schema)
    def _decode_and_fold(*series: pd.Series) -> pd.DataFrame:
        return pd.DataFrame(
            {name: [decode_and_fold(v) for v in s.tolist()] for name, s in zip(columns, series)}
        )

    stripped = [strip_html(F.col(name)) for name in html_columns] + [F.col(name) for name in plain_columns]
    folded = "_jobtagger_folded"
    df = df.withColumn(folded, _decode_and_fold(*stripped))
    cleaned = {
        name: clean_whitespace(F.col(f"{folded}.{name}"), multiline=name in html_columns) for name in columns
    }
    return df.withColumns(cleaned).drop(folded)
