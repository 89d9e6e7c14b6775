"""Execute every chapter at scale smoke, then build the site strictly from those outputs and check its HTML.

The tests run in file order: the build at the end reuses the executed chapters (and runs any that a selective
pytest invocation skipped).
"""

import json
import re
from pathlib import Path

import nbformat
import pytest

from alignbook.book import chapters, runner, site
from alignbook.chapter import AUDIT_ENV
from alignbook.report import read_report
from conftest import PARAMETERS, ROOT, selected_params, write_notebook

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(autouse=True)
def device_audit(monkeypatch):
    """Every chapter's kernel runs under the device audit: a tensor left off ``ch.device`` fails its run."""
    monkeypatch.setenv(AUDIT_ENV, "1")


@pytest.fixture(scope="module")
def smoke_runs(request):
    """The chapters this session selected, at smoke, two kernels side by side (one thread each: the machine's two
    cores), every kernel under the device audit: a tensor left off ``ch.device`` fails its run."""
    names = selected_params(request, "test_chapter_runs_at_smoke_scale", "name")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(AUDIT_ENV, "1")  # before the worker processes start: they inherit it
        return runner.run_each(ROOT, chapters.select(ROOT, names), "smoke", jobs=2)


@pytest.mark.notebook
@pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])
def test_chapter_runs_at_smoke_scale(smoke_runs, name):
    record = smoke_runs[name]
    if isinstance(record, runner.ChapterFailed):
        pytest.fail(str(record))
    assert record.scale == "smoke" and record.chapter == name
    report = read_report(runner.executed_path(ROOT, name, "smoke"))
    assert report is not None and report["claims"], f"{name} shows no reproduction report"
    assert report["scale"] == "smoke" and report["chapter"] == name
    # Every failed sanity check is a bug in the machinery, whatever the scale.
    failed = [c["name"] for c in report["checks"] if not c["passed"]]
    assert not failed, f"{name}: sanity checks failed: {failed}"
    reprs = printed_reprs(runner.executed_path(ROOT, name, "smoke"))
    assert not reprs, f"{name} prints raw reprs (use plotting.settings_line or a table): {reprs}"


# A dict's repr ({'steps': ...}), a JSON dump ({"algo": ...}) or a chapter Config's repr (Config(wbpd@smoke: ...)).
RAW_REPR = re.compile(r"""\{['"][\w ]+['"]: |\bConfig\(\w+@""")


def printed_reprs(notebook: Path) -> list[str]:
    """The lines of an executed notebook's printed output that are raw reprs rather than words for a reader."""
    nb = nbformat.read(notebook, as_version=4)
    return [line for cell in nb.cells if cell.cell_type == "code" for output in cell.get("outputs", [])
            if output.get("output_type") == "stream" for line in output.get("text", "").splitlines()
            if RAW_REPR.search(line)]


def test_printed_reprs_are_found_in_printed_output_only(tmp_path):
    path = write_notebook(tmp_path / "noisy.ipynb", [
        ("code", "print({'steps_per_epoch': 200})", []), ("code", "print('a dict', {'a': 1})", []),
        ("code", "print(cfg)", []), ("code", "print(settings)", []), ("code", "table", []),
    ])
    nb = nbformat.read(path, as_version=4)
    for cell, text in zip(nb.cells, ["{'steps_per_epoch': 200}\n", "SafetyPointCircle1-v0 {'total_steps': 1000}\n",
                                     "Config(wbpd@smoke: n=16, family='squares')\n",
                                     "toy runs: steps per epoch 200 · hidden 16, 16\n"], strict=False):
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    nb.cells[4].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "{'a': 1}"})]
    nbformat.write(nb, path)
    assert printed_reprs(path) == ["{'steps_per_epoch': 200}", "SafetyPointCircle1-v0 {'total_steps': 1000}",
                                   "Config(wbpd@smoke: n=16, family='squares')"]


