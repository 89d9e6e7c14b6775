import json
import subprocess
import sys

import nbformat
import pytest

from alignbook.book import chapters, runner
from alignbook.book.chapters import BookError
from conftest import PARAMETERS, ROOT, write_notebook


def test_select_refuses_unknown_chapters_and_suggests(tiny_book):
    with pytest.raises(BookError, match=r"unknown chapter\(s\) 'helo' \(did you mean 'hello'\?\); valid chapters are: broken, hello"):
        chapters.select(tiny_book, ["helo"])
    assert [c.name for c in chapters.select(tiny_book, [])] == ["broken", "hello"]


def test_notebook_without_parameters_cell_is_refused_before_any_work(tiny_book):
    write_notebook(tiny_book / "notebooks" / "noparams.ipynb", [("code", "scale = 'book'", [])])
    chapter = chapters.select(tiny_book, ["noparams"])
    with pytest.raises(BookError, match="exactly one cell tagged 'parameters', found 0"):
        runner.run(tiny_book, chapter, "smoke")
    assert not (tiny_book / "_build").exists()


def test_parameters_cell_must_set_all_three(tiny_book):
    write_notebook(tiny_book / "notebooks" / "partial.ipynb", [("code", "scale = 'book'", ["parameters"])])
    with pytest.raises(BookError, match=r"missing \['device', 'seed'\]"):
        runner.run(tiny_book, chapters.select(tiny_book, ["partial"]), "smoke")


@pytest.mark.parametrize(("scale", "seed", "device", "message"), [
    ("large", 0, "auto", "valid scales are: smoke, book, full"),
    ("smoke", -2, "auto", "seed must be a non-negative integer"),
    ("smoke", 0, "tpu", "valid values are: auto, cpu"),
])
def test_bad_parameters_are_refused_before_any_work(tiny_book, scale, seed, device, message):
    with pytest.raises(BookError, match=message):
        runner.run(tiny_book, chapters.select(tiny_book, ["hello"]), scale, seed, device)
    assert not (tiny_book / "_build").exists()


