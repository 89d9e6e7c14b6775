"""The site: appendix pages from the executed chapters, the assembled source tree, the strict build, checks.

The committed sources (``_config.yml``, ``_toc.yml``, ``book/``) are copied with the executed notebooks of one
scale into ``_build/SCALE/site``; the runner writes the generated pages there (the appendices, the home page's
figure) and Jupyter Book renders that tree into ``_build/SCALE/html``. The committed notebooks never carry
outputs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import yaml

from alignbook.book import bench, papers
from alignbook.book.chapters import BookError, Chapter, all_chapters
from alignbook.book.markdown import roles_from_links
from alignbook.book.runner import executed_path, load_history, load_record, scale_dir
from alignbook.report import (
    Verdict,
    checks_table_markdown,
    claims_table_markdown,
    decided_at_full,
    read_report,
    verdict_counts,
)

APPENDIX = Path("book") / "appendix"
GENERATED = Path("book") / "generated"
STATIC = Path("_static")  # the site's own CSS and icon
MATHJAX = Path("_mathjax")  # MathJax, copied at assembly; _config.yml's html_extra_path puts it at the site's root


def site_dir(root: Path, scale: str) -> Path:
    return scale_dir(root, scale) / "site"


def html_dir(root: Path, scale: str) -> Path:
    return scale_dir(root, scale) / "html"


def toc_files(root: Path) -> list[str]:
    """Every file the table of contents names, in reading order, without suffix."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def chapter_title(notebook: Path) -> str:
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return notebook.stem


def check_publishable(root: Path, scale: str) -> list[Chapter]:
    """Every chapter must be in the table of contents and executed at ``scale``; else nothing is published."""
    chapters = all_chapters(root)
    listed = set(toc_files(root))
    problems = [f"{c.name}: notebooks/{c.name} is not in _toc.yml" for c in chapters if f"notebooks/{c.name}" not in listed]
    problems += [f"_toc.yml names {f} but notebooks/{Path(f).name}.ipynb does not exist"
                 for f in listed if f.startswith("notebooks/") and not (root / f"{f}.ipynb").exists()]
    for chapter in chapters:
        record = load_record(root, chapter.name, scale)
        if record is None or not executed_path(root, chapter.name, scale).exists():
            problems.append(f"{chapter.name}: has not been executed at scale {scale!r}")
        elif record.scale != scale:
            problems.append(f"{chapter.name}: was executed at scale {record.scale!r}, not {scale!r}")
    if problems:
        raise BookError("refusing to build the site:\n  " + "\n  ".join(problems))
    return chapters


def _reading_order(root: Path, chapters: list[Chapter]) -> list[Chapter]:
    order = {Path(f).name: i for i, f in enumerate(toc_files(root))}
    return sorted(chapters, key=lambda c: order.get(c.name, len(order)))


def reproduction_page(root: Path, chapters: list[Chapter], scale: str) -> str:
    verdicts = [v.value for v in Verdict]
    lines = [
        "# Reproduction status",
        "",
        "Every chapter ends with a reproduction report: the paper's claims, what this build measured, and a",
        "verdict computed from the run: *holds* (the paper's effect at the paper's magnitude), *partly* (the",
        "paper's direction, a weaker magnitude), *not at this scale* (within this run's noise, or the run is too",
        "small to tell) or *contradicted* (the opposite of the paper, beyond this run's noise). Each claim's note",
        "states its thresholds. Premises that hold by construction or guard the machinery are *checks*, listed",
        f"apart and never counted. This page collects the reports of the chapters executed at scale `{scale}`.",
        "",
        "A claim judged over seeds at the paper's magnitude plans its seeds: a power calculation on this run's",
        "per-seed spread gives the seeds a side that find the paper's effect with 80% power. *Decided at full*",
        "counts, among the verdicts, the claims that need more seeds than this run had and that only the `full`",
        "scale runs: their verdict is shown as computed but under-powered at this scale (each note says so).",
        "",
        "| chapter | scale | " + " | ".join(verdicts) + " | decided at full | checks passed |",
        "| --- | --- | " + "--- | " * len(verdicts) + "--- | --- |",
    ]
    sections = []
    totals = dict.fromkeys(verdicts, 0)
    checks_passed = checks_total = at_full_total = 0
    for chapter in _reading_order(root, chapters):
        report = read_report(executed_path(root, chapter.name, scale))
        title = chapter_title(chapter.path)
        link = f"{{doc}}`{title} </notebooks/{chapter.name}>`"
        if report is None:
            lines.append(f"| {link} | - | " + "- | " * len(verdicts) + "- | - |")
            sections += [f"## {title}", "", "This chapter did not display a reproduction report.", ""]
            continue
        counts = verdict_counts(report["claims"])
        checks = report.get("checks", [])
        passed = sum(c["passed"] for c in checks)
        for verdict in verdicts:
            totals[verdict] += counts[verdict]
        checks_passed, checks_total = checks_passed + passed, checks_total + len(checks)
        at_full = decided_at_full(report["claims"])
        at_full_total += at_full
        lines.append(f"| {link} | {report['scale']} | " + " | ".join(str(counts[v]) for v in verdicts)
                     + f" | {at_full}" + (f" | {passed} of {len(checks)} |" if checks else " | no checks |"))
        sections += [f"## {title}", "", claims_table_markdown(report["claims"]) + checks_table_markdown(checks), ""]
    lines.append("| **all chapters** | | " + " | ".join(f"**{totals[v]}**" for v in verdicts)
                 + f" | **{at_full_total}** | **{checks_passed} of {checks_total}** |")
    return "\n".join(lines + [""] + sections)


