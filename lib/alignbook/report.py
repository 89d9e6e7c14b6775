"""The reproduction report: what the paper claims, what this run measured, and a verdict.

Chapters compute every entry from their own results::

    ch.report.claim(
        "a reward model recovers the hidden utility",
        paper="qualitative (Sec. 2)",
        ours=f"rank correlation {rho:.2f}",
        verdict=judge(holds=rho > 0.9, partly=rho > 0.7, contradicted=rho < 0),
        note="linear Bradley-Terry model, 5,000 comparisons; holds at rho > 0.9, partly at > 0.7",
    )
    gap = compare(safe_costs, plain_costs, better="lower")     # one value per seed on each side
    ch.report.claim("the constraint lowers cost by 0.2", paper="...", ours=str(gap), verdict=gap.verdict(target=0.2),
                    plan=Plan(gap, effect=0.2, full_seeds=10))   # the seeds it needs, and where it is decided
    ch.report.check("cost is binary", ours="values {0, 1}", passed=binary)   # shown, never counted
    ch.report.show()

Four verdicts: *holds* (the paper's effect, at the paper's magnitude), *partly* (the paper's direction, a weaker
magnitude), *not at this scale* (inconclusive: within this run's noise), *contradicted* (the opposite direction,
beyond this run's noise). Premises that hold by construction or that guard the machinery are *checks*: they are
shown under the report but never counted as reproductions. A claim judged over seeds at the paper's magnitude
carries a ``Plan``: a power calculation on the run's per-seed spread says how many seeds it needs, and whether
this run (at its scale), the ``full`` scale, or neither has them; a verdict reached with too few seeds is kept
and its note says it is under-powered.

``show`` displays an HTML table and, in the same output, a JSON copy under ``MIME_TYPE`` so that the runner can
read the report back from the executed notebook (``read_report``).
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any

MIME_TYPE = "application/vnd.alignbook.report+json"


class Verdict(str, Enum):
    HOLDS = "holds"
    PARTLY = "partly"
    NOT_AT_SCALE = "not at this scale"
    CONTRADICTED = "contradicted"

    @classmethod
    def parse(cls, value: Verdict | str) -> Verdict:
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(repr(v.value) for v in cls)
            raise ValueError(f"unknown verdict {value!r}; valid verdicts are: {valid}") from None


def judge(holds: bool, partly: bool = False, contradicted: bool = False) -> Verdict:
    """Turn computed conditions into a verdict: ``holds``, else ``contradicted``, else ``partly``, else not at
    this scale. ``holds`` and ``contradicted`` together mean the chapter's conditions overlap: an error."""
    holds, partly, contradicted = bool(holds), bool(partly), bool(contradicted)
    if holds and contradicted:
        raise ValueError("a claim cannot both hold and be contradicted; the conditions passed to judge() overlap")
    if holds:
        return Verdict.HOLDS
    if contradicted:
        return Verdict.CONTRADICTED
    return Verdict.PARTLY if partly else Verdict.NOT_AT_SCALE


# Fewer training runs than this never decide a claim: with two, the interval has one degree of freedom and a
# lucky pair of seeds reads as an effect.
MIN_SEEDS = 3
# A plan that needs more training runs than this a side is no plan: the claim is beyond any scale the book runs.
MOST_SEEDS = 100


@dataclass(frozen=True)
class Comparison:
    """The difference between two methods over seeds, signed so that a positive value is the paper's direction.

    ``low`` and ``high`` bound a Welch t interval of the difference of the means at ``level``. ``variances`` keeps
    each side's per-run variance (NaN where the values cannot tell it), so that the comparison can plan the runs a
    decisive one needs (``seeds_needed``).
    """

    difference: float
    low: float
    high: float
    level: float
    seeds: tuple[int, int]
    better: str
    unit: str = "seeds"
    variances: tuple[float, float] = (float("nan"), float("nan"))

    def seeds_needed(self, effect: float, power: float = 0.8, most: int = MOST_SEEDS) -> int | None:
        """Runs per side for this comparison's test to find a true difference of ``effect`` (in its units,
        positive: the paper's direction) with probability ``power``; planned from this comparison's per-run
        spread, as ``report.seeds_needed`` plans from a pilot's values. None when the spread cannot tell or when
        more than ``most`` runs would be needed."""
        return _runs_for_power(*self.variances, effect, level=self.level, power=power, most=most)

    def verdict(self, target: float | None = None) -> Verdict:
        """Holds when the whole interval lies on the paper's side of zero (and, with ``target``, the mean
        difference reaches the paper's magnitude; below it, partly); contradicted when the whole interval lies on
        the other side; otherwise not at this scale."""
        if self.low > 0:
            return Verdict.HOLDS if target is None or self.difference >= target else Verdict.PARTLY
        if self.high < 0:
            return Verdict.CONTRADICTED
        return Verdict.NOT_AT_SCALE

    def __str__(self) -> str:
        pct = round(100 * self.level)
        return (
            f"{self.difference:+.3g} [{self.low:+.3g}, {self.high:+.3g}] "
            f"({pct}% interval, {self.seeds[0]} vs {self.seeds[1]} {self.unit})"
        )


