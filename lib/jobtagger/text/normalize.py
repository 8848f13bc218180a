"""Text clean-up of posting fields: HTML to text, entities, Unicode NFKC, control characters,
whitespace.

All of it runs in ONE Arrow UDF over every text column of a row: the regular expression steps
with ``pyarrow.compute`` (RE2, compiled, over a whole Arrow batch at once), Python only for the
entity decoding and NFKC of the values that need them (non-ASCII, or holding an ``&``). Run as
Spark ``regexp_replace`` steps (about thirteen per column), the same clean-up was most of the
ingest read job's time, and its generated code made every task slow to warm up.

The patterns are the Java ones the job used before (``tests/ingest/reference_normalize.py``
keeps them), rewritten so that RE2 finds the same matches:

- ``\\s`` is Java's ``[ \\t\\n\\x0B\\f\\r]`` (RE2's lacks ``\\x0B``);
- ``(?i)`` in Java folds ASCII letters only, so tag names are spelled ``[sS][cC]...``;
- Java 17's ``\\b`` after a tag name holds unless the next character is a letter, a digit,
  ``_`` or a non-spacing mark (``isLetterOrDigit``, not ASCII ``\\w``);
- the back-reference of ``<(script|style)>...</\\1>`` is one alternative per name;
- Java's ``$`` also matches before a final line terminator: of those, only ``\\u2028`` and
  ``\\u2029`` are left when the trim runs, so the trim keeps one of them when it ends the value;
- runs that cannot change (one space) are not matched at all, which is where RE2 spent its time.

What stays apart: ``\\p{Cf}`` and the letter classes follow RE2's Unicode tables, which may be
newer than the JVM's (characters assigned since Unicode 13 can differ). Invalid UTF-8 is made
valid by Spark (U+FFFD) before the UDF; such records are quarantined anyway. A test compares this
path with the Java one on generated landing files, hand-written edge values and random strings.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Callable, Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import arrow_udf
from pyspark.sql.types import StringType, StructField, StructType

_SPACE = r"[\t\n\x0B\f\r ]"  # Java's \s
# Java 17's \b then [^>]*> after a tag name: '>' or a character that is not a "word" one
_TAG_TAIL = r"(?:>|[^\pL\p{Nd}\p{Mn}_>][^>]*>)"
# Unicode space separators other than ' ' (Zs)
_OTHER_SPACES = r"\x{A0}\x{1680}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}"


def _any_case(word: str) -> str:
    """``word`` matching any ASCII case spelling, as Java's ``(?i)`` without UNICODE_CASE does."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isascii() and c.isalpha() else c for c in word)


_PARAGRAPH_NAMES = "|".join(
    _any_case(name) for name in ("p", "div", "h[1-6]", "ul", "ol", "table", "tr", "section", "article", "blockquote", "pre")
)

# (pattern, replacement) in order. Markup: comments, script/style blocks, line breaks, list items,
# block tags as paragraph breaks, then any other tag. Every pattern needs a '<'.
STRIP_HTML: tuple[tuple[str, str], ...] = (
    (r"(?s)<!--.*?-->", ""),
    ("(?s)" + "|".join(
        f"<{_SPACE}*{_any_case(name)}{_TAG_TAIL}.*?<{_SPACE}*/{_SPACE}*{_any_case(name)}{_SPACE}*>"
        for name in ("script", "style")
    ), ""),
    (f"<{_SPACE}*{_any_case('br')}{_SPACE}*/?{_SPACE}*>", "\n"),
    (f"<{_SPACE}*{_any_case('li')}{_TAG_TAIL}", "\n- "),
    (f"<{_SPACE}*/?{_SPACE}*(?:{_PARAGRAPH_NAMES}){_TAG_TAIL}", "\n\n"),
    (f"<{_SPACE}*/?{_SPACE}*[A-Za-z!][^<>]*>", ""),
)
# Line ends, then control and format characters except newline and tab, then spaces: a run of
# tabs and space separators becomes one space.
_LINES_AND_SPACES = (
    (r"\r\n?", "\n"),
    (r"[\x00-\x08\x0B-\x1F\x7F-\x9F\p{Cf}]", ""),
    (rf"[\t\p{{Zs}}]{{2,}}|[\t{_OTHER_SPACES}]", " "),
)
# Trimmed: leading and trailing spaces and newlines (keeping a final U+2028/U+2029, see above).
_TRIM = (rf"^{_SPACE}+|{_SPACE}+([\x{{2028}}\x{{2029}}]?)$", r"\1")
# Multi-line values: a run of newlines with the spaces around it -> one newline, or two for two or
# more (at most one blank line), in two steps that match only what changes: the spaces around
# each newline go, then three or more newlines become two. (One step matching every newline and
# putting it back cost RE2 most of the multi-line clean-up.) One-line values: any run of spaces
# and newlines -> one space.
MULTILINE: tuple[tuple[str, str], ...] = (
    *_LINES_AND_SPACES, (r" +\n *|\n +", "\n"), (r"\n{3,}", "\n\n"), _TRIM,
)
ONE_LINE: tuple[tuple[str, str], ...] = (*_LINES_AND_SPACES, (rf"{_SPACE}{{2,}}|[\t\n\x0B\f\r]", " "), _TRIM)
# A value none of the line and space steps can change is printable ASCII without two spaces in a
# row or a space at either end. The others match this, and only they go through the steps.
MAY_CHANGE = r"[^\x20-\x7E]|  |^ | $"


