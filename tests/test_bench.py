import json

import pytest

from alignbook.book import bench, site
from alignbook.book.chapters import BookError


@pytest.fixture
def bench_book(tmp_path):
    folder = tmp_path / "benchmarks"
    folder.mkdir()
    (folder / "fast.py").write_text('print("warming up")\nprint(\'{"task": "toy", "steps_per_s": 1234.5}\')\n')
    (folder / "silent.py").write_text('print("no json here")\n')
    (folder / "crash.py").write_text('raise SystemExit("out of fuel")\n')
    return tmp_path


def test_bench_records_the_last_json_line(bench_book):
    results = bench.run(bench_book, bench.scripts(bench_book, ["fast"]), log=lambda _: None)
    assert results["fast"]["result"] == {"task": "toy", "steps_per_s": 1234.5}
    stored = json.loads(bench.results_path(bench_book).read_text())
    assert stored["fast"]["machine"] and stored["fast"]["wall_s"] >= 0
    assert "logical CPUs" in stored["fast"]["machine_detail"]
    page = site.benchmarks_page(bench_book)
    assert "## fast" in page and "| steps per second | 1,234.5 |" in page  # a field in words
    assert "| task | toy |" in page
    assert "Measured on: " + stored["fast"]["machine_detail"] in page


def test_quick_mode_runs_the_books_benchmarks_with_their_short_arguments(bench_book, monkeypatch):
    monkeypatch.setitem(bench.BOOK, "fast", bench.BookBenchmark(
        quick=("--short",), what="a toy benchmark", ours="steps_per_s", unit="steps per second",
        anchors=lambda r: {"the original (reference machine)": 1000.0}))
    results = bench.run(bench_book, bench.scripts(bench_book), quick=True, log=lambda _: None)
    assert list(results) == ["fast"]  # silent.py and crash.py are not in BOOK: not run
    assert results["fast"]["arguments"] == ["--short"]
    figures = bench_book / "figures"
    page = site.benchmarks_page(bench_book, figures)
    assert "a toy benchmark" in page and "![fast" in page
    assert "## fast" in page  # no title given: the script's name
    svg = (figures / "bench-fast.svg").read_text()
    assert "the original (reference machine)" in svg and "this book (this build)" in svg


def test_every_book_benchmark_is_a_script_whose_quick_arguments_it_accepts():
    from conftest import ROOT

    names = {p.stem for p in bench.scripts(ROOT)}
    assert set(bench.BOOK) <= names
    for name, spec in bench.BOOK.items():
        source = (ROOT / "benchmarks" / f"{name}.py").read_text()
        for flag in spec.quick[::2]:
            assert f'"{flag}"' in source, f"{name}.py has no option {flag}"


def test_bench_rejects_bad_scripts_and_unknown_names(bench_book):
    with pytest.raises(BookError, match="did not print a JSON object"):
        bench.run(bench_book, bench.scripts(bench_book, ["silent"]), log=lambda _: None)
    with pytest.raises(BookError, match="benchmark crash failed:\n.*out of fuel"):
        bench.run(bench_book, bench.scripts(bench_book, ["crash"]), log=lambda _: None)
    with pytest.raises(BookError, match="unknown benchmark.*'nope'.*valid: crash, fast, silent"):
        bench.scripts(bench_book, ["nope"])


def test_benchmarks_page_without_results(tmp_path):
    assert "No benchmark has been run" in site.benchmarks_page(tmp_path)


def test_benchmark_headings_are_titles_and_fields_are_words():
    from alignbook.book.site import _field_label

    assert all(spec.title for spec in bench.BOOK.values())
    assert _field_label("train_tokens_per_s") == "train tokens per second"
    assert _field_label("quiet_wall_s") == "quiet wall (s)" and _field_label("worst_loop") == "worst loop"
    assert _field_label("survey_steps_s") == "survey steps (s)"  # only the suffix is a unit