@pytest.mark.build
def test_strict_site_build_from_smoke_outputs():
    runner.run(ROOT, chapters.all_chapters(ROOT), "smoke", only_stale=True, log=lambda _: None)
    html = site.build(ROOT, "smoke", log=lambda _: None)  # raises on any warning or failed check
    assert html == site.html_dir(ROOT, "smoke") != site.html_dir(ROOT, "book")
    assert site.check_html(ROOT, html) == []
    for path in NOTEBOOKS:
        page = (html / "notebooks" / f"{path.stem}.html").read_text()
        assert 'class="alignbook-report"' in page and "<img" in page
        assert "colab.research.google.com/github/" in page  # the launch button
        assert "find_spec" not in page  # the install cell is removed from the page
        assert "references.bib#" not in page  # the notebook's citation links are the site's roles
    home = (html / "book" / "intro.html").read_text()
    assert "alignment-cycle.svg" in home and "RICE" in home
    # Sphinx's smart quotes print a title's apostrophe as a typographic one ("SafePO's" -> "SafePO’s").
    status, times = ((html / "book" / "appendix" / f"{page}.html").read_text().replace("\u2019", "'")
                     for page in ("reproduction", "run-times"))
    for path in NOTEBOOKS:
        title = site.chapter_title(path)
        assert title in status and title in times
    assert "smoke" in status
    for verdict in ("holds", "partly", "not at this scale", "contradicted", "checks passed"):
        assert verdict in status
    assert (html / "book" / "appendix" / "benchmarks.html").exists()
    assert (html / "mathjax" / "tex-chtml.js").exists()  # the site's own MathJax
    survey = (html / "notebooks" / "survey.html").read_text()
    assert "Claim(" not in survey  # no repr of a recorded claim on the page
    assignments = re.findall(r'<span class="n">scale</span> <span class="o">=</span> <span class="s2">"(\w+)"', survey)
    assert assignments == ["smoke"]  # the parameters it ran with, once


def test_html_checker_finds_broken_links_and_missing_reports(tmp_path: Path):
    html = tmp_path / "html"
    (html / "notebooks").mkdir(parents=True)
    (html / "index.html").write_text('<a href="missing.html">x</a><a href="#here">y</a><p id="there"></p>'
                                     '<script src="https://cdn.example.org/mathjax.js"></script><img src="_images/a.png">')
    (html / "_images").mkdir()
    (html / "_images" / "a.png").write_bytes(b"png")
    (html / "_images" / "stale.png").write_bytes(b"png")
    for name in ("survey",):
        (html / "notebooks" / f"{name}.html").write_text('<a href="../index.html#there">ok</a>')
    problems = site.check_html(ROOT, html)
    assert "index.html: broken link missing.html" in problems
    assert "index.html: broken anchor #here" in problems
    assert "survey: the page shows no figure" in problems
    assert "survey: the page shows no reproduction report table" in problems
    assert "missing page book/appendix/reproduction.html" in problems
    assert not any("../index.html#there" in p for p in problems)
    assert "index.html: loads https://cdn.example.org/mathjax.js from another host" in problems
    assert "_images holds 1 file(s) no page shows: stale.png" in problems


def test_the_search_page_carries_every_pages_text_for_a_site_read_from_disk(tmp_path: Path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "search.html").write_text("<html><head><title>Search</title></head><body></body></html>")
    (tmp_path / "notebooks" / "safepo.html").write_text(
        '<html><body><nav>the navigation</nav><article role="main"><h1>SafePO</h1><p>A PID <b>Lagrangian</b> &amp; '
        'friends.</p><script>var hidden = 1;</script><img src="x.png"><p>Second   paragraph.</p></article>'
        "<footer>the footer</footer></body></html>")
    (tmp_path / "_static" / "other.html").write_text('<div role="main">never indexed</div>')
    for _ in range(2):  # a second pass adds nothing
        site.offline_search(tmp_path)
    script = (tmp_path / site.SEARCH_TEXTS).read_text()
    texts = json.loads(script.split("window.ALIGNBOOK_PAGE_TEXTS = ", 1)[1].split(";\n", 1)[0])
    assert texts == {"notebooks/safepo.html": "SafePO A PID Lagrangian &amp; friends. Second paragraph."}
    assert 'location.protocol !== "file:"' in script  # served online, Sphinx fetches the pages itself
    assert (tmp_path / "search.html").read_text().count(f'<script src="{site.SEARCH_TEXTS}">') == 1


def test_the_published_notebook_shows_the_parameters_it_ran_with_once(tmp_path: Path):
    from conftest import PARAMETERS, write_notebook

    executed = write_notebook(tmp_path / "executed.ipynb", [
        ("code", PARAMETERS, ["parameters"]),
        ("code", '# Parameters\nscale = "smoke"\nseed = 0\ndevice = "auto"\n', ["injected-parameters"]),
        ("code", "print(scale)", []),
        ("markdown", "As [Ji et al., 2024a](https://github.com/o/r/blob/main/book/references.bib#ji2024aligner) "
                     "`show`.", []),
    ])
    site.publishable_notebook(executed, tmp_path / "page.ipynb")
    import nbformat

    cells = nbformat.read(tmp_path / "page.ipynb", as_version=4).cells
    assert cells[0].metadata.tags == ["parameters", "remove-cell"]
    assert cells[1].metadata.tags == ["injected-parameters"] and cells[2].metadata.get("tags") is None
    assert cells[3].source == "As {cite}`ji2024aligner` `show`."  # the notebook's link, the site's role


