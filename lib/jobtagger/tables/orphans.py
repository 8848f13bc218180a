"""Files that killed writers left in a table folder, and the leases that tell them from live ones.

A writer killed after its tasks wrote data files (or during a commit) leaves files that no Delta
version references: invisible to readers, but disk is lost. The next run of that table removes
them (:func:`remove_orphans`), but only when it can be sure no other writer is still working,
because a live writer's staged files look exactly the same. Every writing run therefore holds a
lease (:func:`writer_lease`): a file under ``<warehouse>/_runs/_writers/`` locked with ``flock``
for the life of the process. The kernel drops the lock when the process dies, however it dies, so
a lease that can be locked by someone else belongs to a dead run. Cleanup only touches files
older than the cleaning run's own lease, and runs only when no other lease is alive.

Local warehouses only (``flock`` and modification times of a POSIX folder); on object storage this
does nothing and ``vacuum`` removes such files after its retention period.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pyarrow.parquet as pq

LEASE_FOLDER = ("_runs", "_writers")


@dataclass(frozen=True)
class Lease:
    path: Path | None  # None on a non-local warehouse
    acquired_at: float  # epoch seconds; files older than this predate the run

    def other_live_writers(self) -> list[str]:
        """Run ids of the other writers whose process is alive (dead ones' lease files are removed)."""
        if self.path is None:
            return []
        live = []
        for lease in sorted(self.path.parent.glob("*.lock")):
            if lease == self.path:
                continue
            try:
                handle = open(lease, "a")  # noqa: SIM115 - released right below
            except FileNotFoundError:
                continue
            with handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    live.append(lease.stem)
                    continue
                lease.unlink(missing_ok=True)
        return live


@contextlib.contextmanager
def writer_lease(warehouse: str, run_id: str) -> Iterator[Lease]:
    """Hold a lease on ``warehouse`` for a run that writes tables (see the module docstring)."""
    if "://" in str(warehouse):
        yield Lease(None, time.time())
        return
    folder = Path(warehouse).joinpath(*LEASE_FOLDER)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{run_id}.lock"
    staging = folder / f".{run_id}.lock.tmp"
    handle = open(staging, "w")  # noqa: SIM115 - held until the run ends
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps({"pid": os.getpid(), "host": os.uname().nodename}))
        handle.flush()
        os.replace(staging, target)  # visible only once locked
        yield Lease(target, time.time())
    finally:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        handle.close()


def referenced_files(table: Path) -> set[str]:
    """Every data file path (relative, unescaped) any version in the Delta log adds or removes."""
    log = table / "_delta_log"
    paths: set[str] = set()
    for entry in log.glob("*.json"):
        with open(entry, encoding="utf-8") as handle:
            for line in handle:
                action = json.loads(line) if line.strip() else {}
                for kind in ("add", "remove"):
                    if kind in action:
                        paths.add(unquote(action[kind]["path"]))
    for checkpoint in log.glob("*.checkpoint*.parquet"):
        columns = pq.read_table(checkpoint, columns=["add", "remove"]).to_pydict()
        for kind in ("add", "remove"):
            paths.update(unquote(item["path"]) for item in columns[kind] if item and item.get("path"))
    return paths


def remove_orphans(table_path: str, lease: Lease) -> list[str]:
    """Delete the data files of ``table_path`` no Delta version references (all of them when the
    table was never committed), and the temporary
    commit files of ``_delta_log``, that are older than ``lease``; only when no other writer is
    alive. Returns the removed paths (relative to the table)."""
    table = Path(table_path)
    if lease.path is None or not table.is_dir() or lease.other_live_writers():
        return []
    referenced = referenced_files(table)  # none before the first commit: every file is a dead run's
    removed = []
    for path in table.rglob("*"):
        relative = path.relative_to(table).as_posix()
        in_log = relative.startswith("_delta_log/")
        orphan = (
            (in_log and path.name.endswith(".tmp"))
            or (not in_log and path.suffix == ".parquet" and relative not in referenced
                and not any(part.startswith((".", "_")) for part in path.relative_to(table).parts[:-1]))
        )
        if orphan and path.is_file() and path.stat().st_mtime < lease.acquired_at:
            path.unlink(missing_ok=True)
            removed.append(relative)
    return sorted(removed)