def compare(ours, baseline, *, better: str = "higher", level: float = 0.95, unit: str = "seeds") -> Comparison:
    """Compare per-seed values of a method (``ours``) with a baseline's.

    ``better`` says which way the paper expects ``ours`` to differ: "higher" or "lower". The result's
    ``difference`` is ``mean(ours) - mean(baseline)`` for "higher" and the negative for "lower", so that a
    positive difference always reads as the paper's direction. The interval is infinite -- the comparison can
    never hold or be contradicted -- whenever it could not be trusted: fewer than ``MIN_SEEDS`` training runs on
    a side (when ``unit`` is "seeds"; a single value for other units), no spread at all on both sides (identical
    seeds say nothing about the noise), or a non-finite value (a diverged run is reported, not averaged away).
    ``unit`` names what the values are samples of (seeds, episodes, test media) in the printed summary.
    """
    import numpy as np
    from scipy import stats

    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    a, b = (np.asarray(v, dtype=float).ravel() for v in (ours, baseline))
    if a.size == 0 or b.size == 0:
        raise ValueError("compare() needs at least one value on each side")
    sign = 1.0 if better == "higher" else -1.0
    diff = sign * (a.mean() - b.mean())
    fewest = MIN_SEEDS if unit == "seeds" else 2
    spread = _pilot_variances(a, b)
    undecided = Comparison(float(diff), -np.inf, np.inf, level, (a.size, b.size), better, unit, spread)
    if a.size < fewest or b.size < fewest or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return undecided
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = np.sqrt(va + vb)
    if se == 0:
        return undecided
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = stats.t.ppf(0.5 + level / 2, dof) * se
    return Comparison(float(diff), float(diff - half), float(diff + half), level, (a.size, b.size), better, unit,
                      spread)


def _pilot_variances(a, b) -> tuple[float, float]:
    """Each side's per-run variance for a plan: NaN for both when the values cannot tell (fewer than two on
    ``a``, a non-finite value); a single baseline value is a constant (the zero of 'no change') and adds none."""
    import numpy as np

    if a.size < 2 or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("nan"), float("nan")
    return float(a.var(ddof=1)), float(b.var(ddof=1)) if b.size > 1 else 0.0


def seeds_needed(ours, baseline, effect: float, *, level: float = 0.95, power: float = 0.8,
                 most: int = MOST_SEEDS) -> int | None:
    """Training runs per side for ``compare`` to find a true difference of ``effect`` (the paper's magnitude, in
    the same units, positive) with probability ``power``, planned from the per-seed spread of a pilot run (the
    book run's ``ours`` and ``baseline``): the smallest n >= ``MIN_SEEDS`` whose Welch test at ``level`` has that
    power, with each side's variance as measured (a constant baseline, such as the zero of 'no change', adds
    none). None when the pilot cannot tell (fewer than two values a side, no spread, a non-finite value) or when
    more than ``most`` runs would be needed. The chapter chooses its seeds from this before the run that decides,
    never after seeing that run."""
    import numpy as np

    a, b = (np.asarray(v, dtype=float).ravel() for v in (ours, baseline))
    return _runs_for_power(*_pilot_variances(a, b), effect, level=level, power=power, most=most)


