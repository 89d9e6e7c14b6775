"""The paper collection (book/papers.yaml): schema, tags, links, rendering, and that every citation resolves."""

import copy
import re

import nbformat
import pytest
import yaml
from pybtex.database import parse_string

from alignbook.book import papers
from alignbook.book.site import toc_files
from conftest import ROOT

RAW = yaml.safe_load(papers.default_path(ROOT).read_text(encoding="utf-8"))
COLLECTION = papers.parse(RAW)
REFERENCES = papers.bib_keys((ROOT / "book" / "references.bib").read_text(encoding="utf-8"))


def test_collection_is_large_and_covers_every_part():
    assert len(COLLECTION.papers) >= 150
    for part in COLLECTION.parts:
        assert len(COLLECTION.of_part(part)) >= 10, part
        # every topic (a section of the survey) has at least one paper
        assert {p.topic for p in COLLECTION.of_part(part)} == set(COLLECTION.parts[part].topics), part


def test_keys_are_unique_in_the_raw_file():
    keys = [entry["key"] for entry in RAW["papers"]]
    assert len(keys) == len(set(keys))


def test_links_are_well_formed():
    for paper in COLLECTION.papers:
        if paper.link_kind == "arxiv":
            assert re.fullmatch(r"https://arxiv\.org/abs/\d{4}\.\d{4,5}", paper.url), paper.key
            # arXiv identifiers start with the year and month of submission: never after the paper's year + 1
            assert 2000 + int(paper.link_id[:2]) <= paper.year + 1 or paper.link_id.startswith("0"), paper.key
        else:
            assert paper.url.startswith("https://doi.org/10."), paper.key


def test_every_part_page_exists_shows_its_table_and_is_in_the_toc():
    listed = set(toc_files(ROOT))
    for part in COLLECTION.parts.values():
        assert part.page in listed, part.page
        text = (ROOT / f"{part.page}.md").read_text(encoding="utf-8")
        assert f"<!-- papers: part={part.name} -->" in text, part.page
    assert "<!-- papers: all -->" in (ROOT / "book" / "papers.md").read_text(encoding="utf-8")


def _markdown_sources():
    for page in (ROOT / "book").rglob("*.md"):
        yield page.relative_to(ROOT), page.read_text(encoding="utf-8")
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(notebook, as_version=4)
        yield notebook.relative_to(ROOT), "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_every_cited_key_exists():
    known = REFERENCES | COLLECTION.keys
    cited_somewhere = set()
    for path, text in _markdown_sources():
        cited = papers.cited_keys(text)
        assert cited <= known, f"{path} cites unknown keys {sorted(cited - known)}"
        cited_somewhere |= cited
    assert cited_somewhere & (COLLECTION.keys - REFERENCES), "no page cites a paper of the collection"


def test_cited_keys_reads_every_form_of_the_role():
    text = "a {cite}`a2020x` b {cite:p}`b2021y, c2022z` c {cite:t}`d2023w` {citet}`e2024v`"
    assert papers.cited_keys(text) == {"a2020x", "b2021y", "c2022z", "d2023w", "e2024v"}


def test_markers_render_filterable_tables():
    text = "# Page\n\n<!-- papers: part=shift -->\n\nafter\n"
    rendered = papers.render_markers(text, COLLECTION)
    assert rendered.count("<tr><td>") == len(COLLECTION.of_part("shift"))
    assert 'type="search"' in rendered and "oninput=" in rendered
    assert "<script" not in rendered and "http://" not in rendered
    block = rendered.split("<!--")[0] if "<!--" in rendered else rendered
    assert "\n\n" not in block[block.index("<div"):block.index("</div>")]  # one raw HTML block in Markdown
    everything = papers.render_markers("<!-- papers: all -->", COLLECTION)
    assert everything.count("<tr><td>") == len(COLLECTION.papers)
    # The whole collection in one group per part, each headed by its title and count, in the parts' order.
    headings = [line for line in everything.splitlines() if line.startswith("<tr><th colspan")]
    assert len(headings) == everything.count('<tbody class="alignbook-papers-part">') == len(COLLECTION.parts)
    for line, (part, declared) in zip(headings, COLLECTION.parts.items(), strict=True):
        assert f">{declared.title} ({len(COLLECTION.of_part(part))} papers)</th>" in line
    with pytest.raises(ValueError, match="known parts are"):
        papers.render_markers("<!-- papers: part=nowhere -->", COLLECTION)


def test_titles_are_escaped_in_the_table():
    entry = {"key": "x2020y", "title": 'A <b>"bold"</b> & title', "authors": "X", "year": 2020,
             "part": "shift", "topic": "REx", "arxiv": "2001.00001"}
    data = copy.deepcopy(RAW)
    data["papers"] = [entry]
    html = papers.table_html(papers.parse(data).papers)
    assert "&lt;b&gt;&quot;bold&quot;&lt;/b&gt; &amp; title" in html


def test_bibtex_parses_and_leaves_out_the_references_keys():
    text = papers.bibtex(COLLECTION, skip=REFERENCES)
    database = parse_string(text, "bibtex")
    assert set(database.entries) == COLLECTION.keys - REFERENCES
    entry = database.entries["christiano2017deep"]
    assert entry.fields["year"] == "2017" and entry.fields["eprint"] == "1706.03741"
    assert str(entry.persons["author"][0].last_names[0]) == "Christiano"
    # one link per entry: the arXiv identifier or the DOI, never also the same address as a url
    assert all("url" not in e.fields and ("eprint" in e.fields) != ("doi" in e.fields)
               for e in database.entries.values())


def _with(**changes):
    data = copy.deepcopy(RAW)
    data["papers"] = [dict(RAW["papers"][0], **changes)]
    return data


@pytest.mark.parametrize("changes, message", [
    ({"title": ""}, "missing field"),
    ({"part": "elsewhere"}, "field 'part' is 'elsewhere'; known parts are"),
    ({"topic": "astrology"}, "field 'topic' is 'astrology'"),
    ({"arxiv": "23.1"}, "field 'arxiv' is not a valid arxiv identifier"),
    ({"doi": "10.1000/x"}, "exactly one of the fields 'arxiv' or 'doi'"),
    ({"year": "soon"}, "field 'year' must be a year"),
    ({"key": "Bad Key"}, "field 'key' must look like"),
    ({"venue": "NeurIPS"}, "unknown field"),
])
def test_bad_entries_are_rejected_naming_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        papers.parse(_with(**changes))


def test_duplicate_keys_are_rejected():
    data = copy.deepcopy(RAW)
    data["papers"] = [RAW["papers"][0], RAW["papers"][0]]
    with pytest.raises(ValueError, match="field 'key' is not unique"):
        papers.parse(data)
