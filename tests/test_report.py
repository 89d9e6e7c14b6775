import json

import nbformat
import numpy as np
import pytest

from alignbook.report import MIME_TYPE, HiddenReportCopy, Plan, Report, Verdict, compare, judge, read_report


def make_report():
    report = Report("survey", "smoke")
    report.claim("effect A", paper="0.90", ours="0.93", verdict=judge(holds=True))
    report.claim("effect <B> | pipes", paper="x", ours="y", verdict="partly", note="small & noisy")
    return report


def test_judge_orders_holds_then_partly_then_not():
    assert judge(True, True) is Verdict.HOLDS
    assert judge(False, True) is Verdict.PARTLY
    assert judge(False, False) is Verdict.NOT_AT_SCALE


def test_claims_are_validated():
    report = Report("c", "book")
    with pytest.raises(ValueError, match="valid verdicts are: 'holds', 'partly', 'not at this scale'"):
        report.claim("a", paper="1", ours="2", verdict="probably")
    with pytest.raises(TypeError, match="ours must be a string"):
        report.claim("a", paper="1", ours=0.5, verdict="holds")
    report.claim("a", paper="1", ours="2", verdict="holds")
    with pytest.raises(ValueError, match="already in the report"):
        report.claim("a", paper="1", ours="2", verdict="holds")
    with pytest.raises(ValueError, match="needs a name"):
        report.claim(" ", paper="1", ours="2", verdict="holds")


def test_empty_report_cannot_be_shown():
    with pytest.raises(ValueError, match="has no claims"):
        Report("c", "book").show()


def test_html_and_markdown_escape_their_cells():
    report = make_report()
    html = report.to_html()
    assert 'class="alignbook-report"' in html and "&lt;B&gt;" in html and "small &amp; noisy" in html
    assert html.count("<tr>") == 3
    markdown = report.to_markdown()
    assert "effect <B> \\| pipes" in markdown and "**partly**" in markdown
    assert len(markdown.splitlines()) == 4


def test_runner_reads_the_report_back_from_an_executed_notebook(tmp_path):
    report = make_report()
    bundle = report._repr_mimebundle_()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("ch.report.show()")
    cell.outputs = [nbformat.v4.new_output("display_data", data=bundle)]
    nb.cells.append(cell)
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, path)
    back = read_report(path)
    assert back == report.to_dict()
    assert back["claims"][1]["verdict"] == "partly"
    assert json.loads(path.read_text())["cells"][0]["outputs"][0]["data"][MIME_TYPE]["chapter"] == "survey"


def test_notebook_without_report_reads_as_none(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("1"))
    nbformat.write(nb, tmp_path / "n.ipynb")
    assert read_report(tmp_path / "n.ipynb") is None


def test_site_renders_the_json_copy_as_nothing_and_leaves_other_types_alone():
    class Data:
        def __init__(self, mime_type):
            self.mime_type = mime_type

    assert HiddenReportCopy.handle_mime(None, Data(MIME_TYPE), False) == []
    assert HiddenReportCopy.handle_mime(None, Data("text/html"), False) is None


def test_judge_has_four_verdicts_and_refuses_overlapping_conditions():
    assert judge(holds=False, partly=True, contradicted=True) is Verdict.CONTRADICTED
    assert judge(holds=False, contradicted=True) is Verdict.CONTRADICTED
    assert {v.value for v in Verdict} == {"holds", "partly", "not at this scale", "contradicted"}
    with pytest.raises(ValueError, match="overlap"):
        judge(holds=True, contradicted=True)


def test_compare_signs_the_difference_toward_the_paper_and_reads_the_interval():
    lower = compare([1.0, 1.1, 0.9], [5.0, 5.2, 4.8], better="lower")
    assert lower.difference == pytest.approx(4.0)
    assert lower.low > 0 and lower.verdict() is Verdict.HOLDS
    assert lower.verdict(target=10.0) is Verdict.PARTLY  # right direction, short of the paper's magnitude
    reversed_ = compare([1.0, 1.1, 0.9], [5.0, 5.2, 4.8], better="higher")
    assert reversed_.verdict() is Verdict.CONTRADICTED
    noisy = compare([1.0, 9.0, 2.0], [3.0, 0.0, 8.0])
    assert noisy.low < 0 < noisy.high and noisy.verdict() is Verdict.NOT_AT_SCALE
    # Welch interval by hand: means 2 and 0, variances 1 and 1, n = 3 each -> se = sqrt(2/3), dof = 4.
    hand = compare([1.0, 2.0, 3.0], [-1.0, 0.0, 1.0])
    from scipy import stats

    half = stats.t.ppf(0.975, 4) * np.sqrt(2 / 3)
    assert (hand.low, hand.high) == pytest.approx((2 - half, 2 + half))
    assert "3 vs 3 seeds" in str(hand)


