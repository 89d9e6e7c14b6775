"""The reproduction report: what the paper claims, what this run measured, and a verdict.

Chapters compute every entry from their own results::

    ch.report.claim(
        "a reward model recovers the hidden utility",
        paper="qualitative (Sec. 2)",
        ours=f"rank correlation {rho:.2f}",
        verdict=judge(holds=rho > 0.9, partly=rho > 0.7),
        note="linear Bradley-Terry model, 5,000 comparisons",
    )
    ch.report.show()

``show`` displays an HTML table and, in the same output, a JSON copy under ``MIME_TYPE`` so that the runner can
read the report back from the executed notebook (``read_report``).
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

MIME_TYPE = "application/vnd.alignbook.report+json"


class Verdict(str, Enum):
    HOLDS = "holds"
    PARTLY = "partly"
    NOT_AT_SCALE = "not at this scale"

    @classmethod
    def parse(cls, value: Verdict | str) -> Verdict:
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(repr(v.value) for v in cls)
            raise ValueError(f"unknown verdict {value!r}; valid verdicts are: {valid}") from None


def judge(holds: bool, partly: bool = False) -> Verdict:
    """Turn two computed conditions into a verdict: ``holds`` wins, then ``partly``, else not at this scale."""
    if holds:
        return Verdict.HOLDS
    return Verdict.PARTLY if partly else Verdict.NOT_AT_SCALE


@dataclass(frozen=True)
class Claim:
    name: str
    paper: str
    ours: str
    verdict: Verdict
    note: str = ""


class Report:
    """The claims one chapter checks, in the order it checks them."""

    def __init__(self, chapter: str, scale: str):
        self.chapter, self.scale = chapter, scale
        self.claims: list[Claim] = []

    def claim(self, name: str, *, paper: str, ours: str, verdict: Verdict | str, note: str = "") -> Claim:
        for label, value in (("name", name), ("paper", paper), ("ours", ours), ("note", note)):
            if not isinstance(value, str):
                raise TypeError(f"claim {label} must be a string, got {type(value).__name__}")
        if not name.strip():
            raise ValueError("a claim needs a name")
        if any(c.name == name for c in self.claims):
            raise ValueError(f"claim {name!r} is already in the report")
        claim = Claim(name, paper, ours, Verdict.parse(verdict), note)
        self.claims.append(claim)
        return claim

    def to_dict(self) -> dict[str, Any]:
        return {
            "chapter": self.chapter,
            "scale": self.scale,
            "claims": [{**asdict(c), "verdict": c.verdict.value} for c in self.claims],
        }

    def to_html(self) -> str:
        return claims_table_html(self.to_dict()["claims"])

    def to_markdown(self) -> str:
        return claims_table_markdown(self.to_dict()["claims"])

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        return {
            "text/html": self.to_html(),
            "text/plain": self.to_markdown(),
            MIME_TYPE: self.to_dict(),
        }

    def show(self) -> None:
        """Display the table at the end of the chapter (and leave the JSON copy for the runner)."""
        if not self.claims:
            raise ValueError(f"the report of {self.chapter!r} has no claims; add them with report.claim(...)")
        from IPython.display import display

        display(self)


_HEADER = ("claim", "paper", "this run", "verdict", "note")


def claims_table_html(claims: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in _HEADER)
    rows = []
    for c in claims:
        cells = [c["name"], c["paper"], c["ours"], c["verdict"], c["note"]]
        css = "verdict-" + c["verdict"].replace(" ", "-")
        tds = "".join(
            f'<td class="{css}">{html.escape(v)}</td>' if i == 3 else f"<td>{html.escape(v)}</td>"
            for i, v in enumerate(cells)
        )
        rows.append(f"<tr>{tds}</tr>")
    return (
        f'<table class="alignbook-report"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def claims_table_markdown(claims: list[dict[str, Any]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(_HEADER) + " |", "|" + " --- |" * len(_HEADER)]
    for c in claims:
        values = (c["name"], c["paper"], c["ours"], f"**{c['verdict']}**", c["note"])
        lines.append("| " + " | ".join(cell(v) for v in values) + " |")
    return "\n".join(lines)


def read_report(notebook: str | Path) -> dict[str, Any] | None:
    """The last reproduction report displayed in an executed notebook, or None if it shows none."""
    data = json.loads(Path(notebook).read_text(encoding="utf-8"))
    found = None
    for cell in data.get("cells", []):
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(MIME_TYPE)
            if payload is not None:
                found = json.loads(payload) if isinstance(payload, str) else payload
    return found


class HiddenReportCopy:
    """A MyST-NB mime renderer (registered as an entry point) that renders the report's JSON copy as nothing.

    The page shows the report's HTML table; the JSON copy exists for the runner. Without this plugin MyST-NB
    warns about an unknown mime type, and the book's strict build treats warnings as errors.
    """

    mime_priority_overrides = (("*", MIME_TYPE, None),)

    @staticmethod
    def handle_mime(renderer, data, inline):
        return [] if data.mime_type == MIME_TYPE else None
