"""The cadenza tokenizer: miditok's REMI plus our own tokens.

A sequence reads `BOS Style_<tag> <REMI music tokens> EOS`; a training chunk cut from the middle of a
piece reads `BOS Style_<tag> Continue_None <bars>`, so the model can tell a piece's opening (voices
entering, a pickup) from its middle, and generation from `BOS Style Bar` writes openings.

All voices share one stream: each note is `Program Pitch Duration`, so the Program token names the voice
(the corpus gives every track its own program, see `cadenza.data.loading.normalize_score`). Velocity is
dropped by design: the embedded corpus has none worth learning, and it saves a token per note.

Our tokens (the marker and styles now; lyrics and controls later) are appended after miditok's
vocabulary in the order they were added and stored in the same tokenizer.json, so adding a style never
renumbers a token that a trained model already knows.
"""

from __future__ import annotations

import json
from pathlib import Path

import symusic
from miditok import REMI, TokenizerConfig

from cadenza.data.styles import validate_style_name
from cadenza.errors import CadenzaError, InputFileError

TOKENIZER_FILE = "tokenizer.json"
STYLE_PREFIX = "Style_"
CONTINUE_TOKEN = "Continue_None"
_ADDED_KEY = "cadenza_added_tokens"


def default_config() -> TokenizerConfig:
    """REMI, one token stream for all programs, no velocities, tempos and time signatures on."""
    return TokenizerConfig(
        pitch_range=(21, 109),
        beat_res={(0, 4): 8, (4, 12): 4},
        use_programs=True,
        one_token_stream_for_programs=True,
        use_velocities=False,
        use_tempos=True,
        use_time_signatures=True,
        # Renaissance music is notated in 2/2, 3/2 and 4/2; folk tunes in 9/8.
        time_signature_range={8: [3, 6, 9, 12], 4: [1, 2, 3, 4, 5, 6], 2: [1, 2, 3, 4]},
        special_tokens=["PAD", "BOS", "EOS"],
    )


class CadenzaTokenizer:
    """Encodes symusic Scores to token ids with a style prefix, and decodes ids back to Scores."""

    def __init__(self, remi: REMI, added_tokens: list[str] | None = None) -> None:
        self.remi = remi
        self.added_tokens: list[str] = []
        for token in added_tokens or []:
            self.add_token(token)

    # --- construction and persistence -----------------------------------------------------------
    @classmethod
    def new(
        cls, styles: list[str] | tuple[str, ...], config: TokenizerConfig | None = None
    ) -> CadenzaTokenizer:
        tokenizer = cls(REMI(config or default_config()))
        tokenizer.add_token(CONTINUE_TOKEN)
        for style in styles:
            tokenizer.add_style(style)
        return tokenizer

    @classmethod
    def load(cls, path: str | Path) -> CadenzaTokenizer:
        """Load from a tokenizer.json, or from a folder (a checkpoint) that holds one."""
        path = Path(path)
        file = path / TOKENIZER_FILE if path.is_dir() else path
        if not file.is_file():
            raise InputFileError(file, "no tokenizer file here (expected tokenizer.json beside the model)")
        try:
            saved = json.loads(file.read_text())
            if not isinstance(saved, dict) or "config" not in saved or _ADDED_KEY not in saved:
                raise ValueError("no miditok config or cadenza tokens in it")
            remi = REMI(params=file)
        except (ValueError, KeyError, TypeError) as err:
            raise InputFileError(file, f"not a cadenza tokenizer file ({err})") from err
        return cls(remi, saved[_ADDED_KEY])

    def save(self, folder: str | Path) -> Path:
        self.remi.save(folder, additional_attributes={_ADDED_KEY: self.added_tokens}, filename=TOKENIZER_FILE)
        return Path(folder) / TOKENIZER_FILE

    def add_token(self, token: str) -> int:
        """Append a token after every existing one (idempotent) and return its id."""
        if token not in self.remi.vocab:
            self.remi.add_to_vocab(token)
            self.added_tokens.append(token)
        return self.remi.vocab[token]

    def add_style(self, style: str) -> int:
        return self.add_token(STYLE_PREFIX + validate_style_name(style))

    # --- vocabulary ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.remi.vocab)

    @property
    def vocab(self) -> dict[str, int]:
        return self.remi.vocab

    @property
    def styles(self) -> list[str]:
        return [t[len(STYLE_PREFIX) :] for t in self.added_tokens if t.startswith(STYLE_PREFIX)]

    @property
    def pad_id(self) -> int:
        return self.remi.vocab["PAD_None"]

    @property
    def bos_id(self) -> int:
        return self.remi.vocab["BOS_None"]

    @property
    def eos_id(self) -> int:
        return self.remi.vocab["EOS_None"]

    @property
    def bar_id(self) -> int:
        return self.remi.vocab["Bar_None"]

    @property
    def continue_id(self) -> int | None:
        """The mid-piece marker; None in tokenizers saved before it existed."""
        return self.remi.vocab.get(CONTINUE_TOKEN)

    def prefix(self, style: str, continued: bool = False) -> list[int]:
        """`BOS Style`, plus the mid-piece marker when `continued` (and the tokenizer has one)."""
        marker = [self.continue_id] if continued and self.continue_id is not None else []
        return [self.bos_id, self.style_id(style), *marker]

    def style_id(self, style: str) -> int:
        token = STYLE_PREFIX + style
        if token not in self.remi.vocab:
            raise CadenzaError(f"unknown style {style!r}; this model knows: {', '.join(self.styles)}")
        return self.remi.vocab[token]

    def token(self, token_id: int) -> str:
        return self.remi[token_id]

    # --- encoding -----------------------------------------------------------------------------
    def encode_music(self, score: symusic.Score) -> list[int]:
        """REMI ids of a score's notes, tempos and time signatures (quantized on the way)."""
        return list(self.remi.encode(score).ids)

    def encode(self, score: symusic.Score, style: str) -> list[int]:
        return [self.bos_id, self.style_id(style), *self.encode_music(score), self.eos_id]

    def music_ids(self, ids: list[int]) -> list[int]:
        """The REMI part of a sequence: stops at the first EOS, drops BOS/PAD and our added tokens."""
        base_size = len(self.remi.vocab) - len(self.added_tokens)
        skip = {self.bos_id, self.pad_id}
        out = []
        for i in ids:
            if i == self.eos_id:
                break
            if i not in skip and i < base_size:
                out.append(int(i))
        return out

    def decode(self, ids: list[int]) -> symusic.Score:
        """A Score (ticks at the tokenizer's resolution) from a sequence made by `encode` or a model."""
        music = self.music_ids(ids)
        if not music:
            return symusic.Score(self.remi.time_division)
        return self.remi.decode(music)


def preprocess(tokenizer: CadenzaTokenizer, score: symusic.Score) -> symusic.Score:
    """The score as the tokenizer sees it (quantized): what a lossless round trip must give back."""
    return tokenizer.remi.preprocess_score(score)


def note_tuples(score: symusic.Score) -> list[tuple[int, float, int, float]]:
    """Sorted (program, onset, pitch, duration) of every note, times in quarter notes."""
    tpq = score.ticks_per_quarter
    return sorted(
        (track.program, note.time / tpq, note.pitch, note.duration / tpq)
        for track in score.tracks
        for note in track.notes
    )
