"""Cache keys: the values a builder uses plus a digest of its code. The base language model retrains when its
code changes, and not when a chapter size it does not use changes."""

import pytest

from alignbook import scales
from alignbook.cache import cache_key, cached
from alignbook.lm import base


def test_the_key_follows_the_values_and_the_code(tmp_path):
    source = tmp_path / "model.py"
    source.write_text("x = 1\n")
    key = cache_key({"hidden": 32}, [source])
    assert cache_key({"hidden": 32}, [source]) == key
    assert cache_key({"hidden": 64}, [source]) != key
    source.write_text("x = 2\n")
    assert cache_key({"hidden": 32}, [source]) != key


def test_cached_builds_once_per_key(tmp_path, monkeypatch):
    monkeypatch.setenv("ALIGNBOOK_CACHE", str(tmp_path / "cache"))
    builds = []
    first = cached("demo", {"a": 1}, lambda folder: builds.append(folder))
    assert cached("demo", {"a": 1}, lambda folder: builds.append(folder)) == first
    assert len(builds) == 1 and first.exists() and (first / "config.json").exists()


def _base_model_arguments(cfg) -> dict:
    hidden, layers, steps = cfg.scaling_sizes[-1]
    return dict(hidden=hidden, layers=layers, steps=steps, vocab_size=cfg.vocab_size, seq_len=cfg.seq_len,
                batch_size=cfg.batch_size, lr=cfg.lr, warmup_fraction=cfg.warmup_fraction, grad_clip=cfg.grad_clip,
                valid_windows=cfg.valid_windows, corpus=cfg.corpus, corpus_files=cfg.corpus_files,
                corpus_max_documents=cfg.corpus_max_documents, valid_fraction=cfg.valid_fraction)


def test_the_base_model_retrains_on_a_code_change_and_not_on_an_unrelated_size(tmp_path, monkeypatch):
    monkeypatch.setenv("ALIGNBOOK_CACHE", str(tmp_path / "cache"))
    assert base.Path(base.__file__).parent / "model.py" in base.BASE_MODEL_SOURCES
    trained = []
    real_train_model = base.train_model
    monkeypatch.setattr(base, "train_model", lambda *a, **k: trained.append(a[2:5]) or real_train_model(*a, **k))
    # The sources as copies, so that the test can edit "the model code".
    copies = []
    for path in base.BASE_MODEL_SOURCES:
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        copies.append(copy)
    monkeypatch.setattr(base, "BASE_MODEL_SOURCES", tuple(copies))

    cfg = scales.get("baichuan2", "smoke")
    _, _, folder = base.base_model(**_base_model_arguments(cfg))
    assert len(trained) == 1 and (folder / "model").exists()
    # Another size of the chapter (the arithmetic experiment's) changes; the base model does not depend on it.
    other = scales.Config("baichuan2", "smoke", {**dict(cfg), "arith_steps": cfg.arith_steps + 1})
    assert other.arith_steps != cfg.arith_steps
    assert base.base_model(**_base_model_arguments(other))[2] == folder and len(trained) == 1
    # A size it does use retrains.
    assert base.base_model(**{**_base_model_arguments(cfg), "steps": 1})[2] != folder and len(trained) == 2
    # So does a change to the model's code.
    model_copy = copies[[p.name for p in copies].index("model.py")]
    model_copy.write_text(model_copy.read_text() + "\n# a change\n")
    assert base.base_model(**_base_model_arguments(cfg))[2] != folder and len(trained) == 3


def test_base_model_takes_sizes_not_a_scale():
    with pytest.raises(TypeError):
        base.base_model("smoke")