def test_compare_with_one_seed_can_never_hold_and_rejects_bad_input():
    single = compare([10.0], [0.0])
    assert single.verdict() is Verdict.NOT_AT_SCALE
    with pytest.raises(ValueError, match="higher"):
        compare([1.0], [2.0], better="up")
    diverged = compare([np.nan, 1.0, 2.0], [2.0, 3.0, 4.0])
    assert diverged.verdict() is Verdict.NOT_AT_SCALE and np.isinf(diverged.high)


def test_compare_is_undecided_below_three_seeds_or_without_spread():
    # Two seeds far apart with little noise would be decisive under a plain Welch interval; not here.
    assert compare([10.0, 10.1], [0.0, 0.1]).verdict() is Verdict.NOT_AT_SCALE
    assert compare([10.0, 10.1, 10.2], [0.0, 0.1, 0.2]).verdict() is Verdict.HOLDS
    # Identical seeds on both sides: zero variance is no evidence of a small noise.
    flat = compare([-0.143] * 3, [0.0] * 3)
    assert flat.verdict() is Verdict.NOT_AT_SCALE and np.isinf(flat.low)
    # Other units (episodes, test items) keep the two-value minimum.
    assert compare([10.0, 10.1], [0.0, 0.1], unit="episodes").verdict() is Verdict.HOLDS
    with pytest.raises(ValueError, match="at least one"):
        compare([], [1.0])


def test_checks_are_shown_apart_and_never_counted():
    report = Report("demo", "smoke")
    report.claim("effect", paper="x", ours="y", verdict=Verdict.CONTRADICTED)
    report.check("cost is binary", ours="{0, 1}", passed=True)
    report.check("renders", ours="0 fps", passed=False)
    assert report.counts() == {"holds": 0, "partly": 0, "not at this scale": 0, "contradicted": 1}
    data = report.to_dict()
    assert [c["name"] for c in data["claims"]] == ["effect"]
    assert [c["passed"] for c in data["checks"]] == [True, False]
    html = report.to_html()
    assert "check (not counted)" in html and "FAILED" in html
    with pytest.raises(ValueError, match="already"):
        report.check("effect", ours="z", passed=True)


def test_comparison_names_what_its_samples_are():
    assert str(compare([1.0, 2.0, 3.0], [0.0, 1.0], unit="episodes")).endswith("(95% interval, 3 vs 2 episodes)")
    assert str(compare([1.0, 2.0], [0.0, 1.0])).endswith("2 vs 2 seeds)")


def test_seeds_needed_follows_the_noise_and_the_effect():
    from alignbook.report import MIN_SEEDS, seeds_needed

    rng = np.random.default_rng(0)
    pilot_a, pilot_b = rng.normal(1.0, 1.0, 5), rng.normal(0.0, 1.0, 5)
    sd = np.sqrt((pilot_a.var(ddof=1) + pilot_b.var(ddof=1)) / 2)
    # The textbook figure: about 17 runs a side find one standard deviation with 80% power at 95% (two-sided),
    # Welch's t a little above the normal approximation's 2 (1.96 + 0.84)^2 = 15.7.
    n = seeds_needed(pilot_a, pilot_b, effect=sd)
    assert 16 <= n <= 18
    assert seeds_needed(pilot_a, pilot_b, effect=2 * sd) < n < seeds_needed(pilot_a, pilot_b, effect=0.5 * sd)
    assert seeds_needed(pilot_a, pilot_b, effect=100 * sd) == MIN_SEEDS  # never fewer than compare accepts
    assert seeds_needed(pilot_a, pilot_b, effect=0.01 * sd) is None  # more than 100 runs
    # The plan keeps its promise: with that many runs, compare's interval excludes zero in about 80% of trials.
    hits = [compare(rng.normal(sd, sd, n), rng.normal(0.0, sd, n)).low > 0 for _ in range(2000)]
    assert 0.75 <= np.mean(hits) <= 0.86
    # One-sample plans (against the constant zero of 'no change') need about half as many runs.
    assert seeds_needed(pilot_a, np.zeros(5), effect=sd) < n
    assert seeds_needed([1.0, 1.0, 1.0], [0.0, 0.0, 0.0], effect=1.0) is None  # no spread: the pilot cannot tell
    assert seeds_needed([1.0], [0.0, 1.0], effect=1.0) is None
    with pytest.raises(ValueError, match="positive difference"):
        seeds_needed(pilot_a, pilot_b, effect=-1.0)


