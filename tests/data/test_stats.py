import json

from cadenza.data.stats import stats_table, style_stats


def row(style, parts, bars, notes, key, meters, lyrics=()):
    return {
        "style": style,
        "num_parts": parts,
        "num_bars": bars,
        "num_notes": notes,
        "key": key,
        "time_signatures": list(meters),
        "lyrics": json.dumps(list(lyrics)),
    }


def test_style_stats_exact():
    rows = [
        row("bach", 4, 10, 100, "G major", ["4/4"], [{"text": "Gott"}]),
        row("bach", 4, 20, 200, "G major", ["4/4", "3/4"]),
        row("bach", 5, 30, 300, "A minor", ["3/4"]),
        row("folk", 1, 8, 40, "D major", ["6/8"]),
    ]
    stats = style_stats(rows)
    assert stats["bach"] == {
        "pieces": 3,
        "parts": [4, 4, 5],
        "bars": [10, 20, 30],
        "notes": 600,
        "texted": 1,
        "keys": 2,
        "top_keys": ["G major (2)", "A minor (1)"],
        "meters": 2,
        "top_meters": ["4/4 (2)", "3/4 (2)"],
    }
    assert stats["folk"]["parts"] == [1, 1, 1] and stats["folk"]["texted"] == 0
    table = stats_table(stats)
    assert "| bach | 3 | 4/4/5 | 10/20/30 | 600 | 1 |" in table
