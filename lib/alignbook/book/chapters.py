"""The book's checkout and its chapters (one notebook each in ``notebooks/``)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import nbformat

PARAMETERS = {"scale", "seed", "device"}


class BookError(ValueError):
    """Bad input to the runner, reported before any work is done."""


def find_root(start: Path | None = None) -> Path:
    """The book's checkout: the nearest folder at or above ``start`` holding ``_toc.yml`` and ``notebooks/``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "notebooks").is_dir():
            return folder
    raise BookError(f"no book found at or above {here} (looked for _toc.yml beside a notebooks/ folder)")


@dataclass(frozen=True)
class Chapter:
    name: str
    path: Path


def all_chapters(root: Path) -> list[Chapter]:
    return [Chapter(p.stem, p) for p in sorted((root / "notebooks").glob("*.ipynb"))]


def select(root: Path, names: list[str]) -> list[Chapter]:
    """The chapters named (all of them for ``["all"]`` or none given); unknown names fail with the valid ones."""
    chapters = all_chapters(root)
    if not names or names == ["all"]:
        return chapters
    by_name = {c.name: c for c in chapters}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        hints = {n: difflib.get_close_matches(n, by_name, n=1) for n in unknown}
        hint = "".join(f" (did you mean {h[0]!r}?)" for h in hints.values() if h)
        raise BookError(
            f"unknown chapter(s) {', '.join(map(repr, unknown))}{hint}; valid chapters are: "
            f"{', '.join(by_name) or '(none)'}"
        )
    return [by_name[n] for n in names]


def parameters_cell(path: Path) -> nbformat.NotebookNode:
    """The notebook's one ``parameters`` cell, which must set scale, seed and device; otherwise a BookError."""
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise BookError(f"{path.name}: needs exactly one cell tagged 'parameters', found {len(tagged)}")
    cell = tagged[0]
    assigned = {line.split("=")[0].strip() for line in cell.source.splitlines() if "=" in line}
    missing = PARAMETERS - assigned
    if missing:
        raise BookError(f"{path.name}: the parameters cell must set {sorted(PARAMETERS)}; missing {sorted(missing)}")
    return cell
