"""Round trips over real pieces: the two smallest files of every embedded style, through the real loader.

What must come back exactly is the score as miditok quantizes it (`preprocess`): every note's program,
onset, pitch and duration, and the time signatures. Lossy by design (docs/tokenization.md): velocity (not
encoded) and tempo (32 bins), checked here against their documented tolerance.
"""

from __future__ import annotations

import pytest

from cadenza.data.checks import SUPPORTED_SUFFIXES
from cadenza.data.corpus import embedded_root
from cadenza.data.loading import load_pieces
from cadenza.data.styles import EMBEDDED_STYLES, STYLE_FOLDERS
from cadenza.tokenization.tokenizer import CadenzaTokenizer, note_tuples, preprocess

FILES_PER_STYLE = 2
TEMPO_TOLERANCE = 0.06  # relative: neighbouring bins of miditok's 32 tempos over 40-250 qpm


def smallest_files(style: str) -> list[str]:
    root = embedded_root()
    files = [
        path
        for folder in STYLE_FOLDERS[style]
        for path in (root / folder).rglob("*")
        if path.suffix.lower() in SUPPORTED_SUFFIXES
    ]
    return [
        str(p.relative_to(root)) for p in sorted(files, key=lambda p: (p.stat().st_size, p))[:FILES_PER_STYLE]
    ]


@pytest.fixture(scope="module")
def tokenizer() -> CadenzaTokenizer:
    return CadenzaTokenizer.new(EMBEDDED_STYLES)


@pytest.mark.parametrize(
    ("style", "source"), [(style, source) for style in EMBEDDED_STYLES for source in smallest_files(style)]
)
def test_real_pieces_round_trip_exactly(tokenizer, style, source):
    for piece in load_pieces(embedded_root() / source):
        expected = preprocess(tokenizer, piece.score)
        back = tokenizer.decode(tokenizer.encode(piece.score, style))
        assert note_tuples(back) == note_tuples(expected), f"{source}#{piece.tune}"
        assert note_tuples(back)  # a piece with notes, not two empty scores
        assert [(ts.time, ts.numerator, ts.denominator) for ts in back.time_signatures] == [
            (ts.time, ts.numerator, ts.denominator) for ts in expected.time_signatures
        ]
        assert len(back.tempos) == len(expected.tempos)
        # against the original, not the preprocessed score: binning is where the tempo loses precision
        for got, want in zip(back.tempos, piece.score.tempos, strict=False):
            assert got.qpm == pytest.approx(want.qpm, rel=TEMPO_TOLERANCE)
