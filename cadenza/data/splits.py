"""Leak-free train/validation/test splits: duplicates dropped, related pieces kept in one split.

Two pieces are related when they have the same notes (content hash) or the same opening melodic contour
(melody hash, over intervals so a transposed copy of a hymn tune collides). Related pieces form a group
and a group goes to one split, chosen from a hash of the group key and the seed, so a split is stable as
the corpus grows and no tune leaks from train into evaluation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from symusic import Score

SPLITS: tuple[str, ...] = ("train", "validation", "test")
MELODY_INTERVALS = 32


class HashedPiece(NamedTuple):
    id: str
    content_hash: str
    melody_hash: str


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def score_notes(score: Score) -> list[tuple[int, float, int, float]]:
    """(track, onset, pitch, duration) of every note, times in quarter notes so resolution does not matter."""
    tpq = score.ticks_per_quarter
    return [
        (index, round(n.time / tpq, 4), int(n.pitch), round(n.duration / tpq, 4))
        for index, track in enumerate(score.tracks)
        for n in track.notes
    ]


def top_voice_pitches(score: Score) -> list[int]:
    """The highest-sounding track's pitches in time order, one (the highest) per onset."""
    tracks = [track for track in score.tracks if len(track.notes)]
    if not tracks:
        return []
    top = max(tracks, key=lambda track: sum(n.pitch for n in track.notes) / len(track.notes))
    highest: dict[int, int] = {}
    for n in top.notes:
        highest[n.time] = max(highest.get(n.time, 0), int(n.pitch))
    return [highest[time] for time in sorted(highest)]


def content_hash(notes: Iterable[tuple[int, float, int, float]]) -> str:
    return _digest(repr(sorted(notes)))


def melody_hash(pitches: Sequence[int]) -> str:
    intervals = [b - a for a, b in zip(pitches, pitches[1:], strict=False)][:MELODY_INTERVALS]
    return _digest(repr(intervals))


def drop_duplicates(pieces: Sequence[HashedPiece]) -> tuple[list[HashedPiece], dict[str, str]]:
    """Keep the first piece (by id) of each content hash; return the kept ones and dropped id -> kept id."""
    kept: dict[str, HashedPiece] = {}
    dropped: dict[str, str] = {}
    for piece in sorted(pieces, key=lambda p: p.id):
        if piece.content_hash in kept:
            dropped[piece.id] = kept[piece.content_hash].id
        else:
            kept[piece.content_hash] = piece
    return list(kept.values()), dropped


def group_pieces(pieces: Sequence[HashedPiece]) -> dict[str, list[str]]:
    """Union pieces that share a content or melody hash; group key (smallest melody hash) -> sorted ids."""
    parent = {piece.id: piece.id for piece in pieces}

    def root(item: str) -> str:
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    first_with: dict[str, str] = {}
    for piece in pieces:
        for hash_ in (f"c{piece.content_hash}", f"m{piece.melody_hash}"):
            if hash_ in first_with:
                parent[root(piece.id)] = root(first_with[hash_])
            else:
                first_with[hash_] = piece.id
    members: dict[str, list[HashedPiece]] = {}
    for piece in pieces:
        members.setdefault(root(piece.id), []).append(piece)
    return {min(p.melody_hash for p in group): sorted(p.id for p in group) for group in members.values()}


def _draw(key: str, seed: int) -> float:
    """A uniform number in [0, 1) fixed by the group key and the seed."""
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:15], 16) / 16**15


def split_groups(keys: Sequence[str], seed: int, val_fraction: float, test_fraction: float) -> dict[str, str]:
    """Group key -> split name.

    Each group draws a number from its key and the seed: below test_fraction is test, below
    test_fraction + val_fraction is validation, the rest train. Small corpora would often get an empty
    train or validation split that way, so train always gets a group, and validation one when there are
    at least three groups.
    """
    draws = {key: _draw(key, seed) for key in keys}
    split = {
        key: "test" if u < test_fraction else "validation" if u < test_fraction + val_fraction else "train"
        for key, u in draws.items()
    }
    by_draw = sorted(keys, key=lambda key: draws[key])
    if keys and "train" not in split.values():
        split[by_draw[-1]] = "train"
    if len(keys) >= 3 and "validation" not in split.values():
        trains = [key for key in by_draw if split[key] == "train"]
        donors = trains if len(trains) > 1 else [key for key in by_draw if split[key] == "test"]
        split[donors[0]] = "validation"
    return split


def assign_splits(
    pieces: Sequence[HashedPiece], seed: int, val_fraction: float, test_fraction: float
) -> tuple[dict[str, str], dict[str, str]]:
    """Piece id -> split for the pieces kept, and dropped duplicate id -> the id it duplicates."""
    kept, dropped = drop_duplicates(pieces)
    groups = group_pieces(kept)
    group_split = split_groups(sorted(groups), seed, val_fraction, test_fraction)
    assignment = {piece_id: group_split[key] for key, ids in groups.items() for piece_id in ids}
    return assignment, dropped
