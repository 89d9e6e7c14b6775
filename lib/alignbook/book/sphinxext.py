"""The book's Sphinx extension (``_config.yml``'s ``extra_extensions``): citation labels and clean page heads.

Citations: sphinxcontrib-bibtex's author-year citations print "Ji et al., 2023" for several papers, and its
reference list numbers them instead. This extension registers a pybtex style, ``alignbook``, whose labels are
"First author et al., year" with a letter when two cited works would share a label; the book uses it for the
list (``bibtex_default_style``) and, through ``bibtex_reference_style: label``, in the text:
"[Ji et al., 2023b]" in both places. The list names authors the same way ("Alain and Bengio", "Achiam et al."):
the paper collection keeps only first authors, so full lists beside them would read as an inconsistency.

Scripts: with this Sphinx, sphinx-thebe's and sphinx-togglebutton's inline scripts reach each page twice, and a
``const`` declared twice is a syntax error in the browser's console; each page keeps one copy of each script.
"""

from __future__ import annotations

import string
from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle
from pybtex.style.template import FieldIsMissing, node, sentence

NAME = "alignbook"


def _last_name(person) -> str:
    return " ".join(person.last_names).replace("{", "").replace("}", "")


def short_names(people) -> str:
    """"Yang et al.", "Bradley and Terry", "Ji": one or two surnames, else the first and "et al."."""
    if len(people) == 1:
        return _last_name(people[0])
    if len(people) == 2 and _last_name(people[1]) != "others":
        return f"{_last_name(people[0])} and {_last_name(people[1])}"
    return f"{_last_name(people[0])} et al."


def author_year(entry) -> str:
    """"Yang et al., 2023", "Bradley and Terry, 1952", "Ji, 2023" for one bibliography entry."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = short_names(people) if people else entry.fields.get("title", "Anonymous").split(":")[0]
    return f"{names}, {entry.fields.get('year', 'n.d.')}"


@node
def surnames(children, context, role):
    """The entry's ``role`` (author, editor) as ``short_names`` writes them."""
    if children:
        raise ValueError(children)
    people = context["entry"].persons.get(role)
    if not people:
        raise FieldIsMissing(role, context["entry"])
    return Text(short_names(people))


class AuthorYearLabels(BaseLabelStyle):
    """Author-year labels, with a, b, c ... appended in list order where two entries would share one."""

    def format_labels(self, sorted_entries):
        labels = [author_year(entry) for entry in sorted_entries]
        shared = {label for label, count in Counter(labels).items() if count > 1}
        used: Counter = Counter()
        for label in labels:
            if label in shared:
                yield label + string.ascii_lowercase[used[label]]
                used[label] += 1
            else:
                yield label


class FirstAuthorYearSort(BaseSortingStyle):
    """By first author, year and title: the list reads in the order of its labels (2023a before 2023b)."""

    def sorting_key(self, entry):
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        first = _last_name(people[0]).lower() if people else ""
        title = entry.fields.get("title", "").replace("{", "").replace("}", "").lower()
        return first, entry.fields.get("year", ""), title


class Style(UnsrtStyle):
    """pybtex's unsrt entries, sorted by ``FirstAuthorYearSort``, labelled by ``AuthorYearLabels``, with the
    authors written as in the labels."""

    default_label_style = NAME
    default_sorting_style = NAME

    def format_names(self, role, as_sentence=True):
        return sentence[surnames(role)] if as_sentence else surnames(role)


def unique_scripts(app, pagename, templatename, context, doctree) -> None:
    """Drop script entries that repeat an earlier one verbatim (same file or body, same attributes)."""
    seen, kept = set(), []
    for script in context.get("script_files", []):
        # an inline script is registered once with filename None and once with "": the same script
        key = (getattr(script, "filename", str(script)) or "", repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"][:] = kept  # in place: handlers after this one (MathJax's) add to the same list


def register() -> None:
    """Make the ``alignbook`` style known to pybtex (sphinxcontrib-bibtex finds it by name)."""
    register_plugin("pybtex.style.labels", NAME, AuthorYearLabels, force=True)
    register_plugin("pybtex.style.sorting", NAME, FirstAuthorYearSort, force=True)
    register_plugin("pybtex.style.formatting", NAME, Style, force=True)


def setup(app):
    register()
    app.connect("html-page-context", unique_scripts, priority=100)  # before any handler that returns a template
    return {"parallel_read_safe": True, "parallel_write_safe": True}