HOME_SUMMARY_MARKER = "<!-- reproduction-summary -->"


def home_summary(root: Path, chapters: list[Chapter], scale: str) -> str:
    """One sentence for the home page: this build's verdicts, how many of them are decided at full, and apart
    from them its checks."""
    totals = dict.fromkeys((v.value for v in Verdict), 0)
    checks = passed = at_full = 0
    for chapter in chapters:
        report = read_report(executed_path(root, chapter.name, scale))
        if report is None:
            continue
        for verdict, count in verdict_counts(report["claims"]).items():
            totals[verdict] += count
        at_full += decided_at_full(report["claims"])
        checks += len(report.get("checks", []))
        passed += sum(c["passed"] for c in report.get("checks", []))
    claims = sum(totals.values())
    return (f"This build (scale `{scale}`) judged {claims} claims of the papers: "
            + ", ".join(f"{n} {verdict}" for verdict, n in totals.items())
            + f"; {at_full} of them decided at full (their power calculation asks for more seeds than this scale "
            "runs, so their verdicts here are under-powered)"
            + f". Apart from them, {passed} of {checks} checks (premises and implementation checks, never counted "
            "as reproductions) passed.")


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def runtimes_page(root: Path, chapters: list[Chapter]) -> str:
    history = load_history(root)
    ordered = _reading_order(root, chapters)
    lines = [
        "# Run times",
        "",
        "Wall time and peak memory (resident set of the notebook's kernel) of each chapter, as last recorded by",
        "`python -m alignbook run` on the machine that built this site. A dash means the chapter has not been",
        "run at that scale here. The last row adds the times up (the runner executes chapters one after another)",
        "and gives the largest peak, which is what the whole book needs.",
        "",
        "| chapter | smoke | book | full | machine (architecture, CPUs, Python) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for chapter in ordered:
        runs = history.get(chapter.name, {})
        cells = []
        for scale in ("smoke", "book", "full"):
            run = runs.get(scale)
            cells.append(f"{_seconds(run['wall_s'])}, {run['peak_rss_mb']:.0f} MB" if run else "-")
        machine = next((_python_labelled(r["machine"]) for r in runs.values()), "-")
        title = chapter_title(chapter.path)
        lines.append(f"| {{doc}}`{title} </notebooks/{chapter.name}>` | " + " | ".join(cells) + f" | {machine} |")
    totals = []
    for scale in ("smoke", "book", "full"):
        runs = [history[c.name][scale] for c in ordered if scale in history.get(c.name, {})]
        if not runs:
            totals.append("-")
            continue
        total = f"{_seconds(sum(r['wall_s'] for r in runs))}, at most {max(r['peak_rss_mb'] for r in runs):.0f} MB"
        totals.append(total if len(runs) == len(ordered) else f"{total} ({len(runs)} of {len(ordered)} chapters)")
    lines.append("| **all chapters** | " + " | ".join(totals) + " | |")
    return "\n".join(lines) + "\n"


def _python_labelled(machine: str) -> str:
    """Records written before the label named the Python version end in a bare version number: name it."""
    return re.sub(r", (\d+\.\d+\.\d+)$", r", Python \1", machine)


def _number(value) -> str:
    return f"{value:,.1f}" if isinstance(value, float) else str(value)


def draw_benchmark(name: str, entry: dict, spec: bench.BookBenchmark, path: Path) -> None:
    """This build's figure beside its anchors, one bar each, the value written at the bar's end."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from alignbook import plotting

    bars = {"this book (this build)": entry["result"][spec.ours], **spec.anchors(entry["result"])}
    fig, ax = plotting.figure(width=0.9, height=0.9 + 0.45 * len(bars))
    labels = list(bars)[::-1]
    colours = ["#7f7f7f" if label != "this book (this build)" else plotting.PALETTE[0] for label in labels]
    ax.barh(labels, [bars[label] for label in labels], color=colours, height=0.6)
    for y, label in enumerate(labels):
        value = bars[label]
        ax.text(value, y, f" {value:,.0f}" if value >= 10 else f" {value:.2f}", va="center")  # ratios: 1.83
    ax.tick_params(labelsize=10)
    ax.set(xlabel=spec.unit)
    ax.set_xlim(0, 1.2 * max(bars.values()))
    plotting.tidy(fig)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _field_label(key: str) -> str:
    """A benchmark's JSON field as words: ``train_tokens_per_s`` reads "train tokens per second"."""
    if key.endswith("_per_s"):
        key = key[:-len("_per_s")] + " per second"
    elif key.endswith("_s"):
        key = key[:-len("_s")] + " (s)"
    return key.replace("_", " ")


def benchmarks_page(root: Path, figures: Path | None = None) -> str:
    """The Benchmarks appendix; with ``figures`` (a folder of the site), each benchmark's figure is drawn there."""
    results = bench.load_results(root)
    lines = [
        "# Benchmarks",
        "",
        "Throughput of the book's code, measured by the scripts in `benchmarks/` on the machine that built this",
        "site: `make book` runs a quick form of each (a few seconds), `make bench` the full one. Each figure",
        "stands beside its anchor: the original tool measured on the book's reference machine (a 2-core x86_64",
        "CPU, the kind that builds the book) by its maintainers, or a reference measured in the same run; the",
        "name of each bar says which. A figure from another machine is not comparable with these anchors.",
        "",
    ]
    if not results:
        return "\n".join(lines + ["No benchmark has been run on the machine that built this site.", ""])
    machines = sorted({entry.get("machine_detail", entry["machine"]) for entry in results.values()})
    lines += ["Measured on: " + "; ".join(machines) + ".", ""]
    for name, entry in sorted(results.items()):
        spec = bench.BOOK.get(name)
        arguments = " ".join(entry.get("arguments", []))
        lines += [f"## {spec.title if spec is not None and spec.title else name.replace('_', ' ')}", ""]
        if spec is not None:
            lines += [spec.what, ""]
            if figures is not None:
                draw_benchmark(name, entry, spec, figures / f"bench-{name}.svg")
                lines += [f"![{name}: this build beside its anchors](../generated/bench-{name}.svg)", ""]
        lines += [
            f"`python benchmarks/{name}.py {arguments}`".replace(" `", "`") + f", {entry['wall_s']:.0f} s, "
            f"finished {entry['finished'][:16].replace('T', ' ')} UTC on {entry['machine']}.",
            "",
            "| figure | value |",
            "| --- | --- |",
        ]
        lines += [f"| {_field_label(key)} | {_number(value)} |" for key, value in entry["result"].items()]
        lines.append("")
    return "\n".join(lines) + "\n"


def write_report_pages(root: Path, scale: str) -> tuple[Path, ...]:
    """The ``report`` command: write the appendix pages into the assembled site tree."""
    chapters = check_publishable(root, scale)
    target = site_dir(root, scale) / APPENDIX
    target.mkdir(parents=True, exist_ok=True)
    pages = {
        target / "reproduction.md": reproduction_page(root, chapters, scale),
        target / "run-times.md": runtimes_page(root, chapters),
        target / "benchmarks.md": benchmarks_page(root, site_dir(root, scale) / GENERATED),
    }
    for path, text in pages.items():
        path.write_text(text, encoding="utf-8")
    return tuple(pages)


def assemble(root: Path, scale: str) -> Path:
    """Copy the sources and the chapters executed at ``scale`` into its site folder; generate the derived pages."""
    chapters = check_publishable(root, scale)
    site = site_dir(root, scale)
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, site / name)
    shutil.copytree(root / "book", site / "book")
    shutil.copytree(root / STATIC, site / STATIC)
    copy_mathjax(site / MATHJAX / "mathjax")
    papers.write_site_files(root, site)  # the paper tables in the pages, and the collection as BibTeX
    for chapter in chapters:
        target = site / "notebooks" / f"{chapter.name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        publishable_notebook(executed_path(root, chapter.name, scale), target)
    home = site / "book" / "intro.md"
    home.write_text(home.read_text(encoding="utf-8").replace(HOME_SUMMARY_MARKER,
                                                             home_summary(root, chapters, scale)), encoding="utf-8")
    write_report_pages(root, scale)
    return site