def test_a_comparison_keeps_each_sides_spread_and_plans_with_the_same_math():
    from alignbook.report import Comparison, seeds_needed

    rng = np.random.default_rng(1)
    a, b = rng.normal(1.0, 1.0, 5), rng.normal(0.0, 2.0, 4)
    gap = compare(a, b, better="lower")  # the sign of the difference does not change the spread
    assert gap.variances == pytest.approx((a.var(ddof=1), b.var(ddof=1)))
    for effect in (0.5, 1.0, 3.0):
        assert gap.seeds_needed(effect) == seeds_needed(a, b, effect=effect)
    assert gap.seeds_needed(1.0, power=0.9) > gap.seeds_needed(1.0)
    # An undecided pilot of two seeds still carries its spread, so it can plan the run that decides.
    pilot = compare(a[:2], b[:2])
    assert pilot.low == -np.inf and pilot.seeds_needed(1.0) == seeds_needed(a[:2], b[:2], effect=1.0) >= 3
    assert compare([1.0, np.nan, 2.0], [0.0, 0.0, 0.0]).seeds_needed(1.0) is None  # a diverged run plans nothing
    # A comparison built without spreads (older code) still works; it just cannot plan.
    assert Comparison(0.1, 0.05, 0.15, 0.95, (3, 3), "higher").seeds_needed(0.1) is None
    with pytest.raises(ValueError, match="positive difference"):
        gap.seeds_needed(0.0)


def test_a_plan_says_where_a_claim_is_decided_and_never_changes_its_verdict():
    from alignbook.report import Plan, decided_at_full

    # Five seeds of gains 1..5 against 'no change': variance 2.5 per seed; the Welch test needs 5 seeds a side to
    # find +3 with 80% power, 8 to find +2, and more than 100 to find +0.3.
    gain = compare([1.0, 2.0, 3.0, 4.0, 5.0], np.zeros(5))
    assert gain.variances == (2.5, 0.0)
    report = Report("aligner", "book")
    report.claim("enough seeds", paper="+3", ours=str(gain), verdict=gain.verdict(target=3.0), note="as planned",
                 plan=Plan(gain, effect=3.0, full_seeds=10))
    report.claim("full has them", paper="+2", ours=str(gain), verdict=gain.verdict(target=2.0),
                 plan=Plan(gain, effect=2.0, full_seeds=10))
    report.claim("full has too few", paper="+2", ours=str(gain), verdict=gain.verdict(target=2.0),
                 plan=Plan(gain, effect=2.0, full_seeds=6))
    report.claim("a tiny effect", paper="+0.3", ours=str(gain), verdict="holds", plan=Plan(gain, 0.3, 10))
    report.claim("no plan", paper="x", ours="y", verdict="partly")
    claims = json.loads(json.dumps(report.to_dict()))["claims"]  # as the runner reads them back
    plans = [(c["seeds_used"], c["seeds_needed"], c["decided"], c["verdict"]) for c in claims]
    assert plans == [(5, 5, "book", "holds"), (5, 8, "full", "holds"), (5, 8, "beyond full", "holds"),
                     (5, None, "beyond full", "holds"), (None, None, None, "partly")]
    assert claims[0]["note"].startswith("as planned; seeds: 5 a side, 5 needed") and "decided at book" in claims[0]["note"]
    assert "decided at full: this verdict is under-powered at this scale" in claims[1]["note"]
    assert "beyond full (6 seeds): this verdict is under-powered" in claims[2]["note"]
    assert "more than 100 seeds a side" in claims[3]["note"] and claims[4]["note"] == ""
    assert "8 needed" in report.to_markdown() and "decided at full" in report.to_html()
    assert decided_at_full(claims) == 1
    assert decided_at_full([{"name": "older report", "verdict": "holds"}]) == 0  # written before plans existed
    # At full itself, too few seeds are beyond full, not 'decided at full'.
    at_full = Report("aligner", "full")
    at_full.claim("c", paper="+2", ours="o", verdict="holds", plan=Plan(gain, effect=2.0, full_seeds=5))
    assert at_full.to_dict()["claims"][0]["decided"] == "beyond full"
    # A comparison without spread (identical seeds) plans nothing.
    flat = Report("aligner", "book")
    flat.claim("c", paper="p", ours="o", verdict="not at this scale", plan=Plan(compare([1.0] * 3, [0.0] * 3), 1.0, 10))
    assert flat.to_dict()["claims"][0]["decided"] == "beyond full"
    assert "show no spread" in flat.to_dict()["claims"][0]["note"]


