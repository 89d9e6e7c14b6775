from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(scope="session", autouse=True)
def thread_policy():
    """The tests' tiny models run under the book's thread policy, as a chapter does (alignbook.threads)."""
    from alignbook import threads

    threads.apply()


PARAMETERS = 'scale = "book"\nseed = 0\ndevice = "auto"'


def selected_params(request, test: str, param: str) -> list:
    """The values of ``param`` of the parametrised ``test`` that this pytest session will run (a module fixture
    then runs only what a selective invocation asked for)."""
    return [item.callspec.params[param] for item in request.session.items
            if getattr(item, "originalname", None) == test]


def write_notebook(path: Path, cells: list[tuple[str, str, list[str]]]) -> Path:
    """Write a notebook from (cell type, source, tags) triples."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, source, tags in cells:
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        nb.cells.append(make(source, metadata={"tags": tags} if tags else {}))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def tiny_book(tmp_path: Path) -> Path:
    """A book with one quick chapter ('hello') and one that fails in its third cell ('broken')."""
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    write_notebook(tmp_path / "notebooks" / "hello.ipynb", [
        ("markdown", "# Hello", []),
        ("code", PARAMETERS, ["parameters"]),
        ("code", "print(scale, seed, device)", []),
    ])
    write_notebook(tmp_path / "notebooks" / "broken.ipynb", [
        ("code", PARAMETERS, ["parameters"]),
        ("code", "x = 1", []),
        ("code", "raise ValueError('deliberate failure for the runner test')", []),
        ("code", "print('never reached')", []),
    ])
    return tmp_path