def _runs_for_power(va: float, vb: float, effect: float, *, level: float, power: float, most: int) -> int | None:
    """The smallest n >= ``MIN_SEEDS`` runs a side whose Welch test at ``level`` finds a true difference
    ``effect`` with probability ``power``, for per-run variances ``va`` and ``vb``; None when they cannot tell
    (NaN, both zero) or beyond ``most``."""
    import numpy as np
    from scipy import stats

    if not effect > 0:
        raise ValueError(f"effect must be a positive difference in the paper's direction, got {effect!r}")
    if not 0 < level < 1 or not 0 < power < 1:
        raise ValueError(f"level and power must lie in (0, 1), got {level!r} and {power!r}")
    if not (np.isfinite(va) and np.isfinite(vb)) or va + vb == 0:
        return None
    for n in range(MIN_SEEDS, most + 1):
        se = np.sqrt((va + vb) / n)
        # Welch's degrees of freedom for n runs a side (n - 1 when one side has no spread).
        dof = (va + vb) ** 2 / ((va**2 + vb**2) / (n - 1))
        critical = stats.t.ppf(0.5 + level / 2, dof)
        if stats.nct.sf(critical, dof, effect / se) >= power:  # the interval's low end above zero
            return n
    return None


# Where a claim with a plan is decided when this run's seeds are too few for it (counted apart on the site).
DECIDED_AT_FULL, BEYOND_FULL = "full", "beyond full"


@dataclass(frozen=True)
class Plan:
    """How many seeds a claim judged by ``compare`` needs, and where it is decided.

    ``comparison`` is the claim's comparison over seeds, ``effect`` the difference to find in its units: the
    paper's magnitude (the ``target`` its verdict is judged at) or, where the paper gives none, the smallest
    effect of interest the chapter declares before the run, with ``basis`` saying what it is and why;
    ``full_seeds`` the seeds the chapter runs at scale ``full``. The power
    calculation uses this run's per-seed spread: the claim is decided at this run's scale when the run has at least
    the seeds needed to find ``effect`` with probability ``power``, at ``full`` when only the full scale has them,
    and beyond full otherwise (or when the spread cannot tell: no spread, a non-finite value)."""

    comparison: Comparison
    effect: float
    full_seeds: int
    power: float = 0.8
    basis: str = ""  # empty: the effect is the target; else e.g. "the smallest effect of interest: ..."

    def __post_init__(self):
        if not isinstance(self.comparison, Comparison):
            raise TypeError(f"a plan needs the claim's Comparison (from compare), got {type(self.comparison).__name__}")
        if self.comparison.unit != "seeds":
            raise ValueError(f"a plan counts training runs; this comparison is over {self.comparison.unit}")
        if isinstance(self.effect, bool) or not isinstance(self.effect, (int, float)):
            raise TypeError(f"the effect to find must be a number in the comparison's units, got {self.effect!r}")
        if isinstance(self.full_seeds, bool) or not isinstance(self.full_seeds, int) or self.full_seeds < 1:
            raise ValueError(f"full_seeds must be a positive number of seeds, got {self.full_seeds!r}")
        if not 0 < self.power < 1:
            raise ValueError(f"power must lie in (0, 1), got {self.power!r}")
        if not isinstance(self.basis, str):
            raise TypeError(f"basis must be a string, got {type(self.basis).__name__}")

    @property
    def seeds_used(self) -> int:
        return min(self.comparison.seeds)

    @property
    def plannable(self) -> bool:
        """An effect read from the run (a share of a baseline that came out zero, a NaN) may give nothing to find."""
        return math.isfinite(self.effect) and self.effect > 0

    @cached_property  # a power search over n: the note, the verdict's place and the claim's record all read it
    def seeds_needed(self) -> int | None:
        return self.comparison.seeds_needed(self.effect, self.power) if self.plannable else None

    @property
    def goal(self) -> str:
        """The effect to find, in words: the target, or the declared effect and its basis."""
        return f"{self.effect:+.3g} ({self.basis})" if self.basis else f"the target {self.effect:+.3g}"

    def decided(self, scale: str) -> str:
        """Where the claim is decided: ``scale`` (this run's), "full", or "beyond full"."""
        needed = self.seeds_needed
        if needed is not None and self.seeds_used >= needed:
            return scale
        if needed is not None and self.full_seeds >= needed and scale != "full":
            return DECIDED_AT_FULL
        return BEYOND_FULL

    def note(self, scale: str) -> str:
        """What the plan says, in words, for the claim's note."""
        needed, used, decided = self.seeds_needed, self.seeds_used, self.decided(scale)
        goal = f"to find {self.goal} with {self.power:.0%} power"
        if not self.plannable:
            return f"seeds: {used} a side; no positive effect to plan for (got {self.effect:.3g}): beyond full"
        if needed is None:
            # NaN (no usable values) or zero: no spread to plan from; otherwise the effect is too small for it.
            why = (f"more than {MOST_SEEDS} seeds a side are needed {goal}" if sum(self.comparison.variances) > 0
                   else "this run's seeds show no spread to plan from")
            return f"seeds: {used} a side; {why}: beyond full ({self.full_seeds} seeds)"
        text = f"seeds: {used} a side, {needed} needed {goal} (power calculation on this run's spread)"
        return f"{text}; {_where(decided, scale, self.full_seeds)}"