def test_run_records_time_memory_and_detects_staleness(tiny_book, monkeypatch):
    hello = chapters.select(tiny_book, ["hello"])
    [record] = runner.run(tiny_book, hello, "smoke", log=lambda _: None)
    executed = nbformat.read(runner.executed_path(tiny_book, "hello", "smoke"), as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "smoke 0 auto" in printed  # papermill injected the parameters
    assert record.wall_s > 0 and record.peak_rss_mb > 10
    assert runner.load_history(tiny_book)["hello"]["smoke"]["wall_s"] == record.wall_s

    [chapter] = hello
    assert runner.stale_reason(tiny_book, chapter, "smoke", 0, "auto") is None
    assert runner.run(tiny_book, hello, "smoke", only_stale=True, log=lambda _: None) == []
    assert "never executed at scale 'book'" in runner.stale_reason(tiny_book, chapter, "book", 0, "auto")
    assert "seed 0" in runner.stale_reason(tiny_book, chapter, "smoke", 1, "auto")
    monkeypatch.setattr(runner, "library_digest", lambda: "a different library")
    assert "changed" in runner.stale_reason(tiny_book, chapter, "smoke", 0, "auto")
    monkeypatch.undo()
    write_notebook(chapter.path, [("code", 'scale = "book"\nseed = 0\ndevice = "auto"', ["parameters"])])
    assert "changed" in runner.stale_reason(tiny_book, chapter, "smoke", 0, "auto")


def test_scales_keep_their_own_runs(tiny_book):
    """A smoke run beside a book run replaces neither: each scale stays current in its own folder."""
    hello = chapters.select(tiny_book, ["hello"])
    [chapter] = hello
    runner.run(tiny_book, hello, "book", log=lambda _: None)
    book_notebook = runner.executed_path(tiny_book, "hello", "book").read_bytes()
    runner.run(tiny_book, hello, "smoke", log=lambda _: None)
    assert runner.executed_path(tiny_book, "hello", "book").read_bytes() == book_notebook
    assert runner.executed_path(tiny_book, "hello", "smoke") != runner.executed_path(tiny_book, "hello", "book")
    for scale in ("smoke", "book"):
        assert runner.stale_reason(tiny_book, chapter, scale, 0, "auto") is None
        assert runner.load_record(tiny_book, "hello", scale).scale == scale
        assert runner.run(tiny_book, hello, scale, only_stale=True, log=lambda _: None) == []


def test_library_digest_follows_a_real_change(tmp_path, monkeypatch):
    """The digest of a copy of the library changes when one of its files is edited, and only then."""
    import shutil

    copy = tmp_path / "alignbook"
    shutil.copytree(runner.LIBRARY, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(runner, "LIBRARY", copy)
    before = runner.library_digest()
    assert runner.library_digest() == before and len(before) == 64
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "notes.txt").write_text("not code")
    assert runner.library_digest() == before  # files that are not Python source do not count
    scales_file = copy / "scales.py"
    scales_file.write_text(scales_file.read_text() + "\n# an edit\n")
    assert runner.library_digest() != before


def test_failing_chapter_names_the_cell_and_keeps_the_partial_notebook(tiny_book):
    broken = chapters.select(tiny_book, ["broken"])
    with pytest.raises(runner.ChapterFailed) as failure:
        runner.run(tiny_book, broken, "smoke", log=lambda _: None)
    message = str(failure.value)
    assert "chapter 'broken' failed in cell" in message
    assert "ValueError: deliberate failure for the runner test" in message
    assert "raise ValueError('deliberate failure" in message  # the failing cell's source
    assert "\x1b[" not in message  # no terminal colour codes
    kept = runner.failed_path(tiny_book, "broken", "smoke")
    assert kept.exists() and not runner.executed_path(tiny_book, "broken", "smoke").exists()
    outputs = [o for c in json.loads(kept.read_text())["cells"] for o in c.get("outputs", [])]
    assert any(o.get("ename") == "ValueError" for o in outputs)


def test_cli_exit_codes_and_messages(tiny_book):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "alignbook", "--root", str(tiny_book), *args],
                              capture_output=True, text=True)

    listed = cli("list")
    assert listed.returncode == 0 and "hello" in listed.stdout and "broken" in listed.stdout
    unknown = cli("run", "nope", "--scale", "smoke")
    assert unknown.returncode == 2 and "valid chapters are: broken, hello" in unknown.stderr
    bad_scale = cli("run", "hello", "--scale", "medium")
    assert bad_scale.returncode == 2 and "valid scales are: smoke, book, full" in bad_scale.stderr
    failed = cli("run", "broken", "--scale", "smoke")
    assert failed.returncode == 1 and "chapter 'broken' failed in cell" in failed.stderr
    no_jobs = cli("build", "--scale", "smoke", "--jobs", "0")
    assert no_jobs.returncode == 2 and "jobs must be a positive integer, got 0" in no_jobs.stderr


def test_the_real_book_is_found_from_a_subfolder():
    assert chapters.find_root(ROOT / "lib" / "alignbook") == ROOT


def _outputs(path):
    """What a reader sees of an executed notebook: each cell's source and outputs (papermill's timings aside)."""
    notebook = nbformat.read(path, as_version=4)
    return [(c.source, c.get("outputs", [])) for c in notebook.cells]


def _filed(book, names):
    """Each chapter's outputs and record, less what differs between two executions (times, memory)."""
    return {name: (_outputs(runner.executed_path(book, name, "smoke")),
                   {k: v for k, v in vars(runner.load_record(book, name, "smoke")).items()
                    if k not in ("wall_s", "peak_rss_mb", "finished")})
            for name in names}


def _two_books(book, tmp_path_factory):
    """The tiny book with a second quick chapter in place of the broken one, and a copy of it."""
    import shutil

    write_notebook(book / "notebooks" / "again.ipynb", [
        ("code", 'scale = "book"\nseed = 0\ndevice = "auto"', ["parameters"]),
        ("code", "print(sum(range(seed + 10)), scale)", []),
    ])
    (book / "notebooks" / "broken.ipynb").unlink()
    copy = tmp_path_factory.mktemp("copy") / "book"
    shutil.copytree(book, copy)
    return book, copy


def _quick(book):
    return chapters.select(book, ["again", "hello"])


