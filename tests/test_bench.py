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
    page = site.benchmarks_page(bench_book)
    assert "| `fast` | task: toy, steps_per_s: 1234.5 |" in page


def test_bench_rejects_bad_scripts_and_unknown_names(bench_book):
    with pytest.raises(BookError, match="did not print a JSON object"):
        bench.run(bench_book, bench.scripts(bench_book, ["silent"]), log=lambda _: None)
    with pytest.raises(BookError, match="benchmark crash failed:\n.*out of fuel"):
        bench.run(bench_book, bench.scripts(bench_book, ["crash"]), log=lambda _: None)
    with pytest.raises(BookError, match="unknown benchmark.*'nope'.*valid: crash, fast, silent"):
        bench.scripts(bench_book, ["nope"])


def test_benchmarks_page_without_results(tmp_path):
    assert "No benchmark has been run" in site.benchmarks_page(tmp_path)