def _where(decided: str, scale: str, full_seeds: int) -> str:
    """The end of a plan's note: where the claim is decided."""
    if decided == scale:
        return f"decided at {scale}"
    where = "decided at full" if decided == DECIDED_AT_FULL else f"beyond full ({full_seeds} seeds)"
    return f"{where}: this verdict is under-powered at this scale"


def _several_plans_note(plans: list[Plan], scale: str, decided: str) -> str:
    """One sentence for a claim whose verdict reads several comparisons: the seeds each needs, then where the
    claim is decided (where the last of them is)."""

    def need(plan: Plan) -> str:
        if not plan.plannable:
            return f"none (no positive effect, got {plan.effect:.3g})"
        if plan.seeds_needed is None:
            return f"more than {MOST_SEEDS}" if sum(plan.comparison.variances) > 0 else "unknown (no spread)"
        return str(plan.seeds_needed)

    goals = dict.fromkeys(p.goal for p in plans)
    text = (f"seeds: {min(p.seeds_used for p in plans)} a side; its {len(plans)} comparisons need "
            f"{', '.join(need(p) for p in plans)} to find {' / '.join(goals)} with {plans[0].power:.0%} power (power "
            "calculation on this run's spread)")
    return f"{text}; {_where(decided, scale, max(p.full_seeds for p in plans))}"


@dataclass(frozen=True)
class Claim:
    name: str
    paper: str
    ours: str
    verdict: Verdict
    note: str = ""
    seeds_used: int | None = None  # the three plan fields: None for a claim without a plan (runs= sets this one)
    seeds_needed: int | None = None
    decided: str | None = None


@dataclass(frozen=True)
class Check:
    """A premise that holds by construction or guards the machinery: shown, never counted as a reproduction."""

    name: str
    ours: str
    passed: bool
    note: str = ""


