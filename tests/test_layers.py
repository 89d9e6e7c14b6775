"""The library's layers: domain packages never import the book's tables or runner, and the runner imports no
chapter code (each import read from the source with ast, lazy imports inside functions included)."""

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "alignbook"
DOMAINS = ("envs", "saferl", "lm", "rlhf", "scattering", "survey")


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


@pytest.mark.parametrize("package", DOMAINS)
def test_domain_packages_never_import_the_book(package):
    files = sorted((LIB / package).rglob("*.py"))
    assert files
    for path in files:
        bad = {m for m in imported_modules(path)
               if m in ("alignbook.scales", "alignbook.book") or m.startswith("alignbook.book.")}
        assert not bad, f"{path.relative_to(LIB)} imports {sorted(bad)}"


def test_the_book_runner_imports_no_chapter_code():
    for path in sorted((LIB / "book").rglob("*.py")):
        bad = {m for m in imported_modules(path) if m.split(".")[:2] in [["alignbook", d] for d in DOMAINS]}
        assert not bad, f"{path.relative_to(LIB)} imports {sorted(bad)}"


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from alignbook import scales\n")
    assert "alignbook.scales" in imported_modules(module)
