"""Songs: lyrics set to a melody, and lyrics-plus-melody pairs, by the base model with a lyrics adapter.

A lyrics adapter (`cadenza finetune --corpus build/corpus/songs --lyrics true`, shipped as
`adapters/songs`) teaches the base the lyric tokens (see `tokenization.tokenizer`): a texted melody writes
each note after its syllable. `Singer` holds a `Composer` over the base with that adapter, decoding under the
song grammar (`RemiGrammar(song=True)`: one lyric item before every note, one note at a time):

- `sing(lyrics, style)`: the user's text, syllabified (`data.syllables`), forced in order: where a lyric
  item may start the next syllable's bytes are the only choice (or a melisma, when allowed, or a bar line
  for a rest), so every syllable gets exactly one note onset, in order, and the piece ends after the last
  syllable's note. The model chooses when and what each note is, knowing its syllable.
- `song(style)`: lyrics and melody sampled together, under the same grammar.

A song is one melody in the model's 512-token context: about 8 tokens a syllable, so at most
`MAX_SYLLABLES` syllables a song (a chorale's verse is 40-50); a longer text is set verse by verse.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import symusic
import torch
from transformers import StoppingCriteriaList

from cadenza.checkpoint import check_adapter_base, load_checkpoint, peft_quietly, read_adapter
from cadenza.data.profiles import load_profiles
from cadenza.data.syllables import Syllable, syllabify
from cadenza.data.voices import Voice
from cadenza.errors import CadenzaError, InputFileError
from cadenza.inference.cadence import CADENCE_FILE, CadenceGuidance, CadenceModel
from cadenza.inference.composer import Composer
from cadenza.inference.constraints import BarStoppingCriteria, GrammarLogitsProcessor, PromptHealing
from cadenza.inference.generator import Piece
from cadenza.inference.prompts import control_prompt
from cadenza.inference.render import (
    check_formats,
    one_line,
    output_folder,
    piece_stem,
    render_piece,
    track_voices,
)
from cadenza.inference.request import Request, as_request
from cadenza.inference.rhythm import RHYTHM_FILE, RhythmModel, remi_rhythm
from cadenza.keys import Key, key_name, parse_key
from cadenza.paths import SONGS_ADAPTER, resolve
from cadenza.tokenization.grammar import RemiGrammar
from cadenza.tokenization.lyrics import lyrics_of, syllable_ids
from cadenza.tokenization.tokenizer import CadenzaTokenizer

MAX_SYLLABLES = 60
DEFAULT_METER = "4/4"  # a template's meter when none is asked: most of the songs (272 of 300 sampled)
SONG_VOICE = Voice(slot=0, name="Voice")
# Choral ranges (MIDI pitches): a song asked for a voice is moved by whole octaves into its range. The
# songs the adapter learned from are sopranos, altos, tenors and basses alike, and nothing in the prompt
# says which, so the model picks a register at random; an octave changes no interval or rhythm.
VOICE_RANGES = {"soprano": (60, 81), "alto": (53, 74), "tenor": (48, 69), "bass": (40, 64)}


def octave_shift(pitches: list[int], voice: str) -> int:
    """The whole-octave shift that puts the most of `pitches` inside `voice`'s range (ties: the one that
    puts the middle of the melody nearest the middle of the range)."""
    if voice not in VOICE_RANGES:
        raise CadenzaError(f"unknown voice {voice!r}; choose one of {', '.join(VOICE_RANGES)}")
    low, high = VOICE_RANGES[voice]
    if not pitches:
        return 0
    middle = (min(pitches) + max(pitches)) / 2

    def misfit(shift: int) -> tuple[int, float]:
        outside = sum(not low <= p + shift <= high for p in pitches)
        return outside, abs(middle + shift - (low + high) / 2)

    playable = [k for k in range(-36, 37, 12) if 0 <= min(pitches) + k and max(pitches) + k <= 127]
    return min(playable or [0], key=misfit)


class Singer:
    """Songs by a `Composer` over the base with a lyrics adapter (or over another model: the n-gram
    baseline's singer is a `Singer` of an `NGramComposer`)."""

    def __init__(
        self,
        composer: Composer,
        rhythm: RhythmModel | None = None,
        cadence: CadenceModel | None = None,
        cadences: bool = True,
    ) -> None:
        self.composer = composer
        # Both models are loaded from the adapter's folder on first use where not given.
        self._rhythm, self._cadence = rhythm, cadence
        self.cadences = cadences  # heed where real phrases end (`cadence_model`)

    @property
    def tokenizer(self) -> CadenzaTokenizer:
        return self.composer.tokenizer

    @classmethod
    def from_adapter(
        cls, folder: str | Path, base: str | Path | None = None, cadences: bool = True
    ) -> Singer:
        """The base checkpoint (`base`, else the one the adapter was trained on) with the lyrics adapter
        in `folder`; the base's embeddings grow to the adapter's rows first."""
        from peft import PeftModel

        info = read_adapter(folder)
        if not info.lyrics:
            raise InputFileError(folder, "not a lyrics adapter (it teaches a style: load it with a Composer)")
        base = Path(base) if base else resolve(info.base)
        check_adapter_base(folder, info, base)
        model, _ = load_checkpoint(base)
        if info.vocab_size > model.config.vocab_size:
            model.resize_token_embeddings(info.vocab_size, mean_resizing=False)
        model.config.use_cache = True
        with peft_quietly():
            model = PeftModel.from_pretrained(model, str(folder)).eval()
        composer = Composer(model, CadenzaTokenizer.load(folder), load_profiles(base))
        # The adapter is on while it sings (a Composer over a PeftModel without one decodes the base alone).
        composer.path, composer.adapter = Path(folder), model.active_adapter
        return cls(composer, cadences=cadences)

    @property
    def path(self) -> Path | None:
        return self.composer.path

    @property
    def rhythm_model(self) -> RhythmModel | None:
        """The lyrics -> rhythm model beside the adapter (`cadenza rhythm`), None where there is none."""
        if self._rhythm is None and self.path is not None and (self.path / RHYTHM_FILE).is_file():
            self._rhythm = RhythmModel.load(self.path / RHYTHM_FILE)
        return self._rhythm

    @property
    def cadence_model(self) -> CadenceModel | None:
        """Where real phrases end (`cadenza cadence`), beside the adapter; None where there is none (or
        the singer was made with `cadences` False)."""
        saved = self.path / CADENCE_FILE if self.path is not None else None
        if self._cadence is None and saved is not None and saved.is_file():
            self._cadence = CadenceModel.load(saved)
        return self._cadence if self.cadences else None

    @property
    def styles(self) -> list[str]:
        """The base's styles: a lyrics adapter sings in them."""
        return self.tokenizer.styles

    def sing(
        self,
        lyrics: str,
        request: Request | str,
        language: str = "en",
        melisma: bool = False,
        voice: str | None = None,
        rhythm: bool = True,
        **settings,
    ) -> tuple[Piece, list[Syllable], str]:
        """A melody for `lyrics` as `request` asks (its style, key, meter, tempo, sampling, seed; as a
        `Request` or as `sing(lyrics, "bach", seed=1)`): (the piece, the syllables it sings, the
        syllabifier's note to the user, "" when it has none). `melisma` lets a syllable last several
        notes; `voice` (soprano, alto, tenor, bass) places it in that voice's range, else it stays where
        the model put it. Without melismas, the rhythm model lays out the syllables first unless `rhythm`
        is False (see `sing_syllables`)."""
        split = syllabify(lyrics, language, MAX_SYLLABLES)
        request = as_request(request, settings)
        piece = self.sing_syllables(split.syllables, request, melisma, voice, language, rhythm)
        return piece, split.syllables, split.note

    def sing_syllables(
        self,
        syllables: list[Syllable],
        request: Request,
        melisma: bool = False,
        voice: str | None = None,
        language: str = "en",
        rhythm: bool = True,
    ) -> Piece:
        """A melody for syllables already split (a held-out song's, in the benchmark). One note a syllable
        (no `melisma`) in a style the rhythm model knows: TeleMelody's split, the rhythm model's template
        (each syllable's onset and length, from its stress, word and line ends in `language`) forced, the
        pitches the adapter's; else (or with `rhythm` False) the adapter writes rhythm and pitch together."""
        if not 0 < len(syllables) <= MAX_SYLLABLES:
            raise CadenzaError(f"a song sets 1 to {MAX_SYLLABLES} syllables, got {len(syllables)}")
        last = len(syllables) - 1
        forced = [
            syllable_ids(self.tokenizer, s.text, s.word_end, i == last) for i, s in enumerate(syllables)
        ]
        template, model = None, self.rhythm_model if rhythm and not melisma else None
        if model is not None and request.style in model.styles:
            request = request.sampled(self.composer.sampling)
            meter = request.time_signature or DEFAULT_METER
            numerator, denominator = (int(part) for part in meter.split("/"))
            notes = model.template(
                syllables,
                language,
                request.style,
                (numerator, denominator),
                request.temperature,
                request.seed,
            )
            positions = self.tokenizer.remi.config.max_num_pos_per_beat
            template = remi_rhythm(notes, (numerator, denominator), positions)
            request = replace(request, time_signature=meter)
        piece = self._song(request, forced, melisma, voice, template)
        sung = [item for item in lyrics_of(self.tokenizer, piece.tokens) if item is not None]
        if len(sung) != len(syllables):  # the context ran out before the last syllable
            raise CadenzaError(
                f"the melody ran out of room after {len(sung)} of {len(syllables)} syllables; "
                "set the text in shorter parts"
            )
        return piece

    def song(self, request: Request | str, voice: str | None = None, **settings) -> Piece:
        """Lyrics and melody sampled together as `request` asks."""
        return self._song(as_request(request, settings), None, True, voice)

    def _song(
        self,
        request: Request,
        forced: list[list[int]] | None,
        melisma: bool,
        voice: str | None,
        rhythm: list[tuple[int, int, float]] | None = None,
    ) -> Piece:
        if voice is not None:
            octave_shift([], voice)  # an unknown voice fails before the model runs
        composer, tok = self.composer, self.tokenizer
        tok.style_id(request.style)
        request = request.sampled(composer.sampling)
        torch.manual_seed(request.seed)
        piece_key: Key = (
            self._asked_key(request.key)
            if request.key is not None
            else composer.choose_key(request.style, request.temperature)
        )
        prefix = tok.prefix(request.style, piece_key)
        # A song's tempo is set on the score, not by a token: a tempo token needs a position, and a song's
        # positions come after a syllable. Its first bar line is the model's (the merged `Bar TimeSig` it
        # learned), or the asked meter's, which the model spells (`PromptHealing`).
        time_signature = request.time_signature
        prompt = control_prompt(tok, None, time_signature) if time_signature else []
        grammar = self._song_grammar(time_signature)
        merged = tok.merge(prefix)
        processors = [PromptHealing(tok, [prompt])] if prompt else []
        processors += [GrammarLogitsProcessor(grammar, lyrics=forced, melisma=melisma, rhythm=rhythm)]
        if self.cadence_model is not None:
            total = len(forced) if forced is not None else None
            processors.append(CadenceGuidance(tok, self.cadence_model, piece_key, total))
        stop = StoppingCriteriaList([BarStoppingCriteria([], tok.eos_id, 0)])
        ids = torch.tensor([merged], device=composer.device)
        out = composer.draw(ids, processors, request.sampling, stop, composer.context - len(merged))
        music = tok.unmerge(out[0, len(merged) :].tolist())
        if tok.eos_id in music:
            music = music[: music.index(tok.eos_id)]
        else:  # the context ran out: the song ends with its last whole note
            ends = [i for i, t in enumerate(music) if tok.kind(t) == "Duration"]
            if not ends:
                raise CadenzaError(
                    "the model wrote no whole note before its context ran out; try another seed"
                )
            music = music[: ends[-1] + 1]
        tokens = [*prefix, *music, tok.eos_id]  # the music opens with the prompt, spelled
        score = one_line(tok.decode(tokens))  # one voice sings one note at a time
        if request.tempo is not None:
            score.tempos = [symusic.Tempo(0, qpm=float(request.tempo))]
        singer = SONG_VOICE
        if voice is not None:  # the tokens keep the model's register; the score is the one sung
            score = score.shift_pitch(octave_shift([n.pitch for t in score.tracks for n in t.notes], voice))
            singer = Voice(slot=SONG_VOICE.slot, name=voice.capitalize())
        bars = tokens.count(tok.bar_id)
        return Piece(
            score, tokens, request.style, request.seed, bars, track_voices(score, [singer]), request.style,
            key=key_name(piece_key),
        )  # fmt: skip

    def _asked_key(self, key: str) -> Key:
        tonic, mode = parse_key(key)
        return tonic, mode or "major"

    def _song_grammar(self, time_signature: str | None) -> RemiGrammar:
        # One voice: the songs the adapter learned from sing on program 0 (`streams.song_scores`).
        return self.composer.grammar(time_signature, (SONG_VOICE.slot,), None, song=True)


@dataclass
class SongArgs:
    lyrics: str | None = field(
        default=None, metadata={"help": 'the text to set, e.g. "Ky-ri-e e-lei-son" (hyphens are kept)'}
    )
    lyrics_file: str | None = field(default=None, metadata={"help": "read the text from this file instead"})
    language: str = field(default="en", metadata={"help": "the text's language (en, de, it, la, fr, ...)"})
    style: str = field(default="bach", metadata={"help": "the base's style to sing in"})
    joint: bool = field(default=False, metadata={"help": "write lyrics and melody together (no --lyrics)"})
    adapter: str = field(default=SONGS_ADAPTER, metadata={"help": "the lyrics adapter"})
    melisma: bool = field(default=False, metadata={"help": "let a syllable last several notes"})
    rhythm: bool = field(
        default=True,
        metadata={
            "help": "lay out the syllables with the rhythm model first (false: the adapter's own rhythm)"
        },
    )
    cadences: bool = field(
        default=True,
        metadata={"help": "end lines and the song where real phrases end (`cadenza cadence`); false: not"},
    )
    voice: str | None = field(
        default=None, metadata={"help": "soprano, alto, tenor or bass: sing in its range (default: any)"}
    )
    key: str | None = field(default=None, metadata={"help": "e.g. D, Bb minor; default: the model's choice"})
    tempo: float | None = field(default=None, metadata={"help": "beats per minute"})
    time_signature: str | None = field(default=None, metadata={"help": "e.g. 3/4, kept at every bar"})
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    seed: int | None = field(default=None, metadata={"help": "random seed (drawn and printed when unset)"})
    out: str = field(default="out", metadata={"help": "output folder"})
    formats: str = field(
        default="mid,musicxml,wav,png", metadata={"help": "comma-separated: mid,musicxml,wav,png"}
    )


def run_song(args: SongArgs) -> None:
    formats = check_formats(f.strip() for f in args.formats.split(",") if f.strip())
    output_folder(args.out)
    text = Path(args.lyrics_file).read_text() if args.lyrics_file else args.lyrics
    if args.joint == (text is not None):
        raise CadenzaError("cadenza song needs --lyrics TEXT (or --lyrics_file FILE), or --joint true")
    singer = Singer.from_adapter(args.adapter, cadences=args.cadences)
    request = Request(
        args.style, key=args.key, tempo=args.tempo, time_signature=args.time_signature,
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed,
    )  # fmt: skip
    if args.joint:
        piece = singer.song(request, voice=args.voice)
    else:
        piece, syllables, note = singer.sing(
            text, request, args.language, args.melisma, args.voice, args.rhythm
        )
        print(
            "syllables: " + " ".join(s.text + ("" if s.word_end else "-") for s in syllables), file=sys.stderr
        )
        if note:
            print(f"note: {note}", file=sys.stderr)
    print(f"key: {piece.key}, seed: {piece.seed}", file=sys.stderr)
    for path in render_piece(
        piece, args.out, f"song-{piece_stem(piece.style, piece.seed, 0)}", formats
    ).values():
        print(path)
