"""What each style of a corpus holds: pieces, parts, bars, notes, texted pieces, keys and meters.

A check that a style's data is what it claims to be (an earlier loader made Josquin's four-voice
chansons into one-voice pieces, which this table shows at a glance). Pure functions over corpus rows.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

import numpy as np

TOP = 3  # most common keys and meters listed per style


def style_stats(rows: Iterable[dict]) -> dict[str, dict]:
    """Style -> {"pieces", "parts" [min, median, max], "bars" [min, median, max], "notes" (total),
    "texted" (pieces with lyrics), "keys" (distinct), "top_keys", "meters" (distinct), "top_meters"}.

    Rows need `style`, `num_parts`, `num_bars`, `num_notes`, `lyrics` (JSON), `key`, `time_signatures`.
    A piece counts once for each meter it uses.
    """
    by_style: dict[str, list[dict]] = {}
    for row in rows:
        by_style.setdefault(row["style"], []).append(row)
    return {style: _stats(pieces) for style, pieces in by_style.items()}


def _stats(pieces: list[dict]) -> dict:
    keys = Counter(piece["key"] for piece in pieces)
    meters = Counter(meter for piece in pieces for meter in piece["time_signatures"])
    return {
        "pieces": len(pieces),
        "parts": _spread(piece["num_parts"] for piece in pieces),
        "bars": _spread(piece["num_bars"] for piece in pieces),
        "notes": sum(piece["num_notes"] for piece in pieces),
        "texted": sum(1 for piece in pieces if json.loads(piece["lyrics"] or "[]")),
        "keys": len(keys),
        "top_keys": [f"{key} ({count})" for key, count in keys.most_common(TOP)],
        "meters": len(meters),
        "top_meters": [f"{meter} ({count})" for meter, count in meters.most_common(TOP)],
    }


def _spread(values: Iterable[int]) -> list[int]:
    array = np.fromiter(values, dtype=np.int64)
    return [int(array.min()), int(np.median(array)), int(array.max())]


def stats_table(stats: dict[str, dict]) -> str:
    """The stats as a Markdown table (the build prints it; docs/corpus.md keeps one)."""
    lines = [
        "| style | pieces | parts min/med/max | bars min/med/max | notes | texted | keys (top) "
        "| meters (top) |",
        "|---|---:|---|---|---:|---:|---|---|",
    ]
    for style, row in stats.items():
        lines.append(
            f"| {style} | {row['pieces']:,} | {'/'.join(map(str, row['parts']))} | "
            f"{'/'.join(map(str, row['bars']))} | {row['notes']:,} | {row['texted']:,} | "
            f"{row['keys']}: {', '.join(row['top_keys'])} | {row['meters']}: {', '.join(row['top_meters'])} |"
        )
    return "\n".join(lines)