def mathjax_source() -> Path:
    """MathJax 3's browser build (``es5``), as shipped by the django-static-mathjax package."""
    import mathjax

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


# What tex-chtml.js loads at run time: TeX extensions on demand, the CHTML fonts, the menu and its
# accessibility tools. The SVG output and the other combined builds are left out.
MATHJAX_PARTS = ("tex-chtml.js", "input", "output/chtml", "ui", "a11y", "sre", "adaptors")


def copy_mathjax(target: Path) -> None:
    """Put MathJax where ``_config.yml``'s ``mathjax_path`` points, so that no page loads it from another host."""
    source = mathjax_source()
    for part in MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)


def publishable_notebook(executed: Path, target: Path) -> None:
    """Copy an executed chapter for the site, showing its parameters once, its citations and cross-references
    as MyST roles.

    papermill leaves the notebook's own ``parameters`` cell and adds the values it ran with in a cell tagged
    ``injected-parameters`` after it; the page shows only the latter, the values that produced it. The
    notebooks cite with plain links that Colab can render (``alignbook.book.markdown``); the site's
    bibliography and checked cross-references need the roles.
    """
    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = roles_from_links(cell.source)
    if any("injected-parameters" in cell.metadata.get("tags", []) for cell in nb.cells):
        for cell in nb.cells:
            tags = cell.metadata.get("tags", [])
            if "parameters" in tags and "remove-cell" not in tags:
                cell.metadata["tags"] = [*tags, "remove-cell"]
    nbformat.write(nb, target)


