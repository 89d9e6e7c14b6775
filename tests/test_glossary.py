"""The glossary page (book/glossary.md): its terms in alphabetical order, each defined once, every cross-reference
between entries naming a term that exists."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT

GLOSSARY = ROOT / "book" / "glossary.md"
TERM_ROLE = re.compile(r"\{term\}`([^`<]+?)(?:\s*<([^>]+)>)?`")


def glossary_terms(text: str) -> list[str]:
    """The terms of the ``{glossary}`` block of a MyST page, in the page's order: in that directive a term is a
    line that starts at the margin, its definition the indented lines below it."""
    match = re.search(r"^```\{glossary\}\n(.*?)^```", text, flags=re.S | re.M)
    if match is None:
        raise ValueError("no ```{glossary} block in the page")
    return [line for line in match.group(1).splitlines() if line.strip() and not line[0].isspace()]


def out_of_order(terms: list[str]) -> list[tuple[str, str]]:
    """Neighbours that are not in alphabetical order (ignoring case, as a reader looks a word up)."""
    return [(a, b) for a, b in zip(terms, terms[1:], strict=False) if a.casefold() > b.casefold()]


def test_the_glossary_is_alphabetical_and_defines_each_term_once():
    terms = glossary_terms(GLOSSARY.read_text(encoding="utf-8"))
    assert len(terms) >= 30, terms
    assert not out_of_order(terms), f"glossary terms out of alphabetical order: {out_of_order(terms)}"
    duplicates = sorted({t for t in terms if [u.casefold() for u in terms].count(t.casefold()) > 1})
    assert not duplicates, f"terms defined twice: {duplicates}"


def test_the_order_check_catches_a_misplaced_term():
    page = "# Glossary\n\n```{glossary}\nAlignment\n  A.\n\nRICE\n  R.\n\nDebate\n  D.\n```\n"
    assert glossary_terms(page) == ["Alignment", "RICE", "Debate"]
    assert out_of_order(glossary_terms(page)) == [("RICE", "Debate")]
    assert out_of_order(["DPO", "dpo2", "Forward alignment"]) == []  # case does not decide the order
    with pytest.raises(ValueError, match="no ```{glossary} block"):
        glossary_terms("# Glossary\n\nNo entries.\n")


def test_every_term_reference_in_the_book_names_a_glossary_term():
    terms = {t.casefold() for t in glossary_terms(GLOSSARY.read_text(encoding="utf-8"))}
    missing = []
    for page in sorted((ROOT / "book").rglob("*.md")):
        for text, target in TERM_ROLE.findall(page.read_text(encoding="utf-8")):
            if (target or text).strip().casefold() not in terms:
                missing.append(f"{page.relative_to(ROOT)}: {target or text}")
    assert not missing, f"{{term}} references to terms the glossary lacks: {missing}"