def test_a_claim_of_several_comparisons_needs_the_most_seeds_any_needs_and_says_what_each_looks_for():
    from alignbook.report import Plan

    gain = compare([1.0, 2.0, 3.0, 4.0, 5.0], np.zeros(5))  # 5 seeds find +3, 8 find +2 (above)
    report = Report("safepo", "book")
    report.claim("both", paper="qualitative", ours="o", verdict="holds",
                 plan=[Plan(gain, 3.0, 10, basis="a tenth of the limit"), Plan(gain, 2.0, 10, basis="a fifth")])
    report.claim("one beyond", paper="qualitative", ours="o", verdict="holds",
                 plan=(Plan(gain, 3.0, 10), Plan(compare([1.0] * 3, [0.0] * 3), 1.0, 10)))
    both, beyond = report.to_dict()["claims"]
    assert (both["seeds_used"], both["seeds_needed"], both["decided"]) == (5, 8, "full")
    assert both["note"] == ("seeds: 5 a side; its 2 comparisons need 5, 8 to find +3 (a tenth of the limit) / +2 "
                            "(a fifth) with 80% power (power calculation on this run's spread); decided at full: "
                            "this verdict is under-powered at this scale")
    assert (beyond["seeds_needed"], beyond["decided"]) == (None, "beyond full")
    assert "need 5, unknown (no spread) to find the target +3 / the target +1" in beyond["note"]  # no basis: targets
    assert "beyond full (10 seeds)" in beyond["note"]


def test_a_plan_rejects_bad_input():
    from alignbook.report import Plan

    gain = compare([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    with pytest.raises(TypeError, match="needs the claim's Comparison"):
        Plan("+0.1 [0, 0.2]", effect=0.1, full_seeds=3)
    for effect in ("0.1", None, True):
        with pytest.raises(TypeError, match="the effect to find must be a number"):
            Plan(gain, effect=effect, full_seeds=3)
    # An effect read from the run (a tenth of a return that came out zero) may leave nothing to find: no plan.
    for effect in (0.0, -0.2, float("nan"), float("inf")):
        report = Report("c", "book")
        report.claim("a", paper="1", ours="2", verdict="partly", plan=Plan(gain, effect=effect, full_seeds=3))
        [claim] = report.to_dict()["claims"]
        assert claim["seeds_needed"] is None and claim["decided"] == "beyond full" and claim["verdict"] == "partly"
        assert "no positive effect to plan for" in claim["note"]
    for full_seeds in (0, 2.5, True):
        with pytest.raises(ValueError, match="full_seeds must be a positive number"):
            Plan(gain, effect=1.0, full_seeds=full_seeds)
    with pytest.raises(ValueError, match="power must lie in"):
        Plan(gain, effect=1.0, full_seeds=3, power=1.0)
    with pytest.raises(ValueError, match="counts training runs; this comparison is over episodes"):
        Plan(compare([1.0, 2.0], [0.0, 1.0], unit="episodes"), effect=1.0, full_seeds=3)
    with pytest.raises(TypeError, match="basis must be a string"):
        Plan(gain, effect=1.0, full_seeds=3, basis=0.1)
    for bad in ([], [Plan(gain, effect=1.0, full_seeds=3), "+1"]):
        with pytest.raises(TypeError, match="plan must be a report.Plan or a list of them"):
            Report("c", "book").claim("a", paper="1", ours="2", verdict="holds", plan=bad)
    with pytest.raises(TypeError, match="plan must be a report.Plan"):
        Report("c", "book").claim("a", paper="1", ours="2", verdict="holds", plan={"effect": 1.0})


def test_a_threshold_claim_on_fewer_than_three_training_runs_decides_nothing():
    report = Report("c", "book")
    for runs, verdict in ((1, "holds"), (2, "contradicted"), (1, "partly"), (3, "holds"), (5, "contradicted")):
        report.claim(f"{verdict} on {runs}", paper="p", ours="o", verdict=verdict, note="n", runs=runs)
    by_name = {c.name: c for c in report.claims}
    one = by_name["holds on 1"]
    assert one.verdict == Verdict.NOT_AT_SCALE and one.seeds_used == 1
    assert one.note == "n; 1 training run read 'holds'; a verdict needs 3, so this one decides nothing"
    assert by_name["contradicted on 2"].verdict == Verdict.NOT_AT_SCALE
    assert "2 training runs read 'contradicted'" in by_name["contradicted on 2"].note
    assert by_name["partly on 1"].verdict == Verdict.PARTLY and by_name["partly on 1"].note == "n"
    assert by_name["holds on 3"].verdict == Verdict.HOLDS and by_name["holds on 3"].seeds_used == 3
    assert by_name["contradicted on 5"].verdict == Verdict.CONTRADICTED
    assert report.counts()["holds"] == 1
    for bad in (0, -1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="runs must be a positive number"):
            report.claim(f"bad {bad!r}", paper="p", ours="o", verdict="holds", runs=bad)
    comparison = compare([1.0, 2.0, 3.0], [0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="not both"):
        report.claim("both", paper="p", ours="o", verdict="holds", runs=3,
                     plan=Plan(comparison, effect=1.0, full_seeds=3, basis="the paper's magnitude"))