def decode_and_fold(value: str | None) -> str | None:
    """HTML entities decoded, then Unicode NFKC (full-width letters, ligatures, odd spaces)."""
    if not isinstance(value, str):  # None, or NaN for a null in a pandas batch
        return None
    if value.isascii() and "&" not in value:
        return value
    return unicodedata.normalize("NFKC", html.unescape(value))


def _where(array: pa.Array, mask: pa.Array, change: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``change`` applied to the values where ``mask`` holds (nulls in ``mask``: not), the others kept."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return array
    return pc.replace_with_mask(array, mask, change(array.filter(mask)))


def _replace_all(array: pa.Array, steps: Sequence[tuple[str, str]]) -> pa.Array:
    for pattern, replacement in steps:
        array = pc.replace_substring_regex(array, pattern=pattern, replacement=replacement)
    return array


def clean_text(array: pa.Array, *, markup: bool) -> pa.Array:
    """One Arrow array of raw values, cleaned. ``markup``: HTML is turned into text and the line
    structure kept; else the value becomes one trimmed line. Empty results are null."""
    if markup:
        array = _where(array, pc.match_substring(array, "<"), lambda a: _replace_all(a, STRIP_HTML))
    needs_python = pc.or_(pc.invert(pc.string_is_ascii(array)), pc.match_substring(array, "&"))
    array = _where(array, needs_python, lambda a: pa.array([decode_and_fold(v) for v in a.to_pylist()], a.type))
    steps = MULTILINE if markup else ONE_LINE
    array = _where(array, pc.match_substring_regex(array, MAY_CHANGE), lambda a: _replace_all(a, steps))
    return pc.if_else(pc.equal(array, ""), pa.scalar(None, array.type), array)


def clean_text_udf(columns: Sequence[str], *, markup: Sequence[str]):
    """ONE Arrow UDF applying :func:`clean_text` to each of ``columns`` (a struct of them back).
    A scalar Arrow UDF shares its Python worker and its round trip with the other Arrow UDFs of
    the same projection (the label lookup)."""
    out_schema = StructType([StructField(name, StringType(), True) for name in columns])
    names = list(columns)
    html_like = [name in markup for name in names]

    @arrow_udf(out_schema)
    def _clean(*arrays: pa.Array) -> pa.Array:
        return pa.StructArray.from_arrays(
            [clean_text(array, markup=is_html) for array, is_html in zip(arrays, html_like)], names=names
        )

    return _clean


def normalize_text_columns(
    df: DataFrame, *, html_columns: Sequence[str], plain_columns: Sequence[str],
    alongside: Mapping[str, Column] | None = None,
) -> DataFrame:
    """Clean the given string columns in place.

    ``html_columns`` (title, description) may hold markup and keep their line structure;
    ``plain_columns`` (company, location...) become one trimmed line each. Empty results are null.
    ``alongside``: more columns to add in the projection of the UDF (other Arrow UDFs then run
    in the same Python pass: one worker and one copy of each row per task, not one per UDF).
    """
    columns = [*html_columns, *plain_columns]
    if not columns:
        return df.withColumns(dict(alongside)) if alongside else df
    cleaned = "_jobtagger_cleaned"
    clean = clean_text_udf(columns, markup=html_columns)
    df = df.withColumns({cleaned: clean(*[F.make_valid_utf8(F.col(name)) for name in columns]), **(alongside or {})})
    return df.withColumns({name: F.col(f"{cleaned}.{name}") for name in columns}).drop(cleaned)
