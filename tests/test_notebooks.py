"""Hygiene of every chapter in notebooks/ (new chapters are picked up by themselves)."""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from alignbook import scales
from alignbook.book.site import toc_files
from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
BIB_KEYS = set(re.findall(r"@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text()))


def test_there_are_chapters():
    assert NOTEBOOKS, "notebooks/ holds no chapter"


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.stem)
def notebook(request) -> tuple[Path, nbformat.NotebookNode]:
    return request.param, nbformat.read(request.param, as_version=4)


def test_committed_without_outputs(notebook):
    path, nb = notebook
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {index} has outputs: clear them before committing"
            assert cell.execution_count is None, f"{path.name} cell {index} has an execution count"


def test_exactly_one_parameters_cell_with_the_three_defaults(notebook):
    path, nb = notebook
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} parameters cells"
    lines = [line.strip() for line in tagged[0].source.splitlines() if line.strip() and not line.startswith("#")]
    assert lines == ['scale = "book"', "seed = 0", 'device = "auto"'], path.name


def test_install_cell_for_colab(notebook):
    path, nb = notebook
    code = [c for c in nb.cells if c.cell_type == "code"]
    first = code[0]
    assert "remove-cell" in first.metadata.get("tags", []), f"{path.name}: first code cell must be tagged remove-cell"
    assert '"google.colab" in sys.modules' in first.source
    assert REPOSITORY in first.source, f"{path.name}: install cell must use the repository of _config.yml"


def test_title_citation_and_report(notebook):
    path, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), f"{path.name}: starts with a title"
    cited = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for keys in re.findall(r"\{cite[pt]?\}`([^`]+)`", cell.source):
                cited.update(k.strip() for k in keys.split(","))
    assert cited, f"{path.name}: cites no paper"
    assert cited <= BIB_KEYS, f"{path.name}: unknown citation keys {cited - BIB_KEYS}"
    last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert "report.show()" in last_code.source, f"{path.name}: must end with its reproduction report"


def test_chapter_has_scales_and_is_in_the_toc(notebook):
    path, _ = notebook
    assert path.stem in scales.chapters(), f"{path.stem} has no entry in alignbook.scales"
    assert f"notebooks/{path.stem}" in toc_files(ROOT)


def test_toc_lists_only_existing_files():
    for entry in toc_files(ROOT):
        if entry.startswith("book/appendix/"):
            continue  # written by the runner into the assembled site
        candidates = [ROOT / f"{entry}{suffix}" for suffix in (".md", ".ipynb")]
        assert any(p.exists() for p in candidates), f"_toc.yml names {entry}, which does not exist"
