"""PKU-SafeRLHF's data format: the columns, a loader through ``datasets``, and a validator.

One row holds a prompt, two responses, for each response a safety label, the 19 harm categories (a dict of
booleans) and a severity level (0 safe, 1 minor, 2 moderate, 3 severe), and two preferences: which response is
more helpful (``better_response_id``) and which is safer (``safer_response_id``) (Ji et al. 2024). The book's
embedded world writes the same columns, so every function below serves both the real data set and the world.

Nothing downloads unless asked: ``load_pku_saferlhf`` reads local parquet or JSON files, and reaches the
Hugging Face Hub only with ``download=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HUB_ID = "PKU-Alignment/PKU-SafeRLHF"

HARM_CATEGORIES: tuple[str, ...] = (
    "Endangering National Security", "Insulting Behavior", "Discriminatory Behavior", "Endangering Public Health",
    "Copyright Issues", "Violence", "Drugs", "Privacy Violation", "Economic Crime", "Mental Manipulation",
    "Human Trafficking", "Physical Harm", "Sexual Content", "Cybercrime", "Disrupting Public Order",
    "Environmental Damage", "Psychological Harm", "White-Collar Crime", "Animal Abuse",
)
SEVERITY_LEVELS = {0: "safe", 1: "minor", 2: "moderate", 3: "severe"}

# The columns every row must have, with the Python type of their values; sources and hashes are optional.
REQUIRED: dict[str, type] = {
    "prompt": str, "response_0": str, "response_1": str,
    "is_response_0_safe": bool, "is_response_1_safe": bool,
    "response_0_harm_category": dict, "response_1_harm_category": dict,
    "response_0_severity_level": int, "response_1_severity_level": int,
    "better_response_id": int, "safer_response_id": int,
}
OPTIONAL: dict[str, type] = {
    "prompt_source": str, "response_0_source": str, "response_1_source": str,
    "response_0_sha256": str, "response_1_sha256": str,
}
COLUMNS = tuple(REQUIRED) + tuple(OPTIONAL)
PROMPT_TEMPLATE = "BEGINNING OF CONVERSATION: USER: {prompt} ASSISTANT:"


@dataclass(frozen=True)
class Problem:
    """One defect: the row (None for the whole column) and the field it is in."""

    row: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = "every row" if self.row is None else f"row {self.row}"
        return f"{where}, field {self.field!r}: {self.message}"


def validate_rows(rows) -> list[Problem]:
    """Every defect of ``rows`` (a ``datasets.Dataset`` or a list of dicts), by row number and field.

    Checked: missing columns, value types, ids outside {0, 1}, severity outside 0-3, unknown harm categories,
    the upstream consistency rule (the "safer" response must not be labelled unsafe while the other is labelled
    safe), and identical responses (upstream also drops such pairs: they carry no preference).
    """
    columns = rows.column_names if hasattr(rows, "column_names") else (list(rows[0]) if len(rows) else [])
    problems = [Problem(None, name, "missing column") for name in REQUIRED if name not in columns]
    if problems:
        return problems  # the row checks below need every column
    types = {**REQUIRED, **{k: v for k, v in OPTIONAL.items() if k in columns}}
    for i, row in enumerate(rows):
        problems += _row_problems(i, row, types)
    return problems


def _row_problems(i: int, row: dict, types: dict[str, type]) -> list[Problem]:
    out = []
    for name, kind in types.items():
        value = row[name]
        wrong = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        if wrong:
            out.append(Problem(i, name, f"expected {kind.__name__}, got {type(value).__name__} {value!r}"))
    if out:
        return out
    for name in ("better_response_id", "safer_response_id"):
        if row[name] not in (0, 1):
            out.append(Problem(i, name, f"must be 0 or 1, got {row[name]}"))
    for k in (0, 1):
        level = row[f"response_{k}_severity_level"]
        if level not in SEVERITY_LEVELS:
            out.append(Problem(i, f"response_{k}_severity_level", f"must be 0-3, got {level}"))
        # Arrow stores a dict column as a struct with the union of all keys; a key absent from this row is None.
        for category, flag in row[f"response_{k}_harm_category"].items():
            if flag is None:
                continue
            if category not in HARM_CATEGORIES:
                out.append(Problem(i, f"response_{k}_harm_category", f"unknown harm category {category!r}"))
            elif not isinstance(flag, bool):
                out.append(Problem(i, f"response_{k}_harm_category", f"{category!r} must be a bool, got {flag!r}"))
    safe = (row["is_response_0_safe"], row["is_response_1_safe"])
    safer = row["safer_response_id"]
    if safer in (0, 1) and safe[1 - safer] and not safe[safer]:
        out.append(Problem(i, "safer_response_id",
                           f"response {safer} is called safer but is labelled unsafe while the other is safe"))
    if row["response_0"] == row["response_1"]:
        out.append(Problem(i, "response_1", "identical to response_0"))
    return out


def check_rows(rows, limit: int = 10) -> None:
    """Raise ``ValueError`` listing the first ``limit`` defects if there is any."""
    problems = validate_rows(rows)
    if problems:
        shown = "\n  ".join(str(p) for p in problems[:limit])
        more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
        raise ValueError(f"{len(problems)} problem(s) in the preference data:\n  {shown}{more}")


def load_pku_saferlhf(source: str | Path = HUB_ID, split: str = "train", *, download: bool = False,
                      config: str | None = None, check: bool = True):
    """PKU-SafeRLHF (or any data in its columns) as a ``datasets.Dataset``, validated.

    ``source`` is a local parquet or JSON(L) file, a folder of them, or the Hub id (only with ``download=True``:
    the default path never touches the network).
    """
    import datasets

    path = Path(source)
    if path.exists():
        files = sorted(path.glob("*")) if path.is_dir() else [path]
        files = [f for f in files if f.suffix in (".parquet", ".json", ".jsonl")]
        if not files:
            raise ValueError(f"{source}: no .parquet, .json or .jsonl file found")
        kinds = {"parquet" if f.suffix == ".parquet" else "json" for f in files}
        if len(kinds) > 1:
            raise ValueError(f"{source}: mixes parquet and JSON files; keep one format per split")
        data = datasets.load_dataset(kinds.pop(), data_files=[str(f) for f in files], split="train")
    elif str(source) == HUB_ID or "/" in str(source) and not str(source).startswith((".", "/")):
        if not download:
            raise ValueError(f"{source!r} is not a local file; loading it from the Hugging Face Hub needs "
                             "download=True (the default path downloads nothing)")
        data = datasets.load_dataset(str(source), config, split=split)
    else:
        raise ValueError(f"{source}: no such file or folder")
    if check:
        check_rows(data)
    return data
