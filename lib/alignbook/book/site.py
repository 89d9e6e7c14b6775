"""The site: appendix pages from the executed chapters, the assembled source tree, the strict build, checks.

The committed sources (``_config.yml``, ``_toc.yml``, ``book/``) are copied with the executed notebooks into
``_build/site``; the runner writes the generated pages there (the two appendices, the home page's figure) and
Jupyter Book renders that tree into ``_build/html``. The committed notebooks never carry outputs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import yaml

from alignbook.book import bench
from alignbook.book.chapters import BookError, Chapter, all_chapters
from alignbook.book.runner import build_dir, executed_path, load_history, load_record
from alignbook.report import claims_table_markdown, read_report

APPENDIX = Path("book") / "appendix"


def site_dir(root: Path) -> Path:
    return build_dir(root) / "site"


def html_dir(root: Path) -> Path:
    return build_dir(root) / "html"


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
        record = load_record(root, chapter.name)
        if record is None or not executed_path(root, chapter.name).exists():
            problems.append(f"{chapter.name}: has not been executed")
        elif record.scale != scale:
            problems.append(f"{chapter.name}: was executed at scale {record.scale!r}, not {scale!r}")
    if problems:
        raise BookError("refusing to build the site:\n  " + "\n  ".join(problems))
    return chapters


def _reading_order(root: Path, chapters: list[Chapter]) -> list[Chapter]:
    order = {Path(f).name: i for i, f in enumerate(toc_files(root))}
    return sorted(chapters, key=lambda c: order.get(c.name, len(order)))


def reproduction_page(root: Path, chapters: list[Chapter]) -> str:
    lines = [
        "# Reproduction status",
        "",
        "Every chapter ends with a reproduction report: the paper's claims, the paper's figure, what this build",
        "measured, and a verdict computed from the run (*holds*, *partly*, or *not at this scale*). This page",
        "collects those reports from the executed notebooks of this build.",
        "",
        "| chapter | scale | holds | partly | not at this scale |",
        "| --- | --- | --- | --- | --- |",
    ]
    sections = []
    for chapter in _reading_order(root, chapters):
        report = read_report(executed_path(root, chapter.name))
        title = chapter_title(chapter.path)
        link = f"{{doc}}`{title} </notebooks/{chapter.name}>`"
        if report is None:
            lines.append(f"| {link} | - | - | - | - |")
            sections += [f"## {title}", "", "This chapter did not display a reproduction report.", ""]
            continue
        verdicts = [c["verdict"] for c in report["claims"]]
        counts = [verdicts.count(v) for v in ("holds", "partly", "not at this scale")]
        lines.append(f"| {link} | {report['scale']} | " + " | ".join(map(str, counts)) + " |")
        sections += [f"## {title}", "", claims_table_markdown(report["claims"]), ""]
    return "\n".join(lines + [""] + sections)


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def runtimes_page(root: Path, chapters: list[Chapter]) -> str:
    history = load_history(root)
    lines = [
        "# Run times",
        "",
        "Wall time and peak memory (resident set of the notebook's kernel) of each chapter, as last recorded by",
        "`python -m alignbook run` on the machine that built this site. A dash means the chapter has not been",
        "run at that scale here.",
        "",
        "| chapter | smoke | book | full | machine |",
        "| --- | --- | --- | --- | --- |",
    ]
    for chapter in _reading_order(root, chapters):
        runs = history.get(chapter.name, {})
        cells = []
        for scale in ("smoke", "book", "full"):
            run = runs.get(scale)
            cells.append(f"{_seconds(run['wall_s'])}, {run['peak_rss_mb']:.0f} MB" if run else "-")
        machine = next((r["machine"] for r in runs.values()), "-")
        title = chapter_title(chapter.path)
        lines.append(f"| {{doc}}`{title} </notebooks/{chapter.name}>` | " + " | ".join(cells) + f" | {machine} |")
    return "\n".join(lines) + "\n"


def benchmarks_page(root: Path) -> str:
    results = bench.load_results(root)
    lines = [
        "# Benchmarks",
        "",
        "Throughput figures printed by the scripts in `benchmarks/` (run them with `make bench`, which also",
        "records them here), each with the machine and the date it was measured on. A figure measured on",
        "another machine is not comparable with the originals' figures in the chapters.",
        "",
    ]
    if not results:
        return "\n".join(lines + ["No benchmark has been run on the machine that built this site.", ""])
    lines += ["| benchmark | result | machine | measured |", "| --- | --- | --- | --- |"]
    for name, entry in sorted(results.items()):
        figures = ", ".join(f"{k}: {v}" for k, v in entry["result"].items())
        lines.append(f"| `{name}` | {figures} | {entry['machine']} | {entry['finished'][:10]} |")
    return "\n".join(lines) + "\n"


def write_report_pages(root: Path, scale: str) -> tuple[Path, ...]:
    """The ``report`` command: write the appendix pages into the assembled site tree."""
    chapters = check_publishable(root, scale)
    target = site_dir(root) / APPENDIX
    target.mkdir(parents=True, exist_ok=True)
    pages = {
        target / "reproduction.md": reproduction_page(root, chapters),
        target / "run-times.md": runtimes_page(root, chapters),
        target / "benchmarks.md": benchmarks_page(root),
    }
    for path, text in pages.items():
        path.write_text(text, encoding="utf-8")
    return tuple(pages)


def assemble(root: Path, scale: str) -> Path:
    """Copy the sources and the executed chapters into ``_build/site`` and generate the derived pages."""
    chapters = check_publishable(root, scale)
    site = site_dir(root)
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, site / name)
    shutil.copytree(root / "book", site / "book")
    for chapter in chapters:
        target = site / "notebooks" / f"{chapter.name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(executed_path(root, chapter.name), target)
    write_report_pages(root, scale)
    return site


def jupyter_book(site: Path, output: Path) -> subprocess.CompletedProcess:
    """Build strictly: warnings are errors (-W), broken references too (-n), and keep going to report them all."""
    command = [
        str(Path(sys.executable).with_name("jupyter-book")), "build", str(site),
        "--path-output", str(output), "--builder", "html", "-W", "-n", "--keep-going",
    ]
    return subprocess.run(command, text=True, capture_output=True)


def build(root: Path, scale: str, log=print) -> Path:
    """Assemble and build the site into ``_build/html``; raise BookError with the build's log on a failure."""
    site = assemble(root, scale)
    output = build_dir(root) / "jupyter-book"
    result = jupyter_book(site, output)
    if result.returncode != 0:
        raise BookError(f"jupyter-book build failed (warnings are errors):\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}")
    built = output / "_build" / "html"
    target = html_dir(root)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(built, target)
    problems = check_html(root, target)
    if problems:
        raise BookError("the built site fails its checks:\n  " + "\n  ".join(problems))
    log(f"[alignbook] site built at scale {scale!r}: {target / 'index.html'}")
    return target


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.images = 0
        self.ids: set[str] = set()
        self.report_tables = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
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
    """Every chapter page exists with a figure and its report table; every internal link and anchor resolves."""
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
    for page, parsed in parsed_pages.items():
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
    return problems

