from symusic import Score

from cadenza.data.splits import (
    HashedPiece,
    assign_splits,
    content_hash,
    drop_duplicates,
    group_pieces,
    melody_hash,
    score_notes,
    split_groups,
    top_voice_pitches,
)
from tests.data.conftest import make_score


def test_content_hash_ignores_note_order_and_resolution():
    a = make_score([(0, False, [(0, 480, 60), (480, 480, 62)])], tpq=480)
    b = make_score([(0, False, [(96, 96, 62), (0, 96, 60)])], tpq=96)
    assert score_notes(a) == [(0, 0.0, 60, 1.0), (0, 1.0, 62, 1.0)]
    assert content_hash(score_notes(a)) == content_hash(score_notes(b))
    assert content_hash(score_notes(a)) != content_hash([(0, 0.0, 60, 1.0)])


def test_melody_hash_matches_transposed_copies_of_the_top_voice():
    tune = make_score(
        [(0, False, [(0, 1, 60), (0, 1, 48), (1, 1, 62), (2, 1, 64)]), (0, False, [(0, 3, 40)])]
    )
    assert top_voice_pitches(tune) == [60, 62, 64]
    assert melody_hash([60, 62, 64]) == melody_hash([65, 67, 69])
    assert melody_hash([60, 62, 64]) != melody_hash([60, 62, 63])
    assert top_voice_pitches(Score(480)) == []


def test_melody_hash_uses_only_the_opening_intervals():
    opening = list(range(60, 93))  # 33 pitches = 32 intervals
    assert melody_hash(opening + [1]) == melody_hash(opening + [100])


def test_drop_duplicates_keeps_first_id():
    pieces = [HashedPiece("b", "c1", "m1"), HashedPiece("a", "c1", "m2"), HashedPiece("c", "c2", "m3")]
    kept, dropped = drop_duplicates(pieces)
    assert [p.id for p in kept] == ["a", "c"]
    assert dropped == {"b": "a"}


def test_group_pieces_unions_shared_hashes():
    pieces = [
        HashedPiece("a", "c1", "m1"),
        HashedPiece("b", "c2", "m1"),  # same melody as a
        HashedPiece("c", "c3", "m3"),
    ]
    assert group_pieces(pieces) == {"m1": ["a", "b"], "m3": ["c"]}


def test_split_groups_exact_and_deterministic():
    keys = [f"k{i}" for i in range(200)]
    first = split_groups(keys, seed=0, val_fraction=0.1, test_fraction=0.1)
    assert first == split_groups(keys, seed=0, val_fraction=0.1, test_fraction=0.1)
    assert first != split_groups(keys, seed=1, val_fraction=0.1, test_fraction=0.1)
    counts = {split: list(first.values()).count(split) for split in ("train", "validation", "test")}
    assert counts == {"train": 155, "validation": 20, "test": 25}


def test_tiny_corpora_get_train_and_validation():
    assert split_groups(["x"], 0, 0.05, 0.05) == {"x": "train"}
    assert set(split_groups(["x", "y"], 0, 0.05, 0.05).values()) == {"train"}
    three = split_groups(["x", "y", "z"], 0, 0.05, 0.05)
    assert sorted(three.values()) == ["train", "train", "validation"]
    # even when every draw falls in test, train is not empty
    assert "train" in split_groups(["x", "y", "z"], 0, 0.0, 0.999).values()


def test_assign_splits_keeps_groups_together_and_drops_duplicates():
    pieces = [HashedPiece(f"p{i}", f"c{i}", f"m{i % 7}") for i in range(60)]
    pieces.append(HashedPiece("z-dup", "c0", "m0"))
    assignment, dropped = assign_splits(pieces, seed=3, val_fraction=0.2, test_fraction=0.2)
    assert dropped == {"z-dup": "p0"}
    assert len(assignment) == 60
    for group in range(7):
        assert len({assignment[f"p{i}"] for i in range(group, 60, 7)}) == 1