class Report:
    """The claims one chapter checks, in the order it checks them."""

    def __init__(self, chapter: str, scale: str):
        self.chapter, self.scale = chapter, scale
        self.claims: list[Claim] = []
        self.checks: list[Check] = []

    def _validate(self, kind: str, name: str, **texts: str) -> None:
        for label, value in {"name": name, **texts}.items():
            if not isinstance(value, str):
                raise TypeError(f"{kind} {label} must be a string, got {type(value).__name__}")
        if not name.strip():
            raise ValueError(f"a {kind} needs a name")
        if any(c.name == name for c in (*self.claims, *self.checks)):
            raise ValueError(f"{name!r} is already in the report")

    # claim() and check() return nothing: a cell that ends with one must not print a repr on the page.
    def claim(self, name: str, *, paper: str, ours: str, verdict: Verdict | str, note: str = "",
              plan: Plan | Sequence[Plan] | None = None, runs: int | None = None) -> None:
        """Record one of the paper's claims with this run's figure and verdict (shown by ``show``). A claim judged
        by ``compare`` over seeds passes its ``plan`` (one per comparison its verdict reads): the seeds it needs,
        and where it is decided, are then recorded with it and said in its note (the verdict stays as computed).
        With several comparisons the claim needs the most seeds any of them needs and is decided where the last
        of them is.

        A claim judged by thresholds on trained models instead passes ``runs``, the independent training runs its
        figure rests on: with fewer than ``MIN_SEEDS`` it cannot hold or be contradicted (one trained model
        cannot tell its luck from the method), so such a verdict is recorded as not at this scale and the note
        says what the run read."""
        self._validate("claim", name, paper=paper, ours=ours, note=note)
        verdict = Verdict.parse(verdict)
        if runs is not None:
            if plan is not None:
                raise ValueError("pass plan= (a claim judged over seeds) or runs= (one judged by thresholds), not both")
            if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
                raise ValueError(f"runs must be a positive number of training runs, got {runs!r}")
            if runs < MIN_SEEDS and verdict in (Verdict.HOLDS, Verdict.CONTRADICTED):
                said = (f"{runs} training run{'s' if runs > 1 else ''} read '{verdict.value}'; a verdict needs "
                        f"{MIN_SEEDS}, so this one decides nothing")
                note, verdict = f"{note}; {said}" if note else said, Verdict.NOT_AT_SCALE
            self.claims.append(Claim(name, paper, ours, verdict, note, runs))
            return
        if plan is None:
            self.claims.append(Claim(name, paper, ours, verdict, note))
            return
        plans = [plan] if isinstance(plan, Plan) else list(plan) if isinstance(plan, (list, tuple)) else [plan]
        if not plans or not all(isinstance(p, Plan) for p in plans):
            raise TypeError(f"plan must be a report.Plan or a list of them, got {type(plan).__name__}")
        needed = [p.seeds_needed for p in plans]
        order = [self.scale, DECIDED_AT_FULL, BEYOND_FULL]
        decided = max((p.decided(self.scale) for p in plans), key=order.index)
        said = plans[0].note(self.scale) if len(plans) == 1 else _several_plans_note(plans, self.scale, decided)
        self.claims.append(Claim(name, paper, ours, verdict, f"{note}; {said}" if note else said,
                                 min(p.seeds_used for p in plans), None if None in needed else max(needed), decided))

    def check(self, name: str, *, ours: str, passed: bool, note: str = "") -> None:
        """Record a sanity check: listed under the report, not counted among the claims."""
        self._validate("check", name, ours=ours, note=note)
        self.checks.append(Check(name, ours, bool(passed), note))

    def counts(self) -> dict[str, int]:
        return verdict_counts(self.to_dict()["claims"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "chapter": self.chapter,
            "scale": self.scale,
            "claims": [{**asdict(c), "verdict": c.verdict.value} for c in self.claims],
            "checks": [asdict(c) for c in self.checks],
        }

    def to_html(self) -> str:
        data = self.to_dict()
        return claims_table_html(data["claims"]) + checks_table_html(data["checks"])

    def to_markdown(self) -> str:
        data = self.to_dict()
        return claims_table_markdown(data["claims"]) + checks_table_markdown(data["checks"])

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
_CHECK_HEADER = ("check (not counted)", "this run", "result", "note")


def verdict_counts(claims: list[dict[str, Any]]) -> dict[str, int]:
    """How many claims got each verdict, all four verdicts present (zero where none)."""
    counts = {v.value: 0 for v in Verdict}
    for c in claims:
        counts[Verdict.parse(c["verdict"]).value] += 1
    return counts


def decided_at_full(claims: list[dict[str, Any]]) -> int:
    """How many claims need more seeds than their run had, and get them only at scale full (their plan says so;
    reports written before plans existed count none)."""
    return sum(c.get("decided") == DECIDED_AT_FULL for c in claims)


def checks_table_html(checks: list[dict[str, Any]]) -> str:
    if not checks:
        return ""
    head = "".join(f"<th>{h}</th>" for h in _CHECK_HEADER)
    rows = []
    for c in checks:
        result = "passed" if c["passed"] else "FAILED"
        cells = (html.escape(c["name"]), html.escape(c["ours"]), result, html.escape(c["note"]))
        tds = "".join(
            f'<td data-label="{_CHECK_HEADER[i]}"' + (f' class="check-{result.lower()}">' if i == 2 else ">") + f"{v}</td>"
            for i, v in enumerate(cells)
        )
        rows.append(f"<tr>{tds}</tr>")
    return (
        f'<table class="alignbook-report alignbook-checks"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def checks_table_markdown(checks: list[dict[str, Any]]) -> str:
    if not checks:
        return ""
    lines = ["", "", "| " + " | ".join(_CHECK_HEADER) + " |", "|" + " --- |" * len(_CHECK_HEADER)]
    for c in checks:
        values = (c["name"], c["ours"], "passed" if c["passed"] else "**FAILED**", c["note"])
        lines.append("| " + " | ".join(v.replace("|", "\\|").replace("\n", " ") for v in values) + " |")
    return "\n".join(lines)


def claims_table_html(claims: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in _HEADER)
    rows = []
    for c in claims:
        cells = [c["name"], c["paper"], c["ours"], c["verdict"], c["note"]]
        css = "verdict-" + c["verdict"].replace(" ", "-")
        # data-label names each cell's column: on a phone the stylesheet shows every row as a card.
        tds = "".join(
            f'<td data-label="{_HEADER[i]}"' + (f' class="{css}">' if i == 3 else ">") + f"{html.escape(v)}</td>"
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
