"""The compiled xxhash64 against the reference ``xxhash`` package and Spark's own ``xxhash64``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import xxhash
from pyspark.sql import functions as F

from jobtagger.quality.spark_hash import SPARK_XXHASH64_SEED, xxhash64


def reference(values) -> list[int]:
    return [int(np.uint64(xxhash.xxh64_intdigest(value, seed=SPARK_XXHASH64_SEED)).view(np.int64)) for value in values]


def test_every_length_path_equals_the_reference():
    """Lengths 0-99 cross the 32-byte stripes and the 8-, 4- and 1-byte tails; plus long values."""
    rng = np.random.default_rng(11)
    values = [bytes(rng.integers(0, 256, n, dtype=np.uint8)) for n in [*range(100), *range(100), 1000, 4099]]
    assert xxhash64(pa.array(values, pa.binary())).tolist() == reference(values)
    assert xxhash64(pa.array(values, pa.binary()), seed=0).tolist() == [
        int(np.uint64(xxhash.xxh64_intdigest(value, seed=0)).view(np.int64)) for value in values]


def test_nulls_are_skipped_and_slices_and_string_layouts_hash_their_own_values():
    ids = pa.array(["a", None, "posting-0001", "ü-ß-€", ""], pa.string())
    expected = reference([b"a", "posting-0001".encode(), "ü-ß-€".encode(), b""])
    assert xxhash64(ids).tolist() == expected
    assert xxhash64(ids.cast(pa.large_string())).tolist() == expected
    assert xxhash64(ids.slice(2, 2)).tolist() == expected[1:3]
    assert xxhash64(pa.array([], pa.string())).tolist() == [] and xxhash64(pa.array([None], pa.string())).tolist() == []


def test_it_is_sparks_xxhash64(spark):
    ids = ["posting-1", "ü-ß-€-日本", "", "x" * 70]
    expected = [row[0] for row in spark.createDataFrame([(i,) for i in ids], "id string").select(F.xxhash64("id")).collect()]
    assert xxhash64(pa.array(ids)).tolist() == expected
