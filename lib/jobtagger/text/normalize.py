"""Text clean-up of posting fields: HTML to text, Unicode NFKC, control characters, whitespace.

Everything that Spark's built-in functions can do runs as SQL expressions (tag stripping,
paragraph breaks, control characters, whitespace, and the five common entities of ASCII text).
Only the rest of HTML entity decoding and NFKC need Python; they run in ONE vectorised pandas UDF
over all text columns, and only for values that need it (non-ASCII, or an entity beyond the five):
the others reach Python as nulls. ``tests/ingest/reference_normalize.py`` keeps the path that sent
every value to Python; a test compares the two on generated landing files.
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


# A value needs Python (entity decoding + NFKC) unless it is pure ASCII and every '&' starts one of
# the five entities decoded by Spark below: NFKC leaves ASCII as it is.
_NEEDS_PYTHON = r"[^\x00-\x7F]|&(?!(?:amp|lt|gt|quot|#39);)"
_SIMPLE_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"))


def decode_simple_entities(column: Column) -> Column:
    """``html.unescape`` of an ASCII value whose every '&' starts ``&amp; &lt; &gt; &quot; &#39;``:
    ``&amp;`` is replaced last, so a decoded '&' is never decoded again (``&amp;lt;`` -> ``&lt;``)."""
    text = column
    for entity, char in _SIMPLE_ENTITIES:
        text = F.replace(text, F.lit(entity), F.lit(char))
    text = F.replace(text, F.lit("&amp;"), F.lit("&"))
    return F.when(F.instr(column, "&") > 0, text).otherwise(column)


def decode_and_fold_udf(columns: Sequence[str]):
    """ONE pandas UDF applying :func:`decode_and_fold` to each of ``columns`` (a struct of them)."""
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

    Only values that need Python (:data:`_NEEDS_PYTHON`) are handed to the pandas UDF; the others
    reach it as nulls (a cheap Arrow column) and are decoded by Spark, with the same result.
    """
    columns = [*html_columns, *plain_columns]
    if not columns:
        return df
    _decode_and_fold = decode_and_fold_udf(columns)
    # every tag pattern of strip_html starts with '<': values without one skip its six regexes
    stripped = {
        f"_jobtagger_s_{name}": F.when(F.instr(F.col(name), "<") > 0, strip_html(F.col(name))).otherwise(F.col(name))
        for name in html_columns
    }
    stripped |= {f"_jobtagger_s_{name}": F.col(name) for name in plain_columns}
    needs = {f"_jobtagger_n_{name}": F.col(f"_jobtagger_s_{name}").rlike(_NEEDS_PYTHON) for name in columns}
    df = df.withColumns(stripped).withColumns(needs)
    folded = "_jobtagger_folded"
    df = df.withColumn(
        folded,
        _decode_and_fold(*[F.when(F.col(f"_jobtagger_n_{name}"), F.col(f"_jobtagger_s_{name}")) for name in columns]),
    )
    decoded = {
        name: F.when(F.col(f"_jobtagger_n_{name}"), F.col(f"{folded}.{name}")).otherwise(
            decode_simple_entities(F.col(f"_jobtagger_s_{name}"))
        )
        for name in columns
    }
    cleaned = {name: clean_whitespace(value, multiline=name in html_columns) for name, value in decoded.items()}
    return df.withColumns(cleaned).drop(folded, *stripped, *needs)
