"""MMM's layout on hand-made bars: which bars are kept around the hole, and the context the model reads."""

from __future__ import annotations

from cadenza.tokenization.infilling import infill_context, kept_bars

BARS = [[10, 1], [11, 2, 2], [12], [13, 3], [14, 4, 4, 4], [15]]
HOLE, FILL, CONTINUE = 90, 91, 92


def test_the_nearest_bars_that_fit_are_kept_one_side_then_the_other():
    sizes = [len(bar) for bar in BARS]
    assert kept_bars(sizes, start=2, count=2, room=100) == (0, 6)  # everything fits
    assert kept_bars(sizes, start=2, count=2, room=3) == (1, 4)  # bar 1 (3 tokens), then bar 4 does not fit
    assert kept_bars(sizes, start=2, count=2, room=1) == (2, 4)  # bar 1 is too big, bar 4 too
    assert kept_bars(sizes, start=0, count=1, room=3) == (0, 2)  # nothing before: after only, while it fits


def test_the_context_is_prefix_bars_before_holes_bars_after_and_the_fill_marker():
    prefix = [1, 5, 7]
    assert infill_context(prefix, CONTINUE, BARS, 2, 2, (1, 5), HOLE, FILL) == [
        1, 5, 7, CONTINUE, 11, 2, 2, HOLE, HOLE, 14, 4, 4, 4, FILL
    ]  # fmt: skip
    assert infill_context(prefix, CONTINUE, BARS, 0, 1, (0, 2), HOLE, FILL) == [1, 5, 7, HOLE, 11, 2, 2, FILL]
