"""Build the archive that ships the package to Spark executors: ``--py-files dist/jobtagger-<v>.zip``.

A zip, not a wheel: PySpark puts only ``.zip``/``.egg``/``.jar`` py-files on the executors'
``sys.path`` (a ``.whl`` would be copied but never imported). The archive holds the ``jobtagger``
package at its root, is byte-for-byte reproducible (fixed timestamps, sorted entries) and leaves
out caches. Dependencies (pyspark, deltalake, ...) are not in it: the executors' Python must
have them, as the driver's does.

    python -m jobtagger.packaging --out dist
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import jobtagger

PACKAGE_DIR = Path(jobtagger.__file__).resolve().parent
FIXED_TIMESTAMP = (2020, 1, 1, 0, 0, 0)
SKIPPED_PARTS = {"__pycache__"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def archive_name() -> str:
    return f"jobtagger-{jobtagger.__version__}.zip"


def _package_files(package_dir: Path) -> list[Path]:
    return sorted(
        path
        for path in package_dir.rglob("*")
        if path.is_file()
        and not SKIPPED_PARTS.intersection(path.relative_to(package_dir).parts)
        and path.suffix not in SKIPPED_SUFFIXES
    )


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
