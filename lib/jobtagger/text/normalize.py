"""Text clean-up of posting fields: HTML to text, entities, Unicode NFKC, control characters,
whitespace.

All of it runs in ONE Arrow UDF over every text column of a row: the regular expression steps
and the five common entities (``&amp; &lt; &gt; &quot; &#39;``) with ``pyarrow.compute`` (RE2,
compiled, over a whole Arrow batch at once); Python's ``html.unescape`` and NFKC only for the
values holding another entity or a character NFKC may change. Each step runs only on the values
a match test says it can change. Run as
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

import functools
import html
import itertools
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence

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
# What the steps can change: a control or format character, a tab or a space separator other than
# ' ', two spaces in a row, or a space at either end (before a final U+2028/U+2029 too, see _TRIM);
# for one line any newline, for several lines a space next to a newline, three newlines in a row
# or one at either end. Only the values matching these go through the steps.
_MAY_CHANGE_CHARACTER = rf"[\x00-\x09\x0B-\x1F\x7F-\x9F\p{{Cf}}{_OTHER_SPACES}]|  "
MAY_CHANGE = rf"{_MAY_CHANGE_CHARACTER}|\n|^ | [\x{{2028}}\x{{2029}}]?$"
MAY_CHANGE_LINES = rf"{_MAY_CHANGE_CHARACTER}| \n|\n |\n\n\n|^[ \n]|[ \n][\x{{2028}}\x{{2029}}]?$"
# The entities decoded in Arrow, ``&amp;`` last so that ``&amp;lt;`` gives ``&lt;`` as
# ``html.unescape`` does. Every entity ``html.unescape`` knows starts with ``&`` and a letter or
# ``#``: a value where each such pair starts one of these five holds no other entity.
COMMON_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&amp;", "&"))
_COMMON_ENTITY = "&(?:lt|gt|quot|#39|amp);"
_ENTITY_START = "&[A-Za-z#]"


def decode_and_fold(value: str | None) -> str | None:
    """HTML entities decoded, then Unicode NFKC (full-width letters, ligatures, odd spaces)."""
    if not isinstance(value, str):  # None, or NaN for a null in a pandas batch
        return None
    if value.isascii() and "&" not in value:
        return value
    return unicodedata.normalize("NFKC", html.unescape(value))


def nfkc_may_change(code_points: Iterable[int] | None = None) -> list[int]:
    """The code points a string must hold for NFKC to change it: those NFKC changes alone, those
    with a combining class, and those that compose with the character before them (the second
    of a canonical pair, Hangul vowels and trailing consonants). A string with none of them is
    NFKC already (Unicode's quick check says yes). Planes 4-13 and 15-16 hold no such character
    in any Unicode version so far, so they are not scanned (a test scans them)."""
    if code_points is None:
        code_points = itertools.chain(range(0x80, 0x40000), range(0xE0000, 0xF0000))
    changing = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul V and T jamo
    for code in code_points:
        if 0xD800 <= code < 0xE000:
            continue
        char = chr(code)
        if unicodedata.combining(char) or unicodedata.normalize("NFKC", char) != char:
            changing.add(code)
            continue
        pair = unicodedata.decomposition(char).split()
        if len(pair) == 2 and not pair[0].startswith("<") and unicodedata.normalize("NFC", char) == char:
            changing.add(int(pair[1], 16))
    return sorted(changing)


@functools.cache
def _nfkc_may_change_pattern() -> str:
    """An RE2 class of :func:`nfkc_may_change` (built once per Python worker, ~0.1 s)."""
    ranges: list[list[int]] = []
    for code in nfkc_may_change():
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "[" + "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges) + "]"


def decode_and_fold_array(array: pa.Array) -> pa.Array:
    """:func:`decode_and_fold` of every value of ``array``. Python runs only for the values holding
    an entity other than :data:`COMMON_ENTITIES` or a character NFKC may change (RE2 match tests
    find them); the five entities of the other values are replaced in Arrow."""
    non_ascii = pc.invert(pc.fill_null(pc.string_is_ascii(array), True))
    in_python = _where_matching(array, non_ascii, lambda some: _matches(some, _nfkc_may_change_pattern()))
    other_entity = common_entity = ampersand = _matches(array, "&")
    if pc.any(ampersand).as_py():
        some = array.filter(ampersand)
        common = pc.count_substring_regex(some, _COMMON_ENTITY)
        other = pc.not_equal(pc.count_substring_regex(some, _ENTITY_START), common)
        other_entity = pc.replace_with_mask(ampersand, ampersand, other)
        common_entity = pc.replace_with_mask(ampersand, ampersand, pc.greater(common, 0))
    in_python = pc.or_(in_python, other_entity)
    array = _where(array, in_python, lambda a: pa.array([decode_and_fold(v) for v in a.to_pylist()], a.type))
    return _where(array, pc.and_not(common_entity, in_python), _common_entities_decoded)


def _matches(array: pa.Array, pattern: str) -> pa.Array:
    """Whether each value matches ``pattern`` (false for null). An RE2 search, even for a plain
    string: Arrow's own substring search is ~15 times slower."""
    return pc.fill_null(pc.match_substring_regex(array, pattern), False)


def _where_matching(array: pa.Array, mask: pa.Array, test: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``test`` of the values where ``mask`` holds, false elsewhere."""
    if not pc.any(mask).as_py():
        return mask
    return pc.replace_with_mask(mask, mask, pc.fill_null(test(array.filter(mask)), False))


def _common_entities_decoded(array: pa.Array) -> pa.Array:
    for entity, character in COMMON_ENTITIES:
        array = pc.replace_substring_regex(array, pattern=entity, replacement=character)
    return array


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
        array = _where(array, _matches(array, "<"), lambda a: _replace_all(a, STRIP_HTML))
    array = decode_and_fold_array(array)
    steps, may_change = (MULTILINE, MAY_CHANGE_LINES) if markup else (ONE_LINE, MAY_CHANGE)
    array = _where(array, _matches(array, may_change), lambda a: _replace_all(a, steps))
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
    alongside: Mapping[str, Column] | None = None, invalid_utf8: Column | None = None,
) -> DataFrame:
    """Clean the given string columns in place.

    ``html_columns`` (title, description) may hold markup and keep their line structure;
    ``plain_columns`` (company, location...) become one trimmed line each. Empty results are null.
    ``alongside``: more columns to add in the projection of the UDF (other Arrow UDFs then run
    in the same Python pass: one worker and one copy of each row per task, not one per UDF).
    ``invalid_utf8``: true for the rows whose values may not be valid UTF-8 (found so by a check
    upstream); only they are made valid before the UDF. None: every value is.
    """
    columns = [*html_columns, *plain_columns]
    if not columns:
        return df.withColumns(dict(alongside)) if alongside else df
    cleaned = "_jobtagger_cleaned"
    clean = clean_text_udf(columns, markup=html_columns)
    def valid(name: str) -> Column:
        if invalid_utf8 is None:
            return F.make_valid_utf8(F.col(name))
        return F.when(invalid_utf8, F.make_valid_utf8(F.col(name))).otherwise(F.col(name))

    df = df.withColumns({cleaned: clean(*[valid(name) for name in columns]), **(alongside or {})})
    return df.withColumns({name: F.col(f"{cleaned}.{name}") for name in columns}).drop(cleaned)
