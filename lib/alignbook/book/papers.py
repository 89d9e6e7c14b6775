"""The paper collection (book/papers.yaml): loaded with its schema checked, rendered as tables, cited as BibTeX.

A page asks for a table with a marker line, ``<!-- papers: part=feedback -->`` (one part) or
``<!-- papers: all -->`` (every paper). When the site is assembled, each marker is replaced by an HTML table with
a text box that filters its rows as one types (an inline handler; nothing is loaded from another host), and the
collection is written as BibTeX next to the pages so that any page can ``{cite}`` a paper by its key. Entries of
``book/references.bib`` win: a key present there is not written again.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from alignbook.book.markdown import cited_in_links

REQUIRED = ("key", "title", "authors", "year", "part", "topic")
LINKS = {
    # the modern identifier form (YYMM.NNNNN, 4 or 5 digits) or the old archive/number form
    "arxiv": re.compile(r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})$"),
    "doi": re.compile(r"^10\.\d{4,9}/\S+$"),
}
KEY = re.compile(r"^[a-z][a-z0-9-]*\d{4}[a-z0-9]*$")
MARKER = re.compile(r"^<!-- papers: (all|part=([a-z-]+)) -->$", re.MULTILINE)
CITATION = re.compile(r"\{cite(?::[a-z]+)?[pt]?\}`([^`]+)`")


@dataclass(frozen=True)
class Paper:
    key: str
    title: str
    authors: str
    year: int
    part: str
    topic: str
    link_kind: str  # "arxiv" or "doi"
    link_id: str

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.link_id}" if self.link_kind == "arxiv" else f"https://doi.org/{self.link_id}"

    @property
    def short_authors(self) -> str:
        names = self.authors.split(" and ")
        if names[-1] == "others":
            return f"{names[0]} et al."
        return " and ".join(names)


@dataclass(frozen=True)
class Part:
    name: str
    title: str
    page: str
    topics: tuple[str, ...]


@dataclass(frozen=True)
class Collection:
    parts: dict[str, Part]
    papers: tuple[Paper, ...]

    @property
    def keys(self) -> set[str]:
        return {p.key for p in self.papers}

    def of_part(self, part: str) -> list[Paper]:
        order = {topic: i for i, topic in enumerate(self.parts[part].topics)}
        return sorted((p for p in self.papers if p.part == part), key=lambda p: (order[p.topic], p.year, p.key))


def default_path(root: Path) -> Path:
    return root / "book" / "papers.yaml"


def parse(data: dict) -> Collection:
    """Check the schema and build the collection; every problem names the paper and the field."""
    if not isinstance(data, dict) or not isinstance(data.get("parts"), dict) or not isinstance(data.get("papers"), list):
        raise ValueError("the paper collection must be a mapping with a 'parts' mapping and a 'papers' list")
    parts = {}
    for name, spec in data["parts"].items():
        missing = [f for f in ("title", "page", "topics") if f not in (spec or {})]
        if missing:
            raise ValueError(f"part {name!r}: missing field(s) {', '.join(missing)}")
        parts[name] = Part(name, str(spec["title"]), str(spec["page"]), tuple(spec["topics"]))
    papers, seen = [], set()
    for index, entry in enumerate(data["papers"]):
        where = f"paper {entry.get('key', f'#{index}')!r}" if isinstance(entry, dict) else f"paper #{index}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: must be a mapping of fields")
        missing = [f for f in REQUIRED if entry.get(f) in (None, "")]
        if missing:
            raise ValueError(f"{where}: missing field(s) {', '.join(missing)}")
        key = str(entry["key"])
        if not KEY.match(key):
            raise ValueError(f"{where}: field 'key' must look like surnameYEARword (lower case), got {key!r}")
        if key in seen:
            raise ValueError(f"{where}: field 'key' is not unique")
        seen.add(key)
        year = entry["year"]
        if not isinstance(year, int) or not 1900 <= year <= 2100:
            raise ValueError(f"{where}: field 'year' must be a year, got {year!r}")
        part = entry["part"]
        if part not in parts:
            raise ValueError(f"{where}: field 'part' is {part!r}; known parts are: {', '.join(parts)}")
        if entry["topic"] not in parts[part].topics:
            raise ValueError(f"{where}: field 'topic' is {entry['topic']!r}; topics of part {part!r} are: "
                             f"{', '.join(parts[part].topics)}")
        kinds = [kind for kind in LINKS if kind in entry]
        if len(kinds) != 1:
            raise ValueError(f"{where}: needs exactly one of the fields 'arxiv' or 'doi', got {kinds or 'none'}")
        kind = kinds[0]
        link = str(entry[kind])
        if not LINKS[kind].match(link):
            raise ValueError(f"{where}: field {kind!r} is not a valid {kind} identifier: {link!r}")
        unknown = set(entry) - set(REQUIRED) - set(LINKS)
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        papers.append(Paper(key, str(entry["title"]), str(entry["authors"]), year, part, str(entry["topic"]), kind,
                            link))
    return Collection(parts, tuple(papers))


def load(path: Path) -> Collection:
    return parse(yaml.safe_load(Path(path).read_text(encoding="utf-8")))


def cited_keys(text: str) -> set[str]:
    """Every key cited with a {cite}, {cite:p} or {cite:t} role in a page or a notebook's markdown, or with a
    link to the references (the notebooks' plain-Markdown form, ``alignbook.book.markdown``)."""
    return {key.strip() for keys in CITATION.findall(text) for key in keys.split(",")} | cited_in_links(text)


def _cell(text: str) -> str:
    return html.escape(text, quote=True)


def table_html(papers: list[Paper], parts: dict[str, Part] | None = None) -> str:
    """A filterable table (no blank line inside, so that Markdown keeps it one raw HTML block). With ``parts``
    (the whole collection), one group per part, headed by the part's title and its count, in the given order."""
    with_part = parts is not None
    header = (["part"] if with_part else []) + ["topic", "year", "paper", "authors"]

    def row(paper: Paper) -> str:
        cells = [_cell(parts[paper.part].title)] if with_part else []
        cells += [_cell(paper.topic), str(paper.year),
                  f'<a href="{_cell(paper.url)}">{_cell(paper.title)}</a>', _cell(paper.short_authors)]
        return "<tr><td>" + "</td><td>".join(cells) + "</td></tr>"

    if with_part:
        groups = {}
        for paper in papers:
            groups.setdefault(paper.part, []).append(paper)
        body = [line for part, members in groups.items() for line in (
            '<tbody class="alignbook-papers-part">',
            f'<tr><th colspan="{len(header)}">{_cell(parts[part].title)} ({len(members)} papers)</th></tr>',
            *map(row, members), "</tbody>")]
    else:
        body = ["<tbody>", *map(row, papers), "</tbody>"]
    # Hides the rows whose text does not contain what was typed, and a part's group when none of its rows is
    # left; the table is the box's next sibling.
    handler = ("var q=this.value.toLowerCase();this.nextElementSibling.querySelectorAll('tbody')"
               ".forEach(function(b){var n=0;b.querySelectorAll('tr').forEach(function(r){if(!r.querySelector('td'))"
               "return;r.hidden=q!==''&&r.textContent.toLowerCase().indexOf(q)<0;if(!r.hidden)n++;});b.hidden=n===0;});")
    return "\n".join([
        '<div class="alignbook-papers">',
        f'<input type="search" placeholder="Filter {len(papers)} papers by title, author, topic or year" '
        f'aria-label="Filter the papers" oninput="{handler}">',
        '<table class="alignbook-papers-table">',
        "<thead><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr></thead>",
        *body,
        "</table>",
        "</div>",
    ])


def render_markers(text: str, collection: Collection) -> str:
    """Replace every marker line in a page by its table; an unknown part fails with the list of known ones."""
    def replace(match: re.Match) -> str:
        if match.group(1) == "all":
            order = list(collection.parts)
            papers = [p for part in order for p in collection.of_part(part)]
            return table_html(papers, collection.parts)
        part = match.group(2)
        if part not in collection.parts:
            raise ValueError(f"papers marker names part {part!r}; known parts are: {', '.join(collection.parts)}")
        return table_html(collection.of_part(part))

    return MARKER.sub(replace, text)


def _bib_text(text: str) -> str:
    return re.sub(r"([&%#_$])", r"\\\1", text)


def bibtex(collection: Collection, skip: set[str] = frozenset()) -> str:
    """The collection as BibTeX, without the keys in ``skip`` (those already in book/references.bib)."""
    entries = []
    for paper in collection.papers:
        if paper.key in skip:
            continue
        # the collection keeps no venue: an arXiv paper is cited as a preprint, a DOI-only one as @misc; the
        # identifier is the entry's one link (pybtex writes eprint and doi as links; a url would repeat them)
        kind, where = (
            ("article", f"  journal = {{arXiv preprint}},\n  eprint  = {{{paper.link_id}}},")
            if paper.link_kind == "arxiv" else ("misc", f"  doi     = {{{paper.link_id}}},")
        )
        entries.append(
            f"@{kind}{{{paper.key},\n"
            f"  title   = {{{{{_bib_text(paper.title)}}}}},\n"
            f"  author  = {{{_bib_text(paper.authors)}}},\n"
            f"{where}\n"
            f"  year    = {{{paper.year}}}\n}}\n"
        )
    return "\n".join(entries)


def bib_keys(text: str) -> set[str]:
    return set(re.findall(r"@\w+\{([^,\s]+),", text))


def write_site_files(root: Path, site: Path) -> None:
    """In the assembled site: render the tables in every page under book/, and write the collection's BibTeX."""
    collection = load(default_path(root))
    for page in (site / "book").rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        if MARKER.search(text):
            page.write_text(render_markers(text, collection), encoding="utf-8")
    known = bib_keys((root / "book" / "references.bib").read_text(encoding="utf-8"))
    target = site / "book" / "generated" / "papers.bib"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(bibtex(collection, skip=known), encoding="utf-8")
