"""The rehearsal of scale "full": loop settings cut to two iterations, the extrapolation, and every chapter's
full configuration building within the memory of a Colab-class GPU."""

import json

import nbformat
import pytest

from alignbook import scales
from alignbook.book import chapters, cli, rehearsal, runner
from conftest import ROOT, selected_params

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("name", scales.chapters())
def test_rehearsal_keeps_full_shapes_and_cuts_every_loop_to_two(name):
    full, cut = scales.get(name, "full"), scales.rehearsal(name)
    assert cut._scale == "full" and set(cut) == set(full)
    for key in full:
        assert type(cut[key]) is type(full[key]), key  # a rehearsal never changes a setting's type
    counts = scales.loop_counts(name)
    assert counts, f"{name} names no loop setting"
    for key, (rehearsed, at_full) in counts.items():
        assert rehearsed <= at_full, key
        if isinstance(full[key], tuple) and not isinstance(full[key][0], tuple):
            assert cut[key][0] == full[key][0] and len(cut[key]) <= 2, key
    shapes = set(full) - set(counts) - set(scales._ADJUST.get(name, {}))
    assert {k: cut[k] for k in shapes} == {k: full[k] for k in shapes}  # models and data at full size


def test_known_cuts_and_dependent_settings():
    survey = scales.rehearsal("survey")
    assert (survey.bt_steps, survey.bt_comparisons, survey.bt_items) == (2, (20, 50000), 1000)
    safepo = scales.rehearsal("safepo")
    full = scales.get("safepo", "full")
    assert safepo.total_steps == 2 * full.steps_per_epoch and safepo.steps_per_epoch == full.steps_per_epoch
    debate = scales.rehearsal("demo_debate")
    assert debate.claim_slip in debate.slips  # the claim's slip is still swept
    ladder = scales.rehearsal("baichuan2").scaling_sizes
    assert [r[:2] for r in ladder] == [r[:2] for r in full_ladder()] and {r[2] for r in ladder} == {2}


def test_safedreamer_records_whole_episodes_and_the_rehearsal_two_windows_of_each():
    for scale in scales.SCALES:
        cfg = scales.get("safedreamer", scale)
        assert cfg.record_steps == cfg.episode_steps  # the world-model study reads whole episodes
    full, cut = scales.get("safedreamer", "full"), scales.rehearsal("safedreamer")
    from alignbook.worldmodel.train import ALGORITHMS

    repeat = max(algo.action_repeat for algo in ALGORITHMS.values())
    assert repeat == 5  # the rehearsal's rule in scales.py counts 5 environment steps a decision
    decisions = cut.record_steps // repeat
    window = full.context + full.planner["horizon"]
    assert cut.record_steps < full.record_steps and decisions - window + 1 > full.stride  # two windows, no more
    assert decisions - window + 1 <= 2 * full.stride


def full_ladder():
    return scales.get("baichuan2", "full").scaling_sizes


def test_extrapolation_multiplies_the_loops_read_and_ignores_other_settings():
    full = scales.get("survey", "full")
    assert scales.extrapolation([("survey", "bt_steps")]) == (2.0, float(full.bt_steps))
    assert scales.extrapolation([("survey", "bt_items")]) == (1.0, 1.0)  # a size, no loop
    rehearsed, at_full = scales.extrapolation([("survey", "bt_steps"), ("survey", "bt_noise")])
    assert (rehearsed, at_full) == (4.0, full.bt_steps * len(full.bt_noise))


def test_get_full_under_the_rehearsal_gives_the_rehearsal_and_records_reads(monkeypatch):
    assert scales.get("survey", "full").bt_steps > 2
    monkeypatch.setenv(scales.REHEARSE_ENV, "cells.json")
    scales.READS.clear()
    cfg = scales.get("pku_saferlhf", "full")  # as aligner reads pku_saferlhf's sizes
    assert cfg.sft_steps == 2 and cfg.hidden == scales._CHAPTERS["pku_saferlhf"]["full"]["hidden"]
    assert scales.READS == {("pku_saferlhf", "sft_steps"), ("pku_saferlhf", "hidden")}
    assert scales.get("survey", "book").bt_steps == scales._CHAPTERS["survey"]["book"]["bt_steps"]
    scales.READS.clear()


