"""The reliability suite's session: smaller than the default suite's (its jobs run beside it as
processes of their own, each with a JVM)."""

from __future__ import annotations

import pytest

from jobtagger.config import load_config
from jobtagger.session import build_session
from testkit import REPO_ROOT


@pytest.fixture(scope="session")
def spark():
    config = load_config(REPO_ROOT / "conf" / "local.yaml").spark.model_copy(
        update={
            "master": "local[2]",
            "shuffle_partitions": 2,
            "driver_memory": "1500m",
            "log_level": "ERROR",
            "conf": {"spark.ui.enabled": "false", "spark.default.parallelism": "2"},
        }
    )
    session = build_session(config, app_name="jobtagger-reliability")
    yield session
    session.stop()
