"""The book's citation labels: unique, author-year, the same in the text and in the reference list."""

from pybtex.database import parse_file

from alignbook.book import sphinxext
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
