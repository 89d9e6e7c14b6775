"""On-disk caches that are written atomically and keyed by configuration and library version.

A cache entry lives at ``<cache root>/<kind>/<key>/``; the key hashes the configuration together with the
library's version, so that a changed setting or a new release never reads a stale artefact. Writers fill a
temporary folder and rename it into place, so that a killed run never leaves a half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import alignbook

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


def cache_key(config: Mapping[str, Any]) -> str:
    payload = json.dumps({"config": config, "version": alignbook.__version__}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def cached(kind: str, config: Mapping[str, Any], build: Callable[[Path], None]) -> Path:
    """Return the folder of the cache entry for ``config``, calling ``build(folder)`` first if it is missing."""
    final = cache_root() / kind / cache_key(config)
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