def test_side_by_side_chapters_are_filed_as_one_by_one(tiny_book, tmp_path_factory):
    one, two = _two_books(tiny_book, tmp_path_factory)
    serial = runner.run(one, _quick(one), "smoke", log=lambda _: None)
    parallel = runner.run(two, _quick(two), "smoke", jobs=2, log=lambda _: None)
    assert [r.chapter for r in parallel] == [r.chapter for r in serial] == ["again", "hello"]
    assert _filed(two, ["again", "hello"]) == _filed(one, ["again", "hello"])
    assert "45 smoke" in str(_outputs(runner.executed_path(two, "again", "smoke")))
    assert set(runner.load_history(two)) == {"again", "hello"}  # both run times kept (no lost update)
    assert all(r.wall_s > 0 and r.peak_rss_mb > 10 for r in parallel)


def test_side_by_side_a_failure_leaves_the_other_chapters_filed(tiny_book):
    with pytest.raises(runner.ChapterFailed, match="chapter 'broken' failed in cell"):
        runner.run(tiny_book, chapters.select(tiny_book, []), "smoke", jobs=2, log=lambda _: None)
    assert runner.failed_path(tiny_book, "broken", "smoke").exists()
    assert runner.stale_reason(tiny_book, chapters.select(tiny_book, ["hello"])[0], "smoke", 0, "auto") is None


def test_bad_jobs_and_dead_ray_addresses_are_refused_quickly(tiny_book):
    import time

    hello = chapters.select(tiny_book, ["hello"])
    with pytest.raises(BookError, match="jobs must be a positive integer, got 0"):
        runner.run(tiny_book, hello, "smoke", jobs=0)
    start = time.perf_counter()
    with pytest.raises(BookError, match="does not answer"):
        runner.run(tiny_book, hello, "smoke", ray_address="127.0.0.1:9", log=lambda _: None)
    assert time.perf_counter() - start < 10
    assert not runner.executed_path(tiny_book, "hello", "smoke").exists()


def test_chapters_run_as_ray_tasks_are_filed_as_local_ones(tiny_book, tmp_path_factory):
    """A local Ray instance (2 CPUs) started here; its address given to the build as a cluster's would be."""
    ray = pytest.importorskip("ray")
    one, two = _two_books(tiny_book, tmp_path_factory)
    runner.run(one, _quick(one), "smoke", log=lambda _: None)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT / "lib")}})
    try:
        address = ray.get_runtime_context().gcs_address
        on_ray = runner.run(two, _quick(two), "smoke", ray_address=address, log=lambda _: None)
        with pytest.raises(BookError, match="asks for 1 GPU but the Ray cluster"):  # would wait for ever
            runner.run(two, _quick(two), "full", ray_address=address, log=lambda _: None)
    finally:
        ray.shutdown()
    assert [r.chapter for r in on_ray] == ["again", "hello"]
    assert _filed(two, ["again", "hello"]) == _filed(one, ["again", "hello"])


def test_peak_memory_is_the_kernels_not_the_runners(tiny_book):
    """A runner that is itself large (a pytest or CLI process with torch loaded) must not lend its size to the
    chapters: a chapter that allocates little reads small, one that allocates 300 MB reads at least that."""
    ballast = bytearray(700 * 2**20)
    ballast[::4096] = b"\1" * len(ballast[::4096])  # touched, so resident in this process
    write_notebook(tiny_book / "notebooks" / "large.ipynb", [
        ("code", PARAMETERS, ["parameters"]),
        ("code", "block = bytearray(300 * 2**20)\nblock[::4096] = b'\\1' * len(block[::4096])", []),
    ])
    small, large = runner.run(tiny_book, chapters.select(tiny_book, ["hello", "large"]), "smoke", log=lambda _: None)
    del ballast
    assert 20 < small.peak_rss_mb < 500, small.peak_rss_mb  # the runner's 700 MB would read here as >= 700
    assert 250 < large.peak_rss_mb - small.peak_rss_mb < 400, (small.peak_rss_mb, large.peak_rss_mb)
    assert "Python " in small.machine


def test_peak_memory_falls_back_to_wait4_when_the_execute_process_wrote_no_measure(tmp_path):
    from types import SimpleNamespace

    usage = SimpleNamespace(ru_maxrss=2048 * 1024)  # kilobytes, as Linux reports them
    measured = tmp_path / "usage.json"
    measured.write_text('{"kernel_peak_rss_mb": 321.5}')
    assert runner._kernel_peak_rss_mb(measured, usage) == 321.5
    measured.write_text('{"kernel_peak_')  # killed while writing
    assert runner._kernel_peak_rss_mb(measured, usage) == 2048.0
    assert runner._kernel_peak_rss_mb(tmp_path / "never-written.json", usage) == 2048.0
