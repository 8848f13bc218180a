"""Structured log lines and the per-run summary (counts, durations, outcome).

Every step logs one JSON line (``{"event": "ingest.read", "rows": 1000, "seconds": 1.2, ...}``)
so a scheduler's log view, or ``jq``, can follow a run. The CLI writes the summary as JSON under
``<warehouse>/_runs/<job>/<run_date>/<run_id>.json`` when the job ends, failed or not.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobtagger import __version__

LOGGER = logging.getLogger("jobtagger")


def configure_logging(level: int = logging.INFO) -> None:
    if not LOGGER.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        LOGGER.addHandler(handler)
    LOGGER.setLevel(level)
    LOGGER.propagate = False


@dataclass
class RunContext:
    """Identity and bookkeeping of one job run; passed explicitly to the stages."""

    job: str
    run_date: dt.date
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    steps: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def app_id(self) -> str:
        """Idempotency key of this job's writes: the same job and run date share it."""
        return f"jobtagger.{self.job}"

    @property
    def app_version(self) -> int:
        """Monotone per run date (yyyymmdd), so a rerun of a date presents the same version."""
        return int(self.run_date.strftime("%Y%m%d"))

    def commit_metadata(self) -> dict[str, str]:
        return {
            "jobtagger.job": self.job,
            "jobtagger.run_id": self.run_id,
            "jobtagger.run_date": self.run_date.isoformat(),
            "jobtagger.version": __version__,
        }

    def log(self, event: str, **fields: Any) -> None:
        record = {"event": f"{self.job}.{event}", "run_id": self.run_id, **fields}
        LOGGER.info(json.dumps(record, default=str, sort_keys=False))

    @contextlib.contextmanager
    def step(self, name: str, **fields: Any) -> Iterator[dict[str, Any]]:
        """Time a step; the yielded dict collects counts that are logged with its duration."""
        info: dict[str, Any] = dict(fields)
        start = time.perf_counter()
        try:
            yield info
        finally:
            seconds = round(time.perf_counter() - start, 3)
            self.steps.append({"step": name, "seconds": seconds, **info})
            self.log(name, seconds=seconds, **info)

    def summary(self, *, status: str, error: str | None = None) -> dict[str, Any]:
        ended = dt.datetime.now(dt.timezone.utc)
        return {
            **self.details,  # first, so a stage's details never mask the run's own fields
            "job": self.job,
            "run_id": self.run_id,
            "run_date": self.run_date.isoformat(),
            "status": status,
            "error": error,
            "started_at": self.started_at.isoformat(),
            "ended_at": ended.isoformat(),
            "seconds": round((ended - self.started_at).total_seconds(), 3),
            "version": __version__,
            "counts": self.counts,
            "steps": self.steps,
        }


def write_summary(warehouse: Path, summary: dict[str, Any]) -> Path:
    folder = Path(warehouse) / "_runs" / summary["job"] / summary["run_date"]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{summary['run_id']}.json"
    target.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return target
