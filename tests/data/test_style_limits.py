import pytest

from cadenza.data.corpus import parse_style_limits
from cadenza.errors import CadenzaError


def test_style_limits_override_the_default_per_style():
    limits = parse_style_limits("essen_folk=2, bach=30", 5)
    assert limits["essen_folk"] == 2 and limits["bach"] == 30 and limits["palestrina"] == 5
    assert parse_style_limits(None, None)["irish_fiddle"] is None


@pytest.mark.parametrize("text", ["jazz=2", "bach=two", "bach"])
def test_bad_style_limits_are_clear_errors(text):
    with pytest.raises(CadenzaError, match="bad --style_limits item"):
        parse_style_limits(text, None)


def test_a_limit_takes_the_smallest_files_in_path_order(tmp_path):
    from cadenza.data.corpus import _smallest

    files = []
    for name, size in [("a.mid", 30), ("b.mid", 10), ("c.mid", 20)]:
        (tmp_path / name).write_bytes(b"x" * size)
        files.append(tmp_path / name)
    assert [p.name for p in _smallest(files, 2)] == ["b.mid", "c.mid"]
    assert _smallest(files, None) == files
