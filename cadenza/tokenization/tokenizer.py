"""The cadenza tokenizer: miditok's REMI plus our own tokens.

A sequence reads `BOS Style_<tag> Key_<tonic>_<mode> <REMI music tokens> EOS`; a training chunk cut from
the middle of a piece reads `BOS Style_<tag> Key_<tonic>_<mode> Continue_None <bars>`, so the model can
tell a piece's opening (voices entering, a pickup) from its middle, and generation from `BOS Style Key
Bar` writes openings in that key. The key token (24: 12 tonics x major/minor) is the piece's key as the
corpus annotates it; transposing a sequence moves it with the notes (`chunking.Transposer`). Tokenizers
saved before key tokens existed have none, and their prefix is `BOS Style`.

All voices share one stream: each note is `Program Pitch Duration`, so the Program token names the voice
(the corpus gives every track its own program, see `cadenza.data.loading.normalize_score`). Velocity is
dropped by design: the embedded corpus has none worth learning, and it saves a token per note.

More music per token: `train_bpe` learns miditok's BPE merges of REMI tokens inside bars (miditok's
`encode_ids_split="bar"`), so a merged token never crosses a bar line and the first token of every bar
starts with `Bar`. Merged ids come after the base vocabulary, whose ids do not change. Only the model sees
merged ids (`merge` before it, `unmerge` after); everything else, grammar states included, works on base
ids: `encode` gives base ids and `decode` / `music_ids` take either.

Our tokens (the marker, styles, keys and lyrics) are appended after miditok's vocabulary in the order
they were added and stored in the same tokenizer.json, so adding a style never renumbers a token that a
trained model already knows.

Songs (`add_lyrics`): each note follows a lyric item, see `cadenza.tokenization.lyrics`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Container, Iterable
from pathlib import Path

import symusic
from miditok import REMI, TokenizerConfig
from miditok.constants import CHR_ID_START

from cadenza.data.streams import is_song, lyric_event
from cadenza.data.styles import validate_style_name
from cadenza.errors import CadenzaError, InputFileError
from cadenza.keys import MODES, TONICS, Key, annotated_key
from cadenza.paths import TOKENIZER_FILE
from cadenza.tokenization.lyrics import LYRIC_TOKENS, MELISMA_TOKEN, lyrics_of, with_lyrics

STYLE_PREFIX = "Style_"
KEY_PREFIX = "Key_"
CONTINUE_TOKEN = "Continue_None"
# Bar infilling (MMM's layout): `... bars before, Infill_Bar per bar left out, bars after, Infill_Fill,
# the bars left out`, so a causal model writes bars knowing what comes after them.
HOLE_TOKEN = "Infill_Bar"  # stands where one bar was taken out
FILL_TOKEN = "Infill_Fill"  # the bars taken out follow, in order
INFILL_TOKENS = (HOLE_TOKEN, FILL_TOKEN)
_ADDED_KEY = "cadenza_added_tokens"
_WORD_MARK = "\u2581"  # Metaspace's mark at the start of each pre-tokenized bar


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


def split_bars(music: list[int], bar_starts: Container[int]) -> list[list[int]]:
    """Group ids into bars, each starting with a token of `bar_starts` (`{Bar}` for base ids; with BPE,
    `tokenizer.bar_starts`); tokens before the first bar stay alone."""
    bars: list[list[int]] = []
    for token in music:
        if token in bar_starts or not bars:
            bars.append([])
        bars[-1].append(token)
    return bars


class CadenzaTokenizer:
    """Encodes symusic Scores to token ids with a style prefix, and decodes ids back to Scores."""

    def __init__(self, remi: REMI, added_tokens: list[str] | None = None) -> None:
        self.remi = remi
        self._parts: list[tuple[int, ...]] | None = None  # base ids of each model id, built on first use
        self._bar_starts: frozenset[int] | None = None
        self._spellings: dict[tuple[int, ...], list[int]] = {}  # cache of `spelling`
        self.added_tokens: list[str] = []  # our tokens (style, key, markers), in the order of their ids
        self._late: list[str] = []  # those added after BPE merges were learned: ids after the merged ones
        self._vocab: dict[str, int] | None = None
        self._size: int | None = None  # len(self.remi), kept: miditok counts a trained vocabulary each call
        self._kind_ids: dict[str, frozenset[int]] = {}  # cache of `ids_of`
        for token in added_tokens or []:
            self._append(token)

    def _remi_len(self) -> int:
        if self._size is None:
            self._size = len(self.remi)
        return self._size

    def _append(self, token: str) -> None:
        self._vocab, self._size, self._kind_ids = None, None, {}
        if token not in self.remi.vocab:
            if self.is_bpe:
                # miditok numbers merged tokens right after its base vocabulary, so a token added after
                # the merges cannot join that vocabulary without renumbering them: it takes the next id
                # after the merged ones instead (a model's reserved rows), outside miditok.
                self._late.append(token)
            else:  # a plain tokenizer's vocabulary is rebuilt from its config, without our tokens
                self.remi.add_to_vocab(token)
        self.added_tokens.append(token)

    # --- construction and persistence -----------------------------------------------------------
    @classmethod
    def new(
        cls, styles: list[str] | tuple[str, ...], config: TokenizerConfig | None = None
    ) -> CadenzaTokenizer:
        tokenizer = cls(REMI(config or default_config()))
        tokenizer.add_token(CONTINUE_TOKEN)
        for mode in MODES:
            for tonic in range(12):
                tokenizer.add_token(_key_token((tonic, mode)))
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
        """Append a token after every existing one (idempotent) and return its id: with BPE merges, after
        the merged tokens, so no id a model has learned moves."""
        if token not in self.vocab:
            self._append(token)
        return self.vocab[token]

    @property
    def fingerprint(self) -> str:
        """A hash of what decides the ids of music: the vocabulary and, with BPE, the merges (two
        tokenizers with one base vocabulary can cut the same music into different tokens)."""
        merges = self.remi._model.to_str() if self.is_bpe else ""
        return hashlib.sha256((json.dumps(self.vocab, sort_keys=True) + merges).encode()).hexdigest()

    # --- BPE ----------------------------------------------------------------------------------
    @property
    def is_bpe(self) -> bool:
        return self.remi.is_trained

    def train_bpe(self, pieces: Iterable[list[int]], vocab_size: int) -> None:
        """Learn BPE merges (miditok, Hugging Face `tokenizers`) from pieces given as base ids, inside bars,
        up to `vocab_size` ids in all."""
        if vocab_size <= len(self.remi.vocab):
            raise CadenzaError(f"a BPE vocabulary must exceed the {len(self.remi.vocab)} base tokens")
        bars = [[self._bar_bytes(bar) for bar in split_bars(ids, {self.bar_id})] for ids in pieces]
        self.remi.train(vocab_size=vocab_size, model="BPE", iterator=[b for b in bars if b])
        self._parts, self._bar_starts, self._vocab, self._size = None, None, None, None
        self._spellings = {}

    def parts(self, token_id: int) -> tuple[int, ...]:
        """The base ids a (merged) id stands for; a base id stands for itself."""
        table = self._parts_table()
        return table[token_id] if token_id < len(table) else (token_id,)

    def merge(self, ids: list[int]) -> list[int]:
        """Base ids -> model ids: each bar's REMI tokens merged, every other token (BOS, Style, Key,
        Continue, EOS, PAD) left as it is. Identity without BPE."""
        if not self.is_bpe:
            return list(ids)
        out: list[int] = []
        run: list[int] = []
        base_size, special = self.base_size, (self.bos_id, self.eos_id, self.pad_id)
        for token in [*ids, None]:
            if token is not None and token < base_size and token not in special:  # `_is_music`, inlined
                run.append(token)
                continue
            if run:
                encoded = self.remi._model.encode(
                    [self._bar_bytes(b) for b in split_bars(run, {self.bar_id})], is_pretokenized=True
                )
                # A run that does not open a bar (a song's note after its syllable) starts with the
                # pre-tokenizer's word mark alone, a token that stands for nothing: dropped.
                out.extend(i for i in encoded.ids if self.parts(i))
                run = []
            if token is not None:
                out.append(token)
        return out

    def spelling(self, ids: tuple[int, ...]) -> list[int]:
        """The model ids that can start spelling out the base ids `ids`: those whose parts are a prefix of
        `ids` or begin with all of them (token healing: the model re-spells a cut prompt in the merged
        tokens it learned, instead of reading a lone part that never stood alone in training)."""
        if ids not in self._spellings:
            n = len(ids)
            self._spellings[ids] = [
                i for i, parts in enumerate(self._parts_table()) if parts and parts[:n] == ids[: len(parts)]
            ]
        return self._spellings[ids]

    def unmerge(self, ids: list[int]) -> list[int]:
        """Model ids -> base ids."""
        return [part for token in ids for part in self.parts(int(token))]

    @property
    def bar_starts(self) -> frozenset[int]:
        """The ids that open a bar: `Bar`, and merged tokens that begin with it."""
        if self._bar_starts is None:
            table = self._parts_table()
            self._bar_starts = frozenset(i for i, parts in enumerate(table) if parts[:1] == (self.bar_id,))
        return self._bar_starts

    @property
    def merged_ids(self) -> range:
        """The ids of BPE's merged tokens (empty without BPE)."""
        return range(len(self.remi.vocab), self._remi_len())

    @property
    def base_size(self) -> int:
        """miditok's REMI tokens, whose ids come first: every id below is music (or BOS/EOS/PAD)."""
        return len(self.remi.vocab) - (len(self.added_tokens) - len(self._late))

    def _is_music(self, token: int) -> bool:
        return token < self.base_size and token not in (
            self.bos_id, self.eos_id, self.pad_id,
        )  # fmt: skip

    def _bar_bytes(self, bar: list[int]) -> str:
        return "".join(chr(token + CHR_ID_START) for token in bar)  # miditok's byte of a base id

    def _parts_table(self) -> list[tuple[int, ...]]:
        if self._parts is None:
            table = [(i,) for i in range(len(self.remi.vocab))]
            if self.is_bpe:
                model = self.remi._model
                for i in range(len(self.remi.vocab), self._remi_len()):
                    # "▁" is the word mark of the pre-tokenizer miditok trains with, not a token: alone, it
                    # stands for nothing (the grammar never allows it)
                    chars = model.id_to_token(i).replace(_WORD_MARK, "")
                    table.append(tuple(ord(c) - CHR_ID_START for c in chars))
            self._parts = table
        return self._parts

    def add_style(self, style: str) -> int:
        return self.add_token(STYLE_PREFIX + validate_style_name(style))

    def add_lyrics(self) -> None:
        """The lyric tokens (see the module's text): 256 bytes and four markers."""
        for token in LYRIC_TOKENS:
            self.add_token(token)

    def add_infill(self) -> None:
        """The bar-infilling tokens (`HOLE_TOKEN`, `FILL_TOKEN`)."""
        for token in INFILL_TOKENS:
            self.add_token(token)

    @property
    def has_infill(self) -> bool:
        return FILL_TOKEN in self.vocab

    @property
    def hole_id(self) -> int | None:
        return self.vocab.get(HOLE_TOKEN)

    @property
    def fill_id(self) -> int | None:
        return self.vocab.get(FILL_TOKEN)

    # --- lyrics -------------------------------------------------------------------------------
    @property
    def has_lyrics(self) -> bool:
        return MELISMA_TOKEN in self.vocab

    @property
    def lyric_ids(self) -> list[int]:
        # A tokenizer from before `SONG_END_TOKEN` has the others only.
        return [self.vocab[token] for token in LYRIC_TOKENS if token in self.vocab]

    # --- token kinds: the one place a token's name is read -----------------------------------
    def kind(self, token_id: int) -> str:
        """A token's kind: the part of its name before "_" ("Pitch", "Duration", "Bar", "TimeSig",
        "Style", "Key", "Char", ...); "Merged" for a BPE token of several."""
        name = self.token(token_id)
        return "Merged" if "+" in name else name.partition("_")[0]

    def value(self, token_id: int) -> str:
        """A token's value: its name after its kind ("60" for Pitch_60, "3/4" for TimeSig_3/4)."""
        return self.token(token_id).partition("_")[2]

    def ids_of(self, kind: str) -> frozenset[int]:
        """The ids of the tokens of one kind, merged ones aside (kept: decoding asks often)."""
        if kind not in self._kind_ids:
            self._kind_ids[kind] = frozenset(
                i for token, i in self.vocab.items() if token.partition("_")[0] == kind
            )
        return self._kind_ids[kind]

    def __len__(self) -> int:
        """Ids a model must know: the base vocabulary, the merged tokens of a BPE tokenizer, and tokens
        added after the merges."""
        return self._remi_len() + len(self._late)

    @property
    def vocab(self) -> dict[str, int]:
        """Token -> id of every token but the merged ones."""
        if not self._late:
            return self.remi.vocab
        if self._vocab is None:
            first = self._remi_len()
            self._vocab = {**self.remi.vocab, **{t: first + i for i, t in enumerate(self._late)}}
        return self._vocab

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

    @property
    def has_keys(self) -> bool:
        return _key_token((0, "major")) in self.remi.vocab

    def key_id(self, key: Key) -> int:
        if not self.has_keys:
            raise CadenzaError("this tokenizer has no key tokens (a model from before key conditioning)")
        return self.remi.vocab[_key_token(key)]

    def key_of(self, token_id: int) -> Key | None:
        """The key a token stands for, or None for any other token."""
        token = self.token(token_id) if 0 <= token_id < len(self) else ""
        if not token.startswith(KEY_PREFIX):
            return None
        tonic, mode = token[len(KEY_PREFIX) :].split("_")
        return TONICS.index(tonic), mode

    @property
    def key_ids(self) -> list[int]:
        return [self.key_id((tonic, mode)) for mode in MODES for tonic in range(12)] if self.has_keys else []

    @property
    def prefix_len(self) -> int:
        """Tokens before the music of a piece's opening: `BOS Style` and the key token if there are any."""
        return 3 if self.has_keys else 2

    def prefix(self, style: str, key: Key | None = None, continued: bool = False) -> list[int]:
        """`BOS Style [Key]`, plus the mid-piece marker when `continued` (and the tokenizer has one). A
        tokenizer with key tokens needs the key; one without ignores it."""
        marker = [self.continue_id] if continued and self.continue_id is not None else []
        if self.has_keys and key is None:
            raise CadenzaError("this tokenizer's sequences name their key: give one")
        keyed = [self.key_id(key)] if self.has_keys else []
        return [self.bos_id, self.style_id(style), *keyed, *marker]

    def style_id(self, style: str) -> int:
        token = STYLE_PREFIX + style
        if token not in self.vocab:
            raise CadenzaError(f"unknown style {style!r}; this model knows: {', '.join(self.styles)}")
        return self.vocab[token]

    def token(self, token_id: int) -> str:
        """A token's name; a merged token's is its parts' joined by "+" ("Pitch_60+Duration_1.0.8")."""
        if token_id >= self._remi_len():
            return self._late[token_id - self._remi_len()]
        if token_id in self.merged_ids:
            return "+".join(self.remi[part] for part in self.parts(token_id))
        return self.remi[token_id]

    # --- encoding -----------------------------------------------------------------------------
    def encode_music(self, score: symusic.Score) -> list[int]:
        """REMI base ids of a score's notes, tempos and time signatures (quantized on the way); with lyric
        tokens, a song's (a score whose first track has lyric events) lyric items too."""
        if self.has_lyrics and is_song(score):
            return with_lyrics(self, self.remi.encode(_tempos_on_notes(score), encode_ids=False).ids, score)
        return list(self.remi.encode(score, encode_ids=False).ids)

    def encode(self, score: symusic.Score, style: str, key: Key | None = None) -> list[int]:
        """`BOS Style [Key] <music> EOS`; the key defaults to the score's own (its signature, else
        music21's analysis: `keys.score_key`)."""
        if key is None and self.has_keys:
            from cadenza.keys import score_key

            key = annotated_key(score_key(score))
        return [*self.prefix(style, key), *self.encode_music(score), self.eos_id]

    def music_ids(self, ids: list[int]) -> list[int]:
        """The REMI part of a sequence (base ids; merged ones are unmerged): stops at the first EOS, drops
        BOS/PAD and our added tokens."""
        out = []
        for i in self.unmerge(ids):
            if i == self.eos_id:
                break
            if self._is_music(i):
                out.append(int(i))
        return out

    def decode(self, ids: list[int]) -> symusic.Score:
        """A Score (ticks at the tokenizer's resolution) from a sequence made by `encode` or a model."""
        music = self.music_ids(ids)
        if not music:
            return symusic.Score(self.remi.time_division)
        score = self.remi.decode(music)
        lyrics = lyrics_of(self, ids)
        if any(lyrics) and score.tracks:
            track = score.tracks[0]
            notes = sorted(track.notes, key=lambda n: (n.time, n.pitch))
            for note, item in zip(notes, lyrics, strict=False):
                if item is not None:
                    track.lyrics.append(symusic.TextMeta(note.time, lyric_event(*item)))
        return score


def _tempos_on_notes(score: symusic.Score) -> symusic.Score:
    """A song's tempo changes moved onto the next note: a change on a rest would be a position without a
    note, which a song's grammar has no place for."""
    onsets = sorted({note.time for track in score.tracks for note in track.notes})
    if not onsets or all(tempo.time in onsets for tempo in score.tempos):
        return score
    moved = score.copy()
    for tempo in moved.tempos:
        tempo.time = next((t for t in onsets if t >= tempo.time), onsets[-1])
    return moved


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


def _key_token(key: Key) -> str:
    tonic, mode = key
    if mode not in MODES:
        raise CadenzaError(f"mode must be major or minor, got {mode!r}")
    return f"{KEY_PREFIX}{TONICS[tonic % 12]}_{mode}"
