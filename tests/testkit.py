"""Helpers shared by tests in several folders.

Test folders have their own conftest.py files, which all import as the module ``conftest``, so
shared helpers live here under a name no other module uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def local_session(*, driver_memory: str, app_name: str):
    """A local[2] SparkSession for tests: 2 shuffle partitions, no UI, errors-only logging."""
    from jobtagger.config import load_config
    from jobtagger.session import build_session

    config = load_config(REPO_ROOT / "conf" / "local.yaml").spark.model_copy(
        update={
            "master": "local[2]",
            "shuffle_partitions": 2,
            "driver_memory": driver_memory,
            "log_level": "ERROR",
            "conf": {"spark.ui.enabled": "false", "spark.default.parallelism": "2"},
        }
    )
    return build_session(config, app_name=app_name)


def shared_data(relative: str) -> Path:
    """Path to a corpus in ../shared/data, or skip the test saying why it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared corpora live beside the repository, not in it")
    return path
