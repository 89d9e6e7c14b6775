import pytest

from alignbook import scales


def test_every_chapter_defines_every_scale_with_the_same_keys():
    scales.validate()  # also runs at import; here it must pass for the committed table
    for name in scales.chapters():
        keys = {scale: set(scales.get(name, scale)) for scale in scales.SCALES}
        assert keys["smoke"] == keys["book"] == keys["full"], name


def test_unknown_scale_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid scales are: smoke, book, full"):
        scales.get("survey", "huge")
    with pytest.raises(ValueError, match="unknown scale 3"):
        scales.check_scale(3)


def test_unknown_chapter_lists_the_known_ones():
    with pytest.raises(ValueError, match="chapters with scales are: .*survey"):
        scales.get("no-such-chapter", "smoke")


def test_config_reads_as_attributes_and_rejects_unknown_keys():
    cfg = scales.get("survey", "smoke")
    assert cfg.bt_items == cfg["bt_items"]
    with pytest.raises(AttributeError, match="has no setting 'nope'"):
        _ = cfg.nope


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"c": {"smoke": {"a": 1}, "book": {"a": 2}}}, "must define"),
        ({"c": {"smoke": {"a": 1}, "book": {"a": 2, "b": 3}, "full": {"a": 3}}}, "differs from 'smoke' in keys"),
        ({"c": {"smoke": {"a": 1}, "book": {"a": 2.0}, "full": {"a": 3}}}, "is int at 'smoke' but float"),
    ],
)
def test_validate_rejects_inconsistent_tables(table, message):
    with pytest.raises(ValueError, match=message):
        scales.validate(table)


def test_scales_grow_from_smoke_to_book():
    smoke, book = scales.get("survey", "smoke"), scales.get("survey", "book")
    assert book.gw_updates > smoke.gw_updates and book.bt_seeds > smoke.bt_seeds
    # smoke must still cross the second pass of every loop
    assert smoke.gw_updates >= 2 and smoke.bt_seeds >= 2 and len(smoke.bt_comparisons) >= 2


def test_book_scale_runs_enough_seeds_for_a_verdict():
    """report.compare decides nothing below MIN_SEEDS training runs a side; the book's claims need at least that."""
    from alignbook.report import MIN_SEEDS

    short = {(name, key): value for name in scales.chapters() for key, value in scales.get(name, "book").items()
             if key.endswith("seeds") and value < MIN_SEEDS}
    assert not short, f"book-scale seed counts below {MIN_SEEDS}: {short}"
