"""Structured log lines and the per-run summary (counts, durations, outcome).

Every step logs one JSON line (``{"event": "ingest.read", "rows": 1000, "seconds": 1.2, ...}``)
so a scheduler's log view, or ``jq``, can follow a run. The CLI writes the summary as JSON under
``<warehouse>/_runs/<job>/<run_date>/<run_id>.json`` when the job ends, failed or not.

Credentials never reach a log line or a summary: every log record, summary and error line passes
through :class:`Redactor`, which masks the values of secret-looking keys (``password``, ``secret``,
``token``, ``access_key``...), the password of ``scheme://user:password@host`` URIs, and any
occurrence of a secret-looking environment variable's value or config value.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobtagger import __version__

LOGGER = logging.getLogger("jobtagger")
MASK = "***"
SECRET_NAME = re.compile(
    r"secret|passw(?:or)?d|pwd|token|credential|api[_.-]?key|access[_.-]?key|private[_.-]?key|auth[_.-]?key"
    r"|sas[_.-]?key|account[_.-]?key|connection[_.-]?string", re.IGNORECASE,
)
URI_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:)[^/@\s]+@")
NAMED_SECRET = re.compile(
    r"(?P<head>\b[\w.-]*(?:" + SECRET_NAME.pattern + r")[\w.-]*[\"']?\s*[=:]\s*[\"']?)[^\s,;&\"'}]+",
    re.IGNORECASE,
)
MIN_SECRET_CHARS = 6  # shorter values (e.g. "true") would mask ordinary words


class Redactor:
    """Masks credentials in text and in nested dicts/lists (see the module docstring)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({value for value in secrets if len(value) >= MIN_SECRET_CHARS}, key=len, reverse=True)

    @classmethod
    def of(cls, *, environ: Mapping[str, str] | None = None, config: Mapping[str, Any] | None = None) -> Redactor:
        """Secrets: the values of secret-named environment variables and config entries."""
        environ = os.environ if environ is None else environ
        values = [value for name, value in environ.items() if SECRET_NAME.search(name)]
        values += [str(value) for name, value in _leaves(config or {}) if SECRET_NAME.search(name) and value]
        return cls(values)

    def text(self, text: str) -> str:
        text = URI_PASSWORD.sub(lambda match: match["head"] + MASK + "@", text)
        text = NAMED_SECRET.sub(lambda match: match["head"] + MASK, text)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def value(self, value: Any, *, name: str = "") -> Any:
        if isinstance(value, Mapping):
            return {key: self.value(item, name=str(key)) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        if isinstance(value, str):
            return MASK if name and SECRET_NAME.search(name) and value else self.text(value)
        if isinstance(value, os.PathLike):
            return self.text(os.fspath(value))
        return value


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            yield from _leaves(value, name)
        else:
            yield name, value


_redactor = Redactor.of()


def configure_redaction(config: Mapping[str, Any] | None = None) -> Redactor:
    """Collect the secrets of the environment and of ``config`` (a JSON dump of the config)."""
    global _redactor
    _redactor = Redactor.of(config=config)
    return _redactor


def redact(value: Any) -> Any:
    """``value`` (text or nested data) with every known credential masked."""
    return _redactor.value(value)


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info:  # the formatted traceback could quote a secret: fold it in, redacted
            record.msg += "\n" + redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info, record.exc_text = None, None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    if not LOGGER.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler.addFilter(_RedactingFilter())
        LOGGER.addHandler(handler)
    LOGGER.setLevel(level)
    LOGGER.propagate = False


TaskStatus = Callable[[], tuple[int, int] | None]  # (tasks done, tasks) of the running Spark stages


class Progress:
    """Progress of a long run: the current step, the counts known so far and the time elapsed.

    On a terminal, ONE line rewritten in place about every second (``\r``), ended when the run
    ends; elsewhere (a scheduler's log) a JSON line ``{"event": "<job>.progress", ...}`` at most
    every ``interval`` seconds, so logs do not fill up. ``tasks`` (optional) reports the running
    Spark stages' tasks, the only sign of life inside one long Spark action."""

    def __init__(self, job: str, *, stream: Any = None, interval: float = 5.0, tick: float = 1.0,
                 tasks: TaskStatus | None = None) -> None:
        self.job = job
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval, self.tick, self.tasks = interval, tick, tasks
        self.started = time.monotonic()
        self.step: str | None = None
        self.counts: dict[str, Any] = {}
        self._last_json = float("-inf")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{job}-progress", daemon=True)
        self._thread.start()

    def update(self, step: str | None = None, **counts: Any) -> None:
        with self._lock:
            self.step = step or self.step
            self.counts.update({k: v for k, v in counts.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
        self._emit()

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        with self._lock:
            parts = [f"{self.job}: {self.step or 'starting'}", *(f"{k}={v:,}" for k, v in self.counts.items())]
        status = self.tasks() if self.tasks else None
        if status:
            parts.append(f"tasks {status[0]}/{status[1]}")
        return " | ".join(parts) + f" | {elapsed:,.0f} s"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * self.tick)
        if self.terminal:
            self.stream.write("\r" + self.line() + "\x1b[K\n")
            self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            self._emit()

    def _emit(self) -> None:
        try:
            if self.terminal:
                self.stream.write("\r" + self.line() + "\x1b[K")
                self.stream.flush()
            elif time.monotonic() - self._last_json >= self.interval:
                self._last_json = time.monotonic()
                status = self.tasks() if self.tasks else None
                record = {"event": f"{self.job}.progress", "step": self.step, **self.counts,
                          "seconds": round(time.monotonic() - self.started, 1)}
                if status:
                    record["tasks"] = list(status)
                self.stream.write(json.dumps(redact(record)) + "\n")
                self.stream.flush()
        except (ValueError, OSError):  # the stream was closed under us: progress is best effort
            self._stop.set()


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
    progress: Progress | None = None

    @contextlib.contextmanager
    def showing_progress(self, *, tasks: TaskStatus | None = None, stream: Any = None) -> Iterator[Progress]:
        """Report this run's steps through a :class:`Progress` while the block runs."""
        self.progress = Progress(self.job, stream=stream, tasks=tasks)
        try:
            yield self.progress
        finally:
            self.progress.close()
            self.progress = None

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
        LOGGER.info(json.dumps(redact(json.loads(json.dumps(record, default=str))), sort_keys=False))

    @contextlib.contextmanager
    def step(self, name: str, **fields: Any) -> Iterator[dict[str, Any]]:
        """Time a step; the yielded dict collects counts that are logged with its duration."""
        info: dict[str, Any] = dict(fields)
        start = time.perf_counter()
        if self.progress:
            self.progress.update(name)
        try:
            yield info
        finally:
            seconds = round(time.perf_counter() - start, 3)
            self.steps.append({"step": name, "seconds": seconds, **info})
            self.log(name, seconds=seconds, **info)
            if self.progress:
                self.progress.update(**info)

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
    target.write_text(json.dumps(redact(json.loads(json.dumps(summary, default=str))), indent=2), encoding="utf-8")
    return target