def test_reproduction_page_counts_all_four_verdicts_and_keeps_checks_apart(tiny_book):
    # Two planned claims that hold on five seeds of variance 2.5: +3 needs 5 seeds (decided at this scale), +2
    # needs 8, which only the full scale's 10 give (decided at full): counted among the holds, and apart.
    report_cell = """
from alignbook.report import Plan, Report, compare
report = Report("hello", scale)
for i, verdict in enumerate(["holds", "partly", "partly", "not at this scale", "contradicted"]):
    report.claim(f"claim {i}", paper="p", ours="o", verdict=verdict)
gain = compare([1.0, 2.0, 3.0, 4.0, 5.0], [0.0] * 5)
for target in (3.0, 2.0):
    report.claim(f"gain {target}", paper="p", ours=str(gain), verdict=gain.verdict(target=target),
                 plan=Plan(gain, effect=target, full_seeds=10))
report.check("a premise", ours="o", passed=True)
report.check("another premise", ours="o", passed=False)
report.show()
"""
    write_notebook(tiny_book / "notebooks" / "hello.ipynb", [
        ("markdown", "# Hello", []), ("code", PARAMETERS, ["parameters"]), ("code", report_cell, []),
    ])
    hello = chapters.select(tiny_book, ["hello"])
    runner.run(tiny_book, hello, "smoke", log=lambda _: None)
    page = site.reproduction_page(tiny_book, hello, "smoke")
    header = next(line for line in page.splitlines() if line.startswith("| chapter"))
    assert header == ("| chapter | scale | holds | partly | not at this scale | contradicted | decided at full "
                      "| checks passed |")
    row = next(line for line in page.splitlines() if line.startswith("| {doc}`Hello"))
    assert row.endswith("| smoke | 3 | 2 | 1 | 1 | 1 | 1 of 2 |")
    assert "| **all chapters** | | **3** | **2** | **1** | **1** | **1** | **1 of 2** |" in page
    assert "| another premise | o | **FAILED** |" in page  # the checks are listed, apart from the claims
    assert "8 needed to find the target +2 with 80% power" in page and "decided at smoke" in page
    assert site.home_summary(tiny_book, hello, "smoke") == (
        "This build (scale `smoke`) judged 7 claims of the papers: 3 holds, 2 partly, 1 not at this scale, "
        "1 contradicted; 1 of them decided at full (their power calculation asks for more seeds than this scale "
        "runs, so their verdicts here are under-powered). Apart from them, 1 of 2 checks (premises and "
        "implementation checks, never counted as reproductions) passed.")


def test_run_times_page_totals_each_scale_and_names_the_python_version(tiny_book):
    """Times add up over the chapters run at a scale, memory is the largest peak; a scale not every chapter ran
    at says how many did; a record written before the label named Python gets the name."""
    history = {
        "hello": {"smoke": {"wall_s": 30.0, "peak_rss_mb": 400.0, "machine": "x86_64, 2 CPUs, 3.11.7"},
                  "book": {"wall_s": 600.0, "peak_rss_mb": 900.0, "machine": "x86_64, 2 CPUs, 3.11.7"}},
        "broken": {"smoke": {"wall_s": 100.0, "peak_rss_mb": 1200.0, "machine": "x86_64, 2 CPUs, Python 3.12.1"}},
    }
    runner.write_atomic(runner.history_path(tiny_book), json.dumps(history))
    page = site.runtimes_page(tiny_book, chapters.all_chapters(tiny_book))
    rows = {line.split(" | ")[0]: line for line in page.splitlines() if line.startswith("| ")}
    assert "| chapter | smoke | book | full | machine (architecture, CPUs, Python) |" in page
    assert rows["| {doc}`Hello </notebooks/hello>`"].endswith("| 30 s, 400 MB | 10.0 min, 900 MB | - | "
                                                                "x86_64, 2 CPUs, Python 3.11.7 |")
    assert rows["| **all chapters**"] == ("| **all chapters** | 2.2 min, at most 1200 MB | "
                                          "10.0 min, at most 900 MB (1 of 2 chapters) | - | |")
