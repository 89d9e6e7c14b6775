"""Text for the chapter's language models: an embedded default that needs no download, arithmetic problems,
a Hugging Face data set loader for the full scale, and packing into token streams.

The default corpus is **the Python Language Reference and its companion topics as shipped inside CPython**
(``pydoc_data.topics``, the text behind ``help("if")``): about 460 KB of real English technical prose, with
code samples, that every Python installation carries, under the PSF licence. It is the same text for a given
Python minor version; ``corpus_fingerprint`` goes into every cache key, so a different Python never reads a
model trained on different text.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

TEXT_SUFFIXES = (".txt", ".jsonl", ".json", ".parquet")


def default_corpus() -> list[str]:
    """The embedded default: one document per help topic, in a fixed (sorted) order. Several topics share one
    text; each text is kept once, so that no validation document is also a training document."""
    from pydoc_data.topics import topics

    texts = (topics[name].strip() for name in sorted(topics))
    return list(dict.fromkeys(t for t in texts if t))


def corpus_fingerprint(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def split_documents(texts: Sequence[str], valid_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """A seeded split into training and validation documents (at least one of each)."""
    if len(texts) < 2:
        raise ValueError(f"need at least two documents to hold some out for validation, got {len(texts)}")
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    n_valid = min(len(texts) - 1, max(1, round(valid_fraction * len(texts))))
    return [texts[i] for i in sorted(order[n_valid:])], [texts[i] for i in sorted(order[:n_valid])]


def pack(tokenizer, texts: Iterable[str]) -> torch.Tensor:
    """Tokenise documents and concatenate them into one stream, each followed by the end-of-text token; training
    then cuts windows anywhere in the stream (packed sequences, no padding)."""
    texts = [t for t in texts if t]
    if not texts:
        raise ValueError("no text to pack: the corpus is empty")
    eos = tokenizer.eos_token_id
    ids: list[int] = []
    for row in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        ids.extend(row)
        ids.append(eos)
    return torch.tensor(ids, dtype=torch.long)


def load_text_dataset(
    name_or_path: str,
    text_field: str = "text",
    files: str = "*",
    max_documents: int | None = None,
    separator: str = "<|endoftext|>",
) -> list[str]:
    """Documents of a Hugging Face data set repository, or of a local folder laid out the same way.

    ``files`` is a glob inside the repository (``"wikitext-103-raw-v1/train-*.parquet"``). Supported files:
    ``.jsonl``/``.json`` (one object per line with ``text_field``), ``.parquet`` (a column ``text_field``;
    needs pyarrow) and ``.txt`` (documents separated by ``separator``, the TinyStories layout). A name that is
    not a local folder is downloaded with ``huggingface_hub`` -- the only path here that uses the network.
    """
    root = Path(name_or_path)
    if not root.is_dir():
        from huggingface_hub import snapshot_download

        root = Path(snapshot_download(name_or_path, repo_type="dataset", allow_patterns=[files]))
    paths = sorted(p for p in root.glob(files) if p.is_file() and p.suffix in TEXT_SUFFIXES)
    if not paths:
        raise ValueError(f"no {'/'.join(TEXT_SUFFIXES)} files match {files!r} in {name_or_path!r}")
    documents: list[str] = []
    for path in paths:
        documents.extend(_read_documents(path, text_field, separator))
        if max_documents is not None and len(documents) >= max_documents:
            return documents[:max_documents]
    if not documents:
        raise ValueError(f"the files of {name_or_path!r} hold no non-empty {text_field!r} text")
    return documents


def _read_documents(path: Path, text_field: str, separator: str) -> list[str]:
    if path.suffix == ".txt":
        return [d.strip() for d in path.read_text(encoding="utf-8").split(separator) if d.strip()]
    if path.suffix == ".parquet":
        import pandas as pd

        rows = pd.read_parquet(path, columns=[text_field])[text_field].tolist()
    else:
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                record = json.loads(line)
                if text_field not in record:
                    raise ValueError(f"{path.name} line {number} has no field {text_field!r}: {sorted(record)}")
                rows.append(record[text_field])
    return [r.strip() for r in rows if isinstance(r, str) and r.strip()]


def load_corpus(source: str, files: str = "*", max_documents: int = 0) -> list[str]:
    """``"default"`` is the embedded corpus; ``"hf:OWNER/NAME"`` a Hugging Face data set (or a local folder
    ``"hf:/path"`` with the same layout), read with ``load_text_dataset``; ``max_documents`` 0 means all."""
    if source == "default":
        return default_corpus()
    if source.startswith("hf:"):
        return load_text_dataset(source[3:], files=files, max_documents=max_documents or None)
    raise ValueError(f"unknown corpus {source!r}; valid values are 'default' and 'hf:OWNER/NAME'")
