"""The book's citation labels: unique, author-year, the same in the text and in the reference list."""

import re

import nbformat
import pytest
from pybtex.database import parse_file

from alignbook.book import markdown, sphinxext
from conftest import ROOT


def test_labels_name_each_reference_once_in_reading_order():
    sphinxext.register()
    entries = parse_file(str(ROOT / "book" / "references.bib")).entries
    style = sphinxext.Style()
    ordered = list(style.sort(entries.values()))
    labels = list(style.format_labels(ordered))
    assert len(set(labels)) == len(labels) == len(entries)
    by_key = dict(zip((e.key for e in ordered), labels, strict=True))
    assert by_key["ji2023survey"] == "Ji et al., 2023a" and by_key["ji2023safetygymnasium"] == "Ji et al., 2023b"
    assert by_key["bradley1952rank"] == "Bradley and Terry, 1952"
    assert by_key["yang2023baichuan2"] == "Yang et al., 2023"  # "and others" in the .bib still reads "et al."
    assert labels == sorted(labels, key=lambda label: (label.split(",")[0].split()[0], label.split(", ")[-1]))



def test_the_list_names_authors_as_the_labels_do_and_links_each_entry_once():
    sphinxext.register()
    entries = parse_file(str(ROOT / "book" / "references.bib")).entries
    style = sphinxext.Style()
    text = {e.key: e.text.render_as("text") for e in style.format_entries(entries.values())}
    assert text["bradley1952rank"].startswith("Bradley and Terry. Rank analysis")
    assert text["ouyang2022instructgpt"].startswith("Ouyang et al. Training language models")  # "and others" in the .bib
    assert text["ji2023survey"].startswith("Ji et al. ")  # 25 authors, named like a first-author-only entry
    for key, rendered in text.items():
        arxiv = entries[key].fields.get("eprint")
        if arxiv:  # the identifier once, as its link, never also as a journal or a url
            assert rendered.count(arxiv) == 1, (key, rendered)


BLOB = "https://github.com/alignment-book/alignment-book/blob/main/"
SUFFIXES = {"book/learning-from-feedback": ".md", "notebooks/survey": ".ipynb"}
ROLES = ("On {cite}`ji2024aligner`, see {doc}`the overview </notebooks/survey>` and "
         "{doc}`Learning from feedback </book/learning-from-feedback>`; two at once {cite}`a2020x,b2021y`.")
LINKS = (f"On [Ji et al., 2024a]({BLOB}book/references.bib#ji2024aligner), see [the overview]({BLOB}"
         f"notebooks/survey.ipynb) and [Learning from feedback]({BLOB}book/learning-from-feedback.md); two at once "
         f"[A, 2020]({BLOB}book/references.bib#a2020x); [B, 2021]({BLOB}book/references.bib#b2021y).")
LABELS = {"ji2024aligner": "Ji et al., 2024a", "a2020x": "A, 2020", "b2021y": "B, 2021"}


def test_notebook_links_become_the_sites_roles_and_back():
    """Colab reads the links; the site's build gets exactly the roles (a group of citations stays one role)."""
    assert markdown.links_from_roles(ROLES, BLOB, LABELS.__getitem__, {}.__getitem__, SUFFIXES) == LINKS
    assert markdown.roles_from_links(LINKS) == ROLES
    assert markdown.cited_in_links(LINKS) == {"ji2024aligner", "a2020x", "b2021y"}


def test_a_doc_role_without_a_title_takes_the_pages_and_unknown_targets_are_refused():
    titles = {"book/learning-from-feedback": "Forward alignment: learning from feedback"}.__getitem__
    links = markdown.links_from_roles("{doc}`/book/learning-from-feedback`", BLOB, LABELS.__getitem__, titles,
                                      SUFFIXES)
    assert links == f"[Forward alignment: learning from feedback]({BLOB}book/learning-from-feedback.md)"
    assert markdown.roles_from_links(links) == \
        "{doc}`Forward alignment: learning from feedback </book/learning-from-feedback>`"
    with pytest.raises(ValueError, match="no page or chapter"):
        markdown.links_from_roles("{doc}`/book/nowhere`", BLOB, LABELS.__getitem__, titles, SUFFIXES)
    with pytest.raises(ValueError, match="blob must be"):
        markdown.links_from_roles("x", "https://example.org/", LABELS.__getitem__, titles, SUFFIXES)


def test_other_links_and_plain_text_are_left_alone():
    text = ("[a site](https://example.org/book/references.bib#x), [code](https://github.com/o/r/blob/main/lib/x.py), "
            "a [bracket] and (parenthesis)")
    assert markdown.roles_from_links(text) == text and markdown.cited_in_links(text) == set()


def test_the_chapters_cite_what_the_site_labels_them():
    """The link text a Colab reader sees is the label the book's style gives the key in references.bib."""
    sphinxext.register()
    entries = parse_file(str(ROOT / "book" / "references.bib")).entries
    style = sphinxext.Style()
    ordered = list(style.sort(entries.values()))
    labels = dict(zip((e.key for e in ordered), style.format_labels(ordered), strict=True))
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                for text, key in re.findall(r"\[([^\]]+)\]\([^)]*references\.bib#([\w.:-]+)\)", cell.source):
                    assert text == labels[key], f"{path.name}: {key} reads {text!r}, its label is {labels[key]!r}"
