"""PKU-SafeRLHF's columns: loading local files through ``datasets`` and reporting bad rows by number and field."""

import json

import pandas as pd
import pytest

pytest.importorskip("datasets")

from alignbook.rlhf.data import HARM_CATEGORIES, check_rows, load_pku_saferlhf, validate_rows  # noqa: E402


def row(**changes):
    none = {c: False for c in HARM_CATEGORIES}
    base = {
        "prompt": "How do I bake bread?", "response_0": "Mix flour and water.", "response_1": "I cannot help.",
        "prompt_source": "test", "response_0_source": "a", "response_1_source": "b",
        "is_response_0_safe": True, "is_response_1_safe": True,
        "response_0_harm_category": dict(none), "response_1_harm_category": dict(none),
        "response_0_severity_level": 0, "response_1_severity_level": 0,
        "better_response_id": 0, "safer_response_id": 1,
        "response_0_sha256": "x", "response_1_sha256": "y",
    }
    base.update(changes)
    return base


def unsafe_row():
    harm = {c: c == "Violence" for c in HARM_CATEGORIES}
    return row(response_0="Hit him.", is_response_0_safe=False, response_0_harm_category=harm,
               response_0_severity_level=2, better_response_id=0, safer_response_id=1)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_good_rows_load_as_a_dataset_from_jsonl_and_parquet(tmp_path):
    import datasets

    rows = [row(), unsafe_row()]
    data = load_pku_saferlhf(write_jsonl(tmp_path / "train.jsonl", rows))
    assert isinstance(data, datasets.Dataset) and len(data) == 2
    assert data[1]["response_0_harm_category"]["Violence"] is True
    pq = tmp_path / "pq"
    pq.mkdir()
    pd.DataFrame(rows).to_parquet(pq / "train.parquet")
    again = load_pku_saferlhf(pq)
    assert again[1]["response_0_severity_level"] == 2 and again.column_names == data.column_names


def test_each_bad_row_is_reported_by_row_number_and_field(tmp_path):
    harm = {c: False for c in HARM_CATEGORIES}
    bad = [
        row(),
        row(better_response_id=2),
        row(response_1_severity_level=4),
        row(response_0_harm_category={**harm, "Jaywalking": True}),
        unsafe_row() | {"safer_response_id": 0},  # the unsafe response called safer than a safe one
        row(response_1="Mix flour and water."),
    ]
    problems = validate_rows(load_pku_saferlhf(write_jsonl(tmp_path / "bad.jsonl", bad), check=False))
    found = {(p.row, p.field) for p in problems}
    assert found == {(1, "better_response_id"), (2, "response_1_severity_level"), (3, "response_0_harm_category"),
                     (4, "safer_response_id"), (5, "response_1")}
    assert any("Jaywalking" in p.message for p in problems)
    with pytest.raises(ValueError, match="row 4, field 'safer_response_id'"):
        check_rows(bad)


def test_missing_columns_and_wrong_types_are_named(tmp_path):
    rows = [{k: v for k, v in row().items() if k != "safer_response_id"}]
    with pytest.raises(ValueError, match="'safer_response_id': missing column"):
        load_pku_saferlhf(write_jsonl(tmp_path / "a.jsonl", rows))
    rows = [row(better_response_id="0"), row(is_response_1_safe=1)]
    problems = validate_rows(rows)
    assert {(p.row, p.field) for p in problems} == {(0, "better_response_id"), (1, "is_response_1_safe")}
    assert "expected int, got str" in str(problems[0])


def test_nothing_downloads_by_default(tmp_path):
    with pytest.raises(ValueError, match="download=True"):
        load_pku_saferlhf()
    with pytest.raises(ValueError, match="no such file"):
        load_pku_saferlhf(tmp_path / "absent.parquet")
