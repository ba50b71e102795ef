"""MMM's bar-infilling layout, one home for training (`training.shards`) and generation
(`Composer.infill`): pure functions over bars of token ids (they import nothing, so the shard trainer
still runs where only torch is installed).

    prefix [Continue] <bars before> Infill_Bar x count <bars after> Infill_Fill <the count bars> EOS
"""

from __future__ import annotations


def kept_bars(sizes: list[int], start: int, count: int, room: int) -> tuple[int, int]:
    """(first, end): the bars `first` to `start` and `start + count` to `end` (exclusive) kept around the
    `count` bars left out, the nearest that fit `room` tokens in all (bar `i` takes `sizes[i]`), one
    before, one after, in turn."""
    first, end = start, start + count
    grew = True
    while grew:
        grew = False
        if first > 0 and sizes[first - 1] <= room:
            first, room, grew = first - 1, room - sizes[first - 1], True
        if end < len(sizes) and sizes[end] <= room:
            end, room, grew = end + 1, room - sizes[end], True
    return first, end


def infill_context(
    prefix: list[int],
    continue_id: int,
    bars: list[list[int]],
    start: int,
    count: int,
    kept: tuple[int, int],
    hole_id: int,
    fill_id: int,
) -> list[int]:
    """What the model reads before it writes bars `start` to `start + count - 1`: the layout above up to
    the fill marker, with the bars `kept` (`kept_bars`); mid-piece (Continue) unless the first bar is kept."""
    first, end = kept
    head = prefix if first == 0 else [*prefix, continue_id]
    before = [t for bar in bars[first:start] for t in bar]
    after = [t for bar in bars[start + count : end] for t in bar]
    return [*head, *before, *[hole_id] * count, *after, fill_id]
