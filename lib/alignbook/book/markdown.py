"""A chapter's markdown in two dialects: plain Markdown links in the committed notebooks, MyST roles on the site.

Colab, GitHub and a plain Jupyter render Markdown, not MyST: a ``{cite}`key``` role reads there as code. So the
notebooks cite and cross-reference with ordinary links into the book's repository, which any renderer shows as
readable, working links, and the site's assembly turns them back into the roles the strict build needs (the
bibliography, checked cross-references), so that the site reads as if the roles had been written:

- ``[Ji et al., 2024](https://github.com/OWNER/REPO/blob/BRANCH/book/references.bib#ji2024aligner)`` is
  ``{cite}`ji2024aligner```; citations joined by ``"; "`` are one role, ``{cite}`a,b```;
- ``[text](https://github.com/OWNER/REPO/blob/BRANCH/book/page.md)`` (or ``notebooks/NAME.ipynb``) is
  ``{doc}`text </book/page>```.

``links_from_roles`` writes the first dialect from the second (for authors who write roles).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

REFERENCES = "book/references.bib"
_BLOB = r"https://github\.com/[\w.-]+/[\w.-]+/blob/[\w./-]+?/"
_CITE_LINK = rf"\[[^\]\n]+\]\({_BLOB}{re.escape(REFERENCES)}#([\w.:-]+)\)"
CITE_LINKS = re.compile(rf"{_CITE_LINK}(?:; {_CITE_LINK})*")
DOC_LINK = re.compile(rf"\[([^\]\n]+)\]\({_BLOB}((?:book|notebooks)/[\w/.-]+?)\.(?:md|ipynb)\)")
CITE_ROLE = re.compile(r"\{cite\}`([^`]+)`")
DOC_ROLE = re.compile(r"\{doc\}`(?:([^`<]*?)\s*<([^`>]+)>|([^`<]+))`")


def roles_from_links(markdown: str) -> str:
    """The site's dialect: links into the book's repository become ``{cite}`` and ``{doc}`` roles."""
    def cite(match: re.Match) -> str:
        return "{cite}`" + ",".join(re.findall(r"#([\w.:-]+)\)", match.group(0))) + "`"

    markdown = CITE_LINKS.sub(cite, markdown)
    return DOC_LINK.sub(lambda m: f"{{doc}}`{m.group(1)} </{m.group(2)}>`", markdown)


def cited_in_links(markdown: str) -> set[str]:
    """The keys cited with links to the references (what ``roles_from_links`` makes ``{cite}`` roles of)."""
    return {key for links in CITE_LINKS.finditer(markdown)
            for key in re.findall(r"#([\w.:-]+)\)", links.group(0))}


def links_from_roles(markdown: str, blob: str, label: Callable[[str], str], title: Callable[[str], str],
                     suffixes: Mapping[str, str]) -> str:
    """The notebooks' dialect. ``blob`` is the repository's ``https://github.com/OWNER/REPO/blob/BRANCH/``;
    ``label(key)`` is a citation's text ("Ji et al., 2024"), ``title(path)`` a page's title (for a ``{doc}``
    without one), ``suffixes[path]`` a document's file ending (``.md`` or ``.ipynb``)."""
    if not re.fullmatch(_BLOB, blob):
        raise ValueError(f"blob must be https://github.com/OWNER/REPO/blob/BRANCH/, got {blob!r}")

    def cite(match: re.Match) -> str:
        keys = [key.strip() for key in match.group(1).split(",")]
        return "; ".join(f"[{label(key)}]({blob}{REFERENCES}#{key})" for key in keys)

    def doc(match: re.Match) -> str:
        text, target = (match.group(1), match.group(2)) if match.group(2) else (None, match.group(3))
        path = target.strip().lstrip("/")
        if path not in suffixes:
            raise ValueError(f"{{doc}} names {target!r}, which is no page or chapter of the book")
        return f"[{text or title(path)}]({blob}{path}{suffixes[path]})"

    return DOC_ROLE.sub(doc, CITE_ROLE.sub(cite, markdown))