def jupyter_book(site: Path, output: Path) -> subprocess.CompletedProcess:
    """Build strictly: warnings are errors (-W), broken references too (-n), and keep going to report them all."""
    command = [
        str(Path(sys.executable).with_name("jupyter-book")), "build", str(site),
        "--path-output", str(output), "--builder", "html", "-W", "-n", "--keep-going",
    ]
    return subprocess.run(command, text=True, capture_output=True)


def build(root: Path, scale: str, log=print) -> Path:
    """Assemble and build the site of ``scale`` into ``_build/SCALE/html``; raise BookError with the build's log on
    a failure."""
    site = assemble(root, scale)
    output = scale_dir(root, scale) / "jupyter-book"
    if output.exists():
        shutil.rmtree(output)  # a fresh build: no images or pages left over from an earlier one
    result = jupyter_book(site, output)
    if result.returncode != 0:
        raise BookError(f"jupyter-book build failed (warnings are errors):\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    built = output / "_build" / "html"
    target = html_dir(root, scale)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(built, target)
    offline_search(target)
    problems = check_html(root, target)
    if problems:
        raise BookError("the built site fails its checks:\n  " + "\n  ".join(problems))
    log(f"[alignbook] site built at scale {scale!r}: {target / 'index.html'}")
    return target


# Read from disk, a page may not fetch another file (the browser forbids it), so Sphinx's search lists the pages
# it finds without a line of their text. The search page therefore also loads every page's text, in one script,
# and answers Sphinx's requests for a page from it when the site is read from disk; online nothing changes.
SEARCH_TEXTS = "_static/alignbook-search-texts.js"
_SEARCH_SHIM = """
(function () {
  if (location.protocol !== "file:") return;  // served: Sphinx fetches the pages themselves
  const texts = window.ALIGNBOOK_PAGE_TEXTS, base = new URL(".", location.href).href, fetchPage = window.fetch;
  window.fetch = function (resource, init) {
    const url = new URL(String(resource), location.href).href.split("#")[0];
    const page = url.startsWith(base) ? url.slice(base.length) : null;
    if (page !== null && Object.prototype.hasOwnProperty.call(texts, page))
      return Promise.resolve(new Response('<div role="main">' + texts[page] + "</div>",
                                          {headers: {"Content-Type": "text/html"}}));
    return fetchPage.call(window, resource, init);
  };
})();
"""


class _Text(HTMLParser):
    """The text of a page's main content (``role="main"``), without scripts and styles."""

    def __init__(self):
        super().__init__()
        self.depth, self.skip, self.parts = 0, 0, []

    def handle_starttag(self, tag, attrs):
        if self.depth or dict(attrs).get("role") == "main":
            self.depth += tag not in VOID_TAGS
            self.skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        if self.depth and tag not in VOID_TAGS:
            self.depth -= 1
            self.skip -= tag in ("script", "style") and self.skip > 0

    def handle_data(self, data):
        if self.depth and not self.skip:
            self.parts.append(data)


VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def offline_search(html: Path) -> None:
    """Write every page's main text into ``SEARCH_TEXTS`` and load it on the search page (see above)."""
    import html as entities
    import json

    texts = {}
    for page in sorted(html.rglob("*.html")):
        name = page.relative_to(html).as_posix()
        if name.split("/")[0] in ("_static", "_sources", "_mathjax") or name in ("search.html", "genindex.html"):
            continue
        parser = _Text()
        parser.feed(page.read_text(encoding="utf-8"))
        text = " ".join(" ".join(parser.parts).split())
        if text:
            texts[name] = entities.escape(text)
    (html / SEARCH_TEXTS).write_text(f"window.ALIGNBOOK_PAGE_TEXTS = {json.dumps(texts)};\n{_SEARCH_SHIM}",
                                     encoding="utf-8")
    search = html / "search.html"
    page = search.read_text(encoding="utf-8")
    if SEARCH_TEXTS not in page:
        search.write_text(page.replace("</head>", f'<script src="{SEARCH_TEXTS}"></script>\n</head>', 1),
                          encoding="utf-8")


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.images = 0
        self.ids: set[str] = set()
        self.report_tables = 0
        self.resources: list[str] = []  # what the page loads: scripts, styles, fonts, icons, images

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag in ("script", "img", "source") and attrs.get("src"):
            self.resources.append(attrs["src"])
        if tag == "link" and attrs.get("href") and attrs.get("rel") in ("stylesheet", "preload", "icon", "modulepreload"):
            self.resources.append(attrs["href"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.images += 1
            self.links.append(attrs["src"])
        if tag == "table" and "alignbook-report" in (attrs.get("class") or ""):
            self.report_tables += 1


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def check_html(root: Path, html: Path) -> list[str]:
    """Every chapter page exists with a figure and its report table; every internal link and anchor resolves;
    no page loads anything from another host; every file in ``_images`` is shown by some page."""
    problems = []
    for chapter in all_chapters(root):
        page = html / "notebooks" / f"{chapter.name}.html"
        if not page.exists():
            problems.append(f"{chapter.name}: no page at {page.relative_to(html)}")
            continue
        parsed = _parse(page)
        if parsed.images == 0:
            problems.append(f"{chapter.name}: the page shows no figure")
        if parsed.report_tables == 0:
            problems.append(f"{chapter.name}: the page shows no reproduction report table")
    for name in ("index.html", *(f"book/appendix/{page}.html" for page in ("reproduction", "run-times", "benchmarks"))):
        if not (html / name).exists():
            problems.append(f"missing page {name}")
    parsed_pages = {p: _parse(p) for p in html.rglob("*.html")}
    shown = set()
    for page, parsed in parsed_pages.items():
        for resource in parsed.resources:
            url = urlparse(resource)
            if url.scheme in ("http", "https") or resource.startswith("//"):
                problems.append(f"{page.relative_to(html)}: loads {resource} from another host")
            elif url.path:
                shown.add((page.parent / unquote(url.path)).resolve())
        for link in parsed.links:
            url = urlparse(link)
            if url.scheme or url.netloc or link.startswith(("mailto:", "data:", "javascript:")):
                continue  # external: not checked at build time (no network)
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{page.relative_to(html)}: broken link {link}")
            elif url.fragment and target.suffix == ".html":
                ids = parsed_pages[target].ids if target in parsed_pages else _parse(target).ids
                if url.fragment not in ids:
                    problems.append(f"{page.relative_to(html)}: broken anchor {link}")
    images = html / "_images"
    unused = sorted(p.name for p in images.glob("*") if p.resolve() not in shown) if images.is_dir() else []
    if unused:
        problems.append(f"_images holds {len(unused)} file(s) no page shows: {', '.join(unused[:5])}")
    return problems

