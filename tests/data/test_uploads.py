"""Uploaded scores and zip archives gathered into one folder: traversal, links, bombs, non-music."""

from __future__ import annotations

import zipfile

import pytest

from cadenza.data import uploads
from cadenza.data.uploads import gather_scores
from cadenza.errors import InputFileError
from tests.conftest import make_piece


def midi_bytes(seed: int) -> bytes:
    return make_piece(seed, bars=2, voices=1).dumps_midi()


def archive(path, members: dict[str, bytes], link: str | None = None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = 0o120777 << 16  # a symbolic link, as `zip --symlinks` stores one
            zf.writestr(info, "/etc/passwd")
    return path


def test_files_and_archives_land_flat_and_non_music_is_named(tmp_path):
    single = tmp_path / "tune.mid"
    single.write_bytes(midi_bytes(1))
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    zipped = archive(
        tmp_path / "book.zip", {"a/b/air1.mid": midi_bytes(2), "air2.MID": midi_bytes(3), "readme.md": b"x"}
    )
    got = gather_scores([single, notes, zipped], tmp_path / "out")
    assert got.scores == ["tune.mid", "book.zip/a/b/air1.mid", "book.zip/air2.MID"]
    assert got.skipped == ["notes.txt (not a score file)", "book.zip/readme.md (not a score file)"]
    written = sorted(p.name for p in got.folder.iterdir())
    assert written == ["00000.mid", "00001.mid", "00002.mid"]
    assert (got.folder / "00001.mid").read_bytes() == midi_bytes(2)


@pytest.mark.parametrize(
    ("members", "link", "problem"),
    [
        ({"../evil.mid": b"x"}, None, "points outside the archive"),
        ({"/etc/evil.mid": b"x"}, None, "points outside the archive"),
        ({"ok.mid": b"x"}, "link.mid", "is a symbolic link"),
    ],
)
def test_a_hostile_archive_is_refused_whole_before_anything_is_written(tmp_path, members, link, problem):
    zipped = archive(tmp_path / "bad.zip", {"fine.mid": midi_bytes(1), **members}, link)
    with pytest.raises(InputFileError, match=f"bad.zip: .*{problem}"):
        gather_scores([zipped], tmp_path / "out")
    assert not any((tmp_path / "out").iterdir())
    assert not (tmp_path / "evil.mid").exists()


def test_a_zip_bomb_stops_at_the_member_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 1000)
    zipped = archive(tmp_path / "bomb.zip", {"huge.mid": b"\0" * 10**6})  # ~1 KB compressed
    assert zipped.stat().st_size < 5000
    with pytest.raises(InputFileError, match="bomb.zip: member 'huge.mid' is over"):
        gather_scores([zipped], tmp_path / "out")
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 10**6)
    monkeypatch.setattr(uploads, "MAX_ARCHIVE_BYTES", 1500)
    zipped = archive(tmp_path / "many.zip", {"a.mid": b"\0" * 1000, "b.mid": b"\0" * 1000})
    with pytest.raises(InputFileError, match="unpacks to over"):
        gather_scores([zipped], tmp_path / "out2")


def test_a_file_named_zip_that_is_not_one(tmp_path):
    fake = tmp_path / "scores.zip"
    fake.write_bytes(b"not a zip at all")
    with pytest.raises(InputFileError, match="scores.zip: not a zip archive"):
        gather_scores([fake], tmp_path / "out")
