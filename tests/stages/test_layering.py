"""The direction of dependencies: cli -> stages -> domain modules -> tables.

No stage imports another stage, and no domain module imports a stage or the command line. Read from
the source with ``ast`` (imports inside functions count), so a new import that bends an arrow fails
here before it reaches a reviewer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from jobtagger.stages import STAGES
from testkit import REPO_ROOT

LIB = REPO_ROOT / "lib" / "jobtagger"
STAGE_MODULES = {spec.module for spec in STAGES.values()}
# What sits above the stages: the command line, the tools it runs, and the packaging of the jobs.
ENTRY_POINTS = {"jobtagger.cli", "jobtagger.demo", "jobtagger.sql", "jobtagger.packaging"}
ENTRY_PACKAGES = ("jobtagger.stages", "jobtagger.bench")


def module_name(path: Path) -> str:
    parts = path.relative_to(LIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every ``jobtagger`` module a file imports (``from a import b`` counts both ``a`` and ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "jobtagger" or name.startswith("jobtagger.")}


def is_stage_or_cli(name: str) -> bool:
    return name == "jobtagger.cli" or name == "jobtagger.stages" or name.startswith("jobtagger.stages.")


def domain_modules() -> list[Path]:
    return [
        path for path in sorted(LIB.rglob("*.py"))
        if module_name(path) not in ENTRY_POINTS and not module_name(path).startswith(ENTRY_PACKAGES)
    ]


def test_the_registry_names_stage_modules_that_exist():
    assert STAGE_MODULES and all((LIB.parent / (name.replace(".", "/") + ".py")).exists() for name in STAGE_MODULES)


@pytest.mark.parametrize("path", sorted((LIB / "stages").glob("*.py")), ids=lambda path: path.name)
def test_no_stage_imports_another_stage(path):
    own = module_name(path)
    others = {name for name in imported_modules(path) if name in STAGE_MODULES and name != own}
    assert not others, f"{own} imports the stage(s) {sorted(others)}: move what they share to a domain module"


def test_domain_modules_import_no_stage_and_no_command_line():
    bent = {
        module_name(path): sorted(name for name in imported_modules(path) if is_stage_or_cli(name))
        for path in domain_modules()
    }
    assert domain_modules(), "no domain module found: is LIB right?"
    assert {module: names for module, names in bent.items() if names} == {}


def test_the_import_reader_sees_a_stage_importing_a_stage(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from jobtagger.stages.train import run\n    from jobtagger import cli\n")
    assert {"jobtagger.stages.train", "jobtagger.cli"} <= imported_modules(bad)