def test_validate_rejects_rules_for_unknown_settings(monkeypatch):
    monkeypatch.setitem(scales._PHASES, "survey", ())
    monkeypatch.setitem(scales._LOOPS, "survey", {"no_such_key": None})
    with pytest.raises(ValueError, match=r"rehearsal rules name unknown settings \['no_such_key'\]"):
        scales.validate()
    monkeypatch.setitem(scales._PHASES, "survey", (("bt_items",),))
    with pytest.raises(ValueError, match=r"phases name settings that are no loop: \['bt_items'\]"):
        scales.validate()


def test_loops_run_one_after_another_take_the_largest_ratio_not_the_product():
    full = scales.get("survey", "full")
    # the reward-model sweep and the gridworld updates are phases of their own: the larger ratio stands for both
    assert scales.extrapolation([("survey", "bt_steps"), ("survey", "gw_updates")]) == (2.0, float(full.bt_steps))
    # loops of one phase are nested
    rehearsed, at_full = scales.extrapolation([("survey", "gw_updates"), ("survey", "gw_seeds")])
    assert (rehearsed, at_full) == (4.0, float(full.gw_updates * full.gw_seeds))


def test_estimate_groups_cells_by_heading_and_extrapolates():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("setup", execution_count=1),
                nbformat.v4.new_markdown_cell("## Training"), nbformat.v4.new_code_cell("fit", execution_count=2),
                nbformat.v4.new_code_cell("plot", execution_count=3)]
    cells = [{"execution_count": 1, "seconds": 1.0, "reads": [], "cuda_peak_bytes": 0},
             {"execution_count": 2, "seconds": 2.0, "reads": [["survey", "bt_steps"], ["survey", "bt_items"]],
              "cuda_peak_bytes": 0},
             {"execution_count": 3, "seconds": 0.5, "reads": [], "cuda_peak_bytes": 3 * 2**20}]
    est = rehearsal.estimate("survey", nbformat.writes(nb), cells, wall_s=5.0, peak_rss_mb=100.0)
    steps = scales.get("survey", "full").bt_steps
    opening, training = est.sections
    assert (opening.heading, opening.full_s) == ("(opening)", 1.0)
    assert training.heading == "Training" and training.loops == ["bt_steps"]
    assert training.full_s == pytest.approx(2.0 * steps / 2 + 0.5)
    assert training.per_iteration_s == pytest.approx(2.0 / 2 + 0.5)
    assert est.full_s == pytest.approx(1.5 + 1.0 + training.full_s)  # 1.5 s outside the logged cells, once
    assert est.cuda_peak_mb == 3.0 and not est.over_memory()
    assert "EXCEEDED" in rehearsal.describe(rehearsal.Estimate("x", 1, 1, 1, 16_000.0, 0, []))


def test_rehearse_needs_scale_full(capsys):
    assert cli.main(["--root", str(ROOT), "run", "survey", "--rehearse"]) == 2
    assert "--rehearse rehearses scale 'full'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def rehearsed(request):
    """The chapters this session selected, rehearsed once, two kernels side by side (one thread each: the
    machine's two cores)."""
    names = selected_params(request, "test_full_configuration_builds_within_the_memory_cap", "name")
    return rehearsal.rehearse_each(ROOT, chapters.select(ROOT, names), log=lambda _: None, jobs=2)


@pytest.mark.notebook
@pytest.mark.rehearsal
@pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])
def test_full_configuration_builds_within_the_memory_cap(rehearsed, name):
    """The chapter at full with every loop cut to two iterations: fails when a full configuration no longer
    builds (ChapterFailed) or needs more than a Colab-class GPU's 15 GB."""
    est = rehearsed[name]
    if isinstance(est, runner.ChapterFailed):
        pytest.fail(str(est))
    assert not est.over_memory() and est.sections
    record = json.loads((rehearsal.folder(ROOT) / "records" / f"{name}.json").read_text())
    assert record["chapter"] == name and record["full_s"] >= record["measured_s"] > 0
    assert (rehearsal.folder(ROOT) / "executed" / f"{name}.ipynb").exists()
    assert rehearsal.folder(ROOT) != runner.scale_dir(ROOT, "full")  # never mixed with a real full run


