"""On-disk caches that are written atomically and keyed by what their content depends on.

A cache entry lives at ``<cache root>/<kind>/<key>/``. The key hashes the values the builder actually uses
together with a digest of the source files that compute it (``sources``): a changed value or a changed line of
that code gives a new key, while anything else (another chapter's sizes, an unrelated module) leaves it alone.
Writers fill a temporary folder and rename it into place, so that a killed run never leaves a half-written
entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

CACHE_ENV = "ALIGNBOOK_CACHE"


def cache_root() -> Path:
    """``$ALIGNBOOK_CACHE`` if set; else ``data/cache`` in the book's checkout (git-ignored) when the library
    runs from one; else ``~/.cache/alignbook`` (an installed library, e.g. on Colab)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "_toc.yml").exists():
        return checkout / "data" / "cache"
    return Path.home() / ".cache" / "alignbook"


def source_digest(paths: Iterable[str | Path]) -> str:
    """A hash of the contents of ``paths`` (in the order given)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


def cache_key(config: Mapping[str, Any], sources: Iterable[str | Path] = ()) -> str:
    payload = json.dumps({"config": config, "sources": source_digest(sources)}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def cached(kind: str, config: Mapping[str, Any], build: Callable[[Path], None],
           sources: Iterable[str | Path] = ()) -> Path:
    """Return the folder of the cache entry for ``config`` and the code in ``sources``, calling
    ``build(folder)`` first if it is missing."""
    final = cache_root() / kind / cache_key(config, sources)
    if final.exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        build(tmp)
        (tmp / "config.json").write_text(json.dumps(dict(config), sort_keys=True, default=str, indent=1))
        try:
            tmp.rename(final)
        except OSError:
            if not final.exists():  # another process may have won the race; its entry is as good as ours
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
