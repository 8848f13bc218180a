"""Build the archive that ships the package to Spark executors: ``--py-files dist/jobtagger-<v>.zip``.

A zip, not a wheel: PySpark puts only ``.zip``/``.egg``/``.jar`` py-files on the executors'
``sys.path`` (a ``.whl`` would be copied but never imported). The archive holds the ``jobtagger``
package at its root, is byte-for-byte reproducible (fixed timestamps, sorted entries) and leaves
out caches. It ships what the jobs run: the modules that the command line and the registered
stages import, directly or through each other (found from their ``import`` statements), with the
``__init__`` of every package on the way; tools run from a checkout (``demo``, ``bench``) stay out. Dependencies (pyspark, deltalake, ...) are not in it: the executors' Python must
have them, as the driver's does.

    python -m jobtagger.packaging --out dist
"""

from __future__ import annotations

import argparse
import ast
import sys
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import jobtagger
from jobtagger.stages import STAGES

PACKAGE_DIR = Path(jobtagger.__file__).resolve().parent
FIXED_TIMESTAMP = (2020, 1, 1, 0, 0, 0)
SKIPPED_PARTS = {"__pycache__"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def archive_name() -> str:
    return f"jobtagger-{jobtagger.__version__}.zip"


JOB_ENTRY_MODULES = ("jobtagger.cli", *(spec.module for spec in STAGES.values()))


def _module_file(package_dir: Path, module: str) -> Path | None:
    """The source file of ``jobtagger.x.y`` under ``package_dir``, or None outside the package."""
    parts = module.split(".")
    if parts[0] != package_dir.name:
        return None
    base = package_dir.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(path: Path, module: str) -> Iterable[str]:
    """Every module a file names in an ``import`` (at any depth, relative ones resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)  # submodules imported by name


def _package_files(package_dir: Path, entries: Sequence[str] = JOB_ENTRY_MODULES) -> list[Path]:
    """The source files reachable by imports from ``entries``, with their packages' ``__init__``."""
    seen: set[Path] = set()
    pending = list(entries)
    while pending:
        module = pending.pop()
        path = _module_file(package_dir, module)
        if path is None or path in seen:
            continue
        seen.add(path)
        pending.extend(_imported_modules(path, module))
        parents = module.split(".")[:-1]
        pending.extend(".".join(parents[:depth]) for depth in range(1, len(parents) + 1))
    return sorted(seen)


def build_pyfiles(out_dir: Path, *, package_dir: Path = PACKAGE_DIR) -> Path:
    """Write ``<out_dir>/jobtagger-<version>.zip`` (replacing it) and return its path."""
    if not (package_dir / "__init__.py").is_file():
        raise FileNotFoundError(f"{package_dir} is not a package folder (run from a source checkout)")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / archive_name()
    partial = target.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in _package_files(package_dir):
            name = f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}"
            entry = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())
    partial.replace(target)  # readers never see a half-written archive
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobtagger.packaging", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("dist"), help="output folder (default: dist)")
    args = parser.parse_args(argv)
    print(build_pyfiles(args.out))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
