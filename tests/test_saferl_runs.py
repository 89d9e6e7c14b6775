"""Run directories and the CLI: the resolved config saved, the progress table, resuming from the last
checkpoint to the same final numbers as an uninterrupted run, and bad input refused with what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alignbook.saferl import TOY_TASK, TOY_TRAINING
from alignbook.saferl.runs import load_agent, load_run, train_run


def test_an_interrupted_run_resumes_to_the_same_numbers(tmp_path):
    whole = train_run("SACLag", TOY_TASK, tmp_path / "whole", total_steps=800)
    train_run("SACLag", TOY_TASK, tmp_path / "cut", total_steps=800, stop_after_epoch=2)
    assert len(pd.read_csv(tmp_path / "cut" / "progress.csv")) == 2
    resumed = train_run("SACLag", TOY_TASK, tmp_path / "cut", total_steps=800)
    columns = ["steps", "episode_return", "episode_cost", "lambda", "critic_loss"]
    pd.testing.assert_frame_equal(whole[columns], resumed[columns])
    spec, progress = load_run(tmp_path / "cut")
    assert spec["algo"] == "sac_lag" and spec["config"]["start_learning_steps"] == 200  # the toy's section
    assert spec["config"]["total_steps"] == 800 and len(progress) == 4


def test_a_directory_of_another_run_is_refused(tmp_path):
    train_run("td3", TOY_TASK, tmp_path, total_steps=200)
    with pytest.raises(ValueError, match="holds a different run"):
        train_run("td3", TOY_TASK, tmp_path, total_steps=400)
    with pytest.raises(ValueError, match="is a run of 'td3', not 'sac_lag'"):
        load_agent(tmp_path, "SACLag")
    with pytest.raises(ValueError, match="not a run directory"):
        load_run(tmp_path / "nothing")


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "lib")}
    return subprocess.run([sys.executable, "-m", "alignbook.saferl", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_cli_trains_evaluates_and_plots(tmp_path):
    done = _cli("train", "PPOLag", TOY_TASK, "--set", "total_steps=400", "--set", "steps_per_epoch=200",
                "--set", "hidden=[8, 8]", "--dir", "r", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["steps"] == 400
    assert json.loads((tmp_path / "r" / "config.json").read_text())["config"]["hidden"] == [8, 8]
    evaluated = _cli("eval", "r", "--episodes", "2", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["episodes"] == 2
    assert _cli("plot", "r", "--out", "c.png", cwd=tmp_path).returncode == 0 and (tmp_path / "c.png").exists()
    typo = _cli("train", "PPOLag", TOY_TASK, "--set", "totl_steps=10", cwd=tmp_path)
    assert typo.returncode == 2 and "did you mean 'total_steps'" in typo.stderr
    unknown = _cli("train", "PPOLagg", TOY_TASK, cwd=tmp_path)
    assert unknown.returncode == 2 and "did you mean 'ppo_lag'" in unknown.stderr


ON_POLICY_COLUMNS = ["epoch", "steps", "episode_return", "episode_cost", "episodes", "lambda", "kl", "passes"]


@pytest.mark.parametrize("algo, settings", [
    # the NumPy engine (its own Adam state), epochs that end between episodes
    ("PPOLag", dict(TOY_TRAINING, total_steps=1000)),
    # two environments whose episodes run across the epoch boundary, and Simmer's budget state and controller
    ("PPOSimmerPID", dict(TOY_TRAINING, total_steps=620, steps_per_epoch=124, num_envs=2)),
    # the autograd engine (torch's optimisers)
    ("TRPOLag", dict(TOY_TRAINING, total_steps=600, steps_per_epoch=150)),
])
def test_an_interrupted_on_policy_run_resumes_to_the_same_numbers(tmp_path, algo, settings):
    whole = train_run(algo, TOY_TASK, tmp_path / "whole", **settings)
    cut = train_run(algo, TOY_TASK, tmp_path / "cut", stop_after_epoch=2, **settings)
    assert len(cut) == 2 and not (tmp_path / "cut" / "model.safetensors").exists()  # not finished yet
    resumed = train_run(algo, TOY_TASK, tmp_path / "cut", **settings)
    columns = [c for c in ON_POLICY_COLUMNS if c in whole.columns]
    assert len(resumed) == len(whole) and len(whole) > 3
    # exact: every float of every epoch, the two resumed epochs computed after the restart included
    pd.testing.assert_frame_equal(whole[columns], resumed[columns], check_exact=True)
    _, progress = load_run(tmp_path / "cut")
    pd.testing.assert_frame_equal(progress[columns], whole[columns], check_exact=True)
    _, agent = load_agent(tmp_path / "cut")
    _, reference = load_agent(tmp_path / "whole")
    obs = np.array([[1.0, 0.3] + [1.0] * (agent.algo.ac.actor.mean[0].in_features - 2)])
    assert np.array_equal(agent.act(obs), reference.act(obs))


def test_progress_floats_are_read_back_bit_for_bit(tmp_path):
    """A resume continues from the floats it reads back; with pandas 2.2's default parser some came back one
    bit off. Awkward values (inexact sums, thirds, denormals, extremes) and many random ones must survive."""
    from alignbook.saferl.runs import read_progress

    awkward = [0.1 + 0.2, 1 / 3, 2 / 3, 1e-300, 5e-324, 1.5e-310, 2.2250738585072014e-308, 1.7976931348623157e308,
               np.nextafter(1.0, 2.0), -0.0, 123456789.12345679, float("inf")]
    rng = np.random.default_rng(0)
    random = rng.standard_normal(2000) * 10.0 ** rng.integers(-300, 300, 2000)  # 2.2's parser missed ~30% of these
    values = np.concatenate([awkward, random])
    pd.DataFrame({"epoch": np.arange(len(values)), "value": values}).to_csv(tmp_path / "progress.csv", index=False)
    back = read_progress(tmp_path / "progress.csv")["value"].to_numpy()
    assert back.dtype == np.float64
    np.testing.assert_array_equal(back.view(np.int64), values.view(np.int64))