def test_calibration_counts_fixed_costs_once():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## Training"), nbformat.v4.new_code_cell("fit", execution_count=1)]
    reads = [["survey", "bt_steps"]]
    at_two = [{"execution_count": 1, "seconds": 2.0, "reads": reads, "cuda_peak_bytes": 0}]
    at_four = [{"execution_count": 1, "seconds": 3.0, "reads": reads, "cuda_peak_bytes": 0}]
    steps = scales.get("survey", "full").bt_steps
    est = rehearsal.estimate("survey", nbformat.writes(nb), at_two, 2.0, 1.0, calibration=at_four)
    [section] = est.sections
    # 0.5 s per step and 1 s fixed, through the two runs; the upper bound multiplies the fixed second too
    assert section.per_iteration_s == pytest.approx(0.5)
    assert section.full_s == pytest.approx(1.0 + 0.5 * steps) and section.upper_s == pytest.approx(2.0 * steps / 2)
    assert est.calibrated and "calibrated: the cost of an inner iteration" in rehearsal.describe(est)
    with pytest.raises(ValueError, match="did not run in the calibration"):
        rehearsal.estimate("survey", nbformat.writes(nb), at_two, 2.0, 1.0, calibration=[])


def test_the_calibration_grows_the_inner_loops_alone():
    calibration = scales.rehearsal("survey", 4)
    assert calibration.bt_steps == calibration.gw_updates == calibration.gw_eval_episodes == 4  # inner: steps
    assert len(calibration.bt_comparisons) == calibration.bt_seeds == calibration.gw_seeds == 2  # outer: sweeps, seeds
    assert scales.inner("sft_steps") and scales.inner("games") and not scales.inner("seeds")
    assert not scales.inner("pairs_per_prompt") and scales.outer("fixed_lambdas")
    assert scales.rehearsal("safepo", 4).total_steps == 4 * scales.get("safepo", "full").steps_per_epoch
    with pytest.raises(ValueError, match="at least two iterations"):
        scales.rehearsal("survey", 1)


def test_loops_of_another_chapter_and_of_several_phases_are_bounded_by_the_largest_phase():
    # The aligner builds pku_saferlhf's models (SFT, then score models) before its own seeds: one after another.
    reads = [("aligner", "seeds"), ("pku_saferlhf", "sft_steps"), ("pku_saferlhf", "score_steps"),
             ("pku_saferlhf", "hidden")]
    assert scales.phases(reads) == [(("aligner", "seeds"),), (("pku_saferlhf", "sft_steps"),),
                                    (("pku_saferlhf", "score_steps"),)]
    rl, al = scales.get("pku_saferlhf", "full"), scales.get("aligner", "full")
    assert scales.extrapolation(reads) == (2.0, float(rl.sft_steps))  # the largest ratio, not the product
    assert rl.sft_steps > rl.score_steps and al.seeds < rl.sft_steps and al.seeds > 2
    # Calibrated: 1 s of growth from two to four iterations, all charged at the largest phase's rate: a bound.
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## Upstream"), nbformat.v4.new_code_cell("build", execution_count=1)]
    cell = {"execution_count": 1, "seconds": 2.0, "reads": [list(r) for r in reads], "cuda_peak_bytes": 0}
    est = rehearsal.estimate("aligner", nbformat.writes(nb), [cell], 2.0, 1.0, calibration=[{**cell, "seconds": 3.0}])
    [section] = est.sections
    # The aligner's seeds repeat the rehearsal's time (outer, 3 / 2); the growth is charged at the SFT's rate,
    # the phase with the most remaining iterations (inner, 2 -> 4 of 2,000), not also repeated by the seeds.
    assert section.full_s == pytest.approx(al.seeds / 2 * 2.0 + 1.0 * (rl.sft_steps - 2) / 2)
    assert section.full_s < section.upper_s == pytest.approx(2.0 * rl.sft_steps / 2)
    # On the CPU the growth is read in CPU time: a neighbour that slowed the wall clock by 10 s is not multiplied.
    busy = rehearsal.estimate("aligner", nbformat.writes(nb), [{**cell, "cpu_seconds": 1.9}], 2.0, 1.0,
                              calibration=[{**cell, "seconds": 12.0, "cpu_seconds": 2.9}])
    assert busy.sections[0].full_s == pytest.approx(section.full_s)
    # A cell that only got slower by noise, never faster: no negative growth.
    shrunk = rehearsal.estimate("aligner", nbformat.writes(nb), [cell], 2.0, 1.0, calibration=[{**cell, "seconds": 1.0}])
    assert shrunk.sections[0].full_s == pytest.approx(al.seeds / 2 * 2.0)
