"""Run the scripts in ``benchmarks/`` and keep the JSON object each prints as its last line.

The results live in ``_build/benchmarks.json`` (one entry per script, the latest run) and appear in the
site's "Benchmarks" appendix, with the machine they were measured on. ``make book`` runs the quick form of
each script listed in ``BOOK`` (seconds each); ``make bench`` runs every script with its own defaults.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from alignbook.book.chapters import BookError
from alignbook.book.runner import build_dir, machine_label, write_atomic


@dataclass(frozen=True)
class BookBenchmark:
    """How the book runs one script and which figure of its JSON result it shows beside which anchors.

    ``anchors`` maps the result to named reference figures: the original tools measured on the book's kind of
    machine (from the maintainers' notes), or a reference measured in the same run; each name says which.
    """

    quick: tuple[str, ...]
    what: str
    ours: str
    unit: str
    anchors: Callable[[dict], dict[str, float]] = field(default=lambda result: {})
    title: str = ""  # the appendix's heading (the script's name when empty)


def _original_env_rate(result: dict) -> dict[str, float]:
    rates = {"MuJoCo alone, same model (this run: the ceiling)": result["mujoco_steps_per_s"]}
    if "original_steps_per_s" in result:
        rates["original safety-gymnasium 1.0.0 (reference machine)"] = result["original_steps_per_s"]
    return rates


BOOK = {
    "env_throughput": BookBenchmark(
        title="Environment steps (Safety-Gymnasium)",
        quick=("--seconds", "2"), ours="steps_per_s", unit="environment steps per second",
        what="Random-action steps per second of SafetyPointGoal1-v0, one environment, against the original "
        "safety-gymnasium 1.0.0 on the same task.",
        anchors=_original_env_rate),
    "ppolag_throughput": BookBenchmark(
        title="PPO-Lag training (SafePO, OmniSafe)",
        quick=("--epochs", "1", "--vec-envs", "0"), ours="steps_per_s", unit="environment steps per second",
        what="PPO-Lag training end to end (rollout and updates) with OmniSafe's default hyper-parameters, one "
        "epoch of 20,000 steps, one environment, against OmniSafe 0.5.0's PPOLag on the same task.",
        anchors=lambda r: {"original OmniSafe 0.5.0 PPOLag (reference machine)": r["omnisafe_steps_per_s"]}),
    "lm_throughput": BookBenchmark(
        title="Language-model training (Baichuan 2)",
        quick=("--steps", "4", "--new-tokens", "16"), ours="train_tokens_per_s", unit="training tokens per second",
        what="Training steps of the book's Baichuan-style decoder (d=128, 4 layers), against transformers' "
        "LlamaForCausalLM of the same size run in the same process; no original Baichuan 2 figure exists at "
        "this size.",
        anchors=lambda r: {"transformers LlamaForCausalLM, same size (this run)": r["llama_train_tokens_per_s"]}),
    "aligner_throughput": BookBenchmark(
        title="Aligner corrections",
        quick=("--pairs", "16", "--max-new", "16"), ours="batched_kv_corrections_per_s",
        unit="corrections per second",
        what="Aligner corrections at the chapter's size (d=64, 2 layers), batched with the KV cache, against "
        "transformers' generate called once per question-answer pair on the same model.",
        anchors=lambda r: {"transformers generate, one by one (this run)": r["hf_generate_one_by_one_corrections_per_s"]}),
    "scattering_throughput": BookBenchmark(
        title="Helmholtz solves (wideband back-projection diffusion)",
        quick=("--samples", "4", "--posterior-media", "1"), ours="forward_media_per_s", unit="media solved per second",
        what="Helmholtz forward solves of the wideband chapter at its book size (all frequencies and sources of "
        "one medium). The paper's code was not measured on this kind of machine: no anchor."),
    "shared_machine": BookBenchmark(
        title="A shared machine: busy against quiet",
        quick=("--repeats", "3", "--scale-work", "0.5"), ours="worst_ratio", unit="busy / quiet time, worst loop",
        what="Each chapter's hottest loop timed quiet and with a busy process pinned to one core, the two arms "
        "alternated; the figure is the worst ratio over the loops (the table lists each). The goal is at most 2 "
        "on a 2-core machine; torch's default of one thread per core made the survey's loop 19 times slower.",
        anchors=lambda r: {"goal (at most)": r["goal"]}),
}


def machine_description() -> str:
    """The processor, cores, memory and Python of this machine, for the Benchmarks appendix."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        memory = f", {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB memory"
    return (f"{cpu}, {os.cpu_count()} logical CPUs{memory}, {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}")


def results_path(root: Path) -> Path:
    return build_dir(root) / "benchmarks.json"


def load_results(root: Path) -> dict:
    path = results_path(root)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def scripts(root: Path, names: list[str] | None = None) -> list[Path]:
    found = sorted((root / "benchmarks").glob("*.py"))
    if not names:
        return found
    by_name = {p.stem: p for p in found}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise BookError(f"unknown benchmark(s) {', '.join(map(repr, unknown))}; valid: {', '.join(by_name)}")
    return [by_name[n] for n in names]


def run(root: Path, chosen: list[Path], log=None, quick: bool = False) -> dict:
    """Run each script with its defaults (``quick``: with its quick arguments from ``BOOK``, and only the
    scripts listed there); a script that fails or prints no JSON last line is an error."""
    log = log or (lambda message: print(message, flush=True))
    results = load_results(root)
    if quick:
        chosen = [script for script in chosen if script.stem in BOOK]
    for script in chosen:
        arguments = list(BOOK[script.stem].quick) if quick else []
        log(f"[alignbook] benchmark {script.stem}: running {' '.join(arguments)}".rstrip())
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(script), *arguments], cwd=root, capture_output=True, text=True)
        if done.returncode != 0:
            raise BookError(f"benchmark {script.stem} failed:\n{done.stderr[-4000:]}")
        lines = done.stdout.strip().splitlines()
        try:
            result = json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            raise BookError(f"benchmark {script.stem} did not print a JSON object as its last line") from None
        results[script.stem] = {
            "result": result,
            "wall_s": round(time.perf_counter() - start, 1),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_label(),
            "machine_detail": machine_description(),
            "arguments": arguments,
        }
        log(f"[alignbook] benchmark {script.stem}: {lines[-1]}")
        write_atomic(results_path(root), json.dumps(results, indent=1))  # keep each script's key order
    return results
