"""The reliability suite's session: smaller than the default suite's (its jobs run beside it as
processes of their own, each with a JVM)."""

from __future__ import annotations

import pytest

from testkit import local_session


@pytest.fixture(scope="session")
def spark():
    session = local_session(driver_memory="1500m", app_name="jobtagger-reliability")
    yield session
    session.stop()
