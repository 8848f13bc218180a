"""Helpers shared by tests in several folders.

Test folders have their own conftest.py files, which all import as the module ``conftest``, so
shared helpers live here under a name no other module uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_data(relative: str) -> Path:
    """Path to a corpus in ../shared/data, or skip the test saying why it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared corpora live beside the repository, not in it")
    return path
