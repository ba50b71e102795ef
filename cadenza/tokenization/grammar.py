"""Which token may follow which: the REMI grammar of a cadenza sequence, as a small state machine.

A sequence reads `BOS Style [Key] [Continue] Bar TimeSig [Position [Tempo] (Program Pitch Duration)*]* ...
EOS` (`Key` in tokenizers that have key tokens; `Continue` marks a chunk cut from the middle of a piece):

    BOS -> Style -> Key | Continue | Bar   Key -> Continue | Bar   Continue -> Bar
    Bar -> TimeSig -> Position | Bar | EOS
    Position -> Tempo | Program          Program -> Pitch -> Duration
    Tempo, Duration -> Program | Position (later in the bar) | Bar | EOS

Tempo may also close a position without a note because miditok writes a tempo change that falls on a
rest that way (`Position_24 Tempo_141.61 Bar`). A Position must be later than the previous one in its bar
and below the bar's length, numerator * 8 (8 positions per beat of the denominator note). Drum programs,
PAD, BOS, Style and other added tokens never appear inside a piece. At one position the notes of a program
come in one run (miditok writes each track's notes of a time step together), so a program whose run has
ended cannot come back before the next Position.

Songs (`song=True`, a tokenizer with lyric tokens): every note follows one lyric item, a syllable's bytes
closed by `Syllable_Hyphen` or `Syllable_WordEnd`, or `Syllable_Melisma`; one note per position:

    TimeSig, Duration -> Char | Melisma | Bar | EOS     Char -> Char | Hyphen | WordEnd
    Hyphen, WordEnd, Melisma -> Position (later in the bar)     Tempo -> Program

One meter per piece (`one_meter`, always in a song): the asked one, else the first full bar's (a first
bar shorter than the second is a pickup). Left free, the small model changed meter every few bars, which
real pieces almost never do; the grammar that checks real pieces leaves the meter free.

Bar infilling (`infill`, MMM's layout): `Infill_Bar` stands where a bar was taken out, at a bar line,
and `Infill_Fill` after the bars that follow opens the bars taken out:

    Key, Continue, TimeSig, Tempo, Duration -> Hole     Hole -> Hole | Bar | Fill
    TimeSig, Tempo, Duration -> Fill (after a hole, once)     Fill -> Bar

Three optional limits narrow the grammar for generation (see `cadenza.data.profiles`): `programs`, the
instruments a piece may use, `max_chord`, how many notes one program may start at one position (1 = every
voice is a single line), and `longest`, the longest note in quarter notes (v2 held a fiddle tune's note
for 24 beats; the style's own notes stay under 2).

`allowed` returns the mask of one state, cached: a piece visits few distinct states, so after the first
bars a decoding step costs a dictionary lookup (the logits processor in `cadenza.inference.constraints`
stacks one mask per batch row).

With a BPE tokenizer a merged token is legal where the base tokens it stands for are, one after the
other, and leads to the state after the last of them. The mask of a state walks a trie of the merged
tokens' parts, so shared prefixes are checked once and a branch ends at its first illegal part.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple

import torch

from cadenza.errors import CadenzaError
from cadenza.tokenization.lyrics import CHAR_PREFIX, MELISMA_TOKEN, SYLLABLE_ENDS
from cadenza.tokenization.tokenizer import KEY_PREFIX, STYLE_PREFIX, CadenzaTokenizer

# Masks kept per grammar (a composer keeps its grammars between pieces); a 16-bar piece visits a few
# hundred states, and 16,384 masks of a 4,000-token vocabulary take 64 MB.
MASK_CACHE_SIZE = 16_384
STEP_CACHE_SIZE = 65_536  # (state, token) transitions kept, `_step`


class Kind(IntEnum):
    """What the last token was; decides which token kinds may come next."""

    START = 0
    BOS = 1
    STYLE = 2
    CONTINUE = 3
    BAR = 4
    TIMESIG = 5
    POSITION = 6
    TEMPO = 7
    PROGRAM = 8
    PITCH = 9
    DURATION = 10
    END = 11
    KEY = 12
    CHAR = 13  # a byte of a syllable
    SYLLABLE = 14  # a lyric item's end: Hyphen, WordEnd, SongEnd, or Melisma (a note without a new syllable)
    HOLE = 15  # a bar left out, to be filled after the fill marker
    FILL = 16  # the fill marker: the bars left out follow


@dataclass(slots=True)
class _Node:
    """A node of the merged tokens' trie: the next base tokens, and the merged tokens that end here."""

    next: dict[int, _Node] = field(default_factory=dict)
    ends: list[int] = field(default_factory=list)


class GrammarState(NamedTuple):
    kind: Kind
    position: int = -1  # last Position in the current bar, -1 before the first
    bar_length: int = 0  # positions in the current bar (numerator * 8)
    program: int = -1  # id of the Program token whose run is open at this position, -1 for none
    closed: frozenset[int] = frozenset()  # Program ids whose run at this position has ended
    notes: int = 0  # notes in the open run
    meter: int = -1  # the latest TimeSig id (the held meter, with `one_meter`), -1 before it
    bars: int = 0  # Bar tokens so far, counted up to 3 (the first bar may be a pickup; see `one_meter`)
    holes: int = 0  # bars left out for infilling
    filling: bool = False  # after the fill marker


class RemiGrammar:
    """The grammar over a tokenizer's vocabulary, padded to `vocab_size` (a model's, which may be larger)."""

    def __init__(
        self,
        tokenizer: CadenzaTokenizer,
        vocab_size: int | None = None,
        time_signature: str | None = None,
        programs: Iterable[int] | None = None,
        max_chord: int | None = None,
        song: bool = False,
        one_meter: bool = False,
        infill: bool = False,
        longest: float | None = None,
    ) -> None:
        self._limits = (
            tokenizer, vocab_size, time_signature, programs, max_chord, song, one_meter, infill, longest,
        )  # fmt: skip
        self._free: RemiGrammar | None = None
        self.tokenizer = tokenizer
        if infill and not tokenizer.has_infill:
            raise CadenzaError(
                "this tokenizer has no infilling tokens: bar infilling needs a model from v3 on"
            )
        self.one_meter = one_meter or song
        self.infill = infill
        if song and not tokenizer.has_lyrics:
            raise CadenzaError("this tokenizer has no lyric tokens: songs need a lyrics adapter's")
        self.song = song
        self._lyric_starts: list[int] = []
        self._eos_id = tokenizer.eos_id
        if programs is not None:
            programs = _known_programs(tokenizer, programs)
        if max_chord is not None and max_chord < 1:
            raise CadenzaError(f"max_chord must be at least 1 note, got {max_chord}")
        self.max_chord = max_chord
        self.longest = longest
        self._too_long_by_meter: dict[int, list[int]] = {}
        self.vocab_size = max(vocab_size or 0, len(tokenizer))
        self.kind_of = self._classify(tokenizer, programs, song, infill)
        follows = self._follows_table(tokenizer, time_signature, song, infill)
        self.kind_masks = torch.zeros(len(Kind), self.vocab_size, dtype=torch.bool)
        for kind, ids in follows.items():
            self.kind_masks[kind, sorted(ids)] = True
        position_after = (Kind.SYLLABLE,) if song else (Kind.TIMESIG, Kind.TEMPO, Kind.DURATION)
        self.takes_position = torch.tensor([k in position_after for k in Kind])
        # Value of each Position id, -1 elsewhere: positions for a batch are one comparison away.
        self.position_values = torch.full((self.vocab_size,), -1, dtype=torch.long)
        for i, p in self.position_of.items():
            self.position_values[i] = p
        self._follows = follows
        self._masks: dict[GrammarState, torch.Tensor] = {}
        self._steps: dict[tuple[GrammarState, int], GrammarState | None] = {}  # see `_step`
        # Merged tokens (BPE) in a trie of their base tokens: a state's mask advances through shared
        # prefixes once and drops a whole branch at its first illegal part.
        self._parts = {i: tokenizer.parts(i) for i in tokenizer.merged_ids}
        self._trie: dict[int, _Node] = {}
        for i, parts in self._parts.items():
            if parts:
                node = self._trie.setdefault(parts[0], _Node())
                for part in parts[1:]:
                    node = node.next.setdefault(part, _Node())
                node.ends.append(i)

    def _classify(
        self, tokenizer: CadenzaTokenizer, programs: set[int] | None, song: bool, infill: bool
    ) -> dict[int, Kind]:
        """Each id's `Kind` under these limits (a program outside `programs` has none, so it is never
        legal), and the values the rules read: positions, bar lengths, meters' beats, durations in beats."""
        base_size = tokenizer.base_size
        kind_of: dict[int, Kind] = {}
        self.position_of: dict[int, int] = {}
        self.bar_length_of: dict[int, int] = {}
        self.quarters_of: dict[int, float] = {}  # a TimeSig's bar length in quarter notes
        self.beat_of: dict[int, float] = {}  # a TimeSig's beat (its denominator's note) in quarter notes
        self.beats_of: dict[int, float] = {}  # a Duration's length in beats of the bar's meter
        for token, i in tokenizer.vocab.items():
            prefix, value = tokenizer.kind(i), tokenizer.value(i)
            if token.startswith(STYLE_PREFIX) and i >= base_size:
                kind_of[i] = Kind.STYLE
            elif token.startswith(KEY_PREFIX) and i >= base_size:
                kind_of[i] = Kind.KEY
            elif song and token.startswith(CHAR_PREFIX):
                kind_of[i] = Kind.CHAR
            elif song and token in (*SYLLABLE_ENDS, MELISMA_TOKEN):
                kind_of[i] = Kind.SYLLABLE
            elif i >= base_size:
                continue
            elif prefix == "Position":
                kind_of[i] = Kind.POSITION
                self.position_of[i] = int(value)
            elif prefix == "TimeSig":
                kind_of[i] = Kind.TIMESIG
                numerator, denominator = (int(part) for part in value.split("/"))
                self.bar_length_of[i] = numerator * tokenizer.remi.config.max_num_pos_per_beat
                self.quarters_of[i] = numerator * 4 / denominator
                self.beat_of[i] = 4 / denominator
            elif prefix == "Program" and int(value) >= 0 and (programs is None or int(value) in programs):
                kind_of[i] = Kind.PROGRAM
            else:
                simple = {
                    "Bar": Kind.BAR,
                    "Tempo": Kind.TEMPO,
                    "Pitch": Kind.PITCH,
                    "Duration": Kind.DURATION,
                }
                if prefix in simple:
                    kind_of[i] = simple[prefix]
                if prefix == "Duration":  # beats.positions.resolution
                    whole, part, resolution = (int(v) for v in value.split("."))
                    self.beats_of[i] = whole + part / resolution
        kind_of[tokenizer.bos_id] = Kind.BOS
        if infill:
            kind_of[tokenizer.hole_id], kind_of[tokenizer.fill_id] = Kind.HOLE, Kind.FILL
        if tokenizer.continue_id is not None:
            kind_of[tokenizer.continue_id] = Kind.CONTINUE
        return kind_of

    def _follows_table(
        self, tokenizer: CadenzaTokenizer, time_signature: str | None, song: bool, infill: bool
    ) -> dict[Kind, set[int]]:
        """The tokens that may follow each kind, positions excepted (they depend on the bar: `allowed`)."""
        kind_of = self.kind_of
        timesig_ids = set(self.bar_length_of)
        if time_signature is not None:
            token = f"TimeSig_{time_signature}"
            if token not in tokenizer.vocab:
                supported = ", ".join(tokenizer.value(i) for i in sorted(tokenizer.ids_of("TimeSig")))
                raise CadenzaError(f"unsupported time signature {time_signature!r}; supported: {supported}")
            timesig_ids = {tokenizer.vocab[token]}

        def ids_of(*kinds: Kind) -> set[int]:
            return {i for i, k in kind_of.items() if k in kinds}

        eos = {tokenizer.eos_id}
        follows: dict[Kind, set[int]] = {
            Kind.START: {tokenizer.bos_id},
            Kind.BOS: ids_of(Kind.STYLE),
            # With key tokens a style is always followed by its key.
            Kind.STYLE: ids_of(Kind.KEY)
            if tokenizer.has_keys
            else ids_of(Kind.CONTINUE) | {tokenizer.bar_id},
            Kind.KEY: ids_of(Kind.CONTINUE) | {tokenizer.bar_id},
            Kind.CONTINUE: {tokenizer.bar_id},
            Kind.BAR: timesig_ids,
            Kind.TIMESIG: {tokenizer.bar_id, tokenizer.eos_id},  # a piece may end on an empty bar
            Kind.POSITION: ids_of(Kind.TEMPO, Kind.PROGRAM),
            Kind.TEMPO: ids_of(Kind.PROGRAM, Kind.BAR) | eos,
            Kind.PROGRAM: ids_of(Kind.PITCH),
            Kind.PITCH: ids_of(Kind.DURATION),
            Kind.DURATION: ids_of(Kind.PROGRAM, Kind.BAR) | eos,
            # A finished row keeps being fed PAD by `generate`; EOS stays legal so the mask is never empty.
            Kind.END: {tokenizer.pad_id, tokenizer.eos_id},
        }
        if infill:  # MMM's layout: holes at bar lines, the bars after them, the marker, the filled bars
            hole, fill = {tokenizer.hole_id}, {tokenizer.fill_id}
            for kind in (Kind.KEY, Kind.CONTINUE):
                follows[kind] = follows[kind] | hole
            for kind in (Kind.TIMESIG, Kind.TEMPO, Kind.DURATION):
                follows[kind] = follows[kind] | hole | fill
            follows[Kind.HOLE] = hole | fill | {tokenizer.bar_id}
            follows[Kind.FILL] = {tokenizer.bar_id}
        if song:  # a lyric item before every note, one note per position
            chars = ids_of(Kind.CHAR)
            starts = chars | {tokenizer.vocab[MELISMA_TOKEN]}
            self._lyric_starts = sorted(starts)
            ends = {tokenizer.vocab[t] for t in SYLLABLE_ENDS if t in tokenizer.vocab}
            follows |= {
                Kind.TIMESIG: starts | {tokenizer.bar_id} | eos,
                Kind.DURATION: starts | {tokenizer.bar_id} | eos,
                Kind.TEMPO: ids_of(Kind.PROGRAM),
                Kind.CHAR: chars | ends,
                Kind.SYLLABLE: set(),
            }
        return follows

    def start_state(self) -> GrammarState:
        return GrammarState(Kind.START)

    def is_legal(self, state: GrammarState, token_id: int) -> bool:
        if token_id in self._parts:
            return self._walk(state, token_id) is not None
        if self._bar_is_full(state) and token_id in self._lyric_starts:
            return False
        if state.kind == Kind.BAR and token_id in self.bar_length_of:
            meters = self._meters(state)
            if meters is not None and token_id not in meters:
                return False
        if self.infill and not self._infill_legal(state, token_id):
            return False
        if state.kind == Kind.PITCH and token_id in self._too_long(state):
            return False
        if token_id in self._follows[state.kind]:
            return token_id not in self.banned_programs(state)
        return (
            self.takes_position[state.kind].item()
            and state.position < self.position_of.get(token_id, -1) < state.bar_length
        )

    def _meters(self, state: GrammarState) -> set[int] | None:
        """With `one_meter`, the time signatures the bar after `state` may take (None: any). One meter per
        piece, the first full bar's: the second bar may still differ from the first when it is longer (the
        first was a pickup), after that every bar keeps the meter. A song and a generated piece hold it;
        real pieces (5 of 370 chorales) may change meter, so the grammar that checks them does not."""
        if not self.one_meter or state.meter < 0 or state.bars < 2:
            return None
        if state.bars == 2:
            longer = self.quarters_of[state.meter]
            return {state.meter} | {i for i, q in self.quarters_of.items() if q > longer}
        return {state.meter}

    def _too_long(self, state: GrammarState) -> list[int]:
        """With `longest` (quarter notes), the Duration ids longer than it in the meter of `state`
        (durations count beats of the meter's denominator: `Duration_4.0.4` is a half note in 6/8)."""
        if self.longest is None:
            return []
        meter = state.meter
        if meter not in self._too_long_by_meter:
            beat = self.beat_of.get(meter, 1.0)
            self._too_long_by_meter[meter] = [i for i, b in self.beats_of.items() if b * beat > self.longest]
        return self._too_long_by_meter[meter]

    def _infill_legal(self, state: GrammarState, token_id: int) -> bool:
        """Holes come before the fill marker, the marker once and after a hole; then only the bars."""
        if token_id == self.tokenizer.hole_id:
            return not state.filling
        if token_id == self.tokenizer.fill_id:
            return not state.filling and state.holes > 0
        return True

    @property
    def free(self) -> RemiGrammar:
        """This grammar without the one-meter rule and the longest note: a prompt (a user's file, a window
        of a piece) is read as written, meter changes, long notes and all; the meter the model then holds is
        the prompt's last."""
        if (not self.one_meter and self.longest is None) or self.song:
            return self
        if self._free is None:
            tokenizer, vocab_size, time_signature, programs, max_chord, song, _, infill, _ = self._limits
            self._free = RemiGrammar(
                tokenizer, vocab_size, time_signature, programs, max_chord, song, False, infill, None
            )
        return self._free

    def _bar_is_full(self, state: GrammarState) -> bool:
        """A song's note sits on the bar's last position: a lyric item there would have no later position
        for its note, so the next one goes after the bar line."""
        return (
            self.song
            and state.kind in (Kind.TIMESIG, Kind.DURATION)
            and state.position >= state.bar_length - 1
        )

    def banned_programs(self, state: GrammarState) -> frozenset[int]:
        """Program ids that the kind mask allows but this position does not: ended runs, and the open run
        once it holds `max_chord` notes."""
        if state.kind != Kind.DURATION:
            return state.closed
        if self.max_chord is not None and state.notes >= self.max_chord:
            return state.closed | {state.program}
        return state.closed

    def allowed(self, state: GrammarState) -> torch.Tensor:
        """Bool mask over the vocabulary of the tokens that may come next (cached: do not modify it)."""
        mask = self._masks.get(state)
        if mask is None:
            mask = self.kind_masks[state.kind].clone()
            if self.takes_position[state.kind]:
                values = self.position_values
                mask |= (values > state.position) & (values < state.bar_length)
            mask[list(self.banned_programs(state))] = False
            if self._bar_is_full(state):
                mask[self._lyric_starts] = False
            meters = self._meters(state) if state.kind == Kind.BAR else None
            if meters is not None:
                mask[[i for i in self.bar_length_of if i not in meters]] = False
            if state.kind == Kind.PITCH:
                mask[self._too_long(state)] = False
            if self.infill and state.filling:
                mask[[self.tokenizer.hole_id, self.tokenizer.fill_id]] = False
            if self.infill and state.holes == 0:
                mask[self.tokenizer.fill_id] = False
            if self._trie:
                merged: list[int] = []
                for first in mask.nonzero().flatten().tolist():
                    if first in self._trie:
                        self._collect(self._step(state, first), self._trie[first], merged)
                mask[merged] = True
            if len(self._masks) >= MASK_CACHE_SIZE:
                self._masks.clear()
            self._masks[state] = mask
        return mask

    def advance(self, state: GrammarState, token_id: int) -> GrammarState:
        """The state after `token_id`; an illegal token is skipped (the state stays), as decoders drop it."""
        after = self.next_state(state, token_id)
        return state if after is None else after

    def next_state(self, state: GrammarState, token_id: int) -> GrammarState | None:
        """The state after `token_id` (one base or merged token); None where it is illegal. A legal token
        may leave an equal state (a letter of a syllable, a bar after three): ask this, not whether
        `advance` returned another object, to know if a token was taken."""
        return self._walk(state, token_id) if token_id in self._parts else self._step(state, token_id)

    def _step(self, state: GrammarState, token_id: int) -> GrammarState | None:
        """The state after one base token; None where it is illegal. Kept: a mask's walk through the
        merged tokens takes the same few transitions again and again (a 16-bar piece's first masks took
        145,000 steps through 10,500 distinct ones)."""
        key = (state, token_id)
        if key not in self._steps:
            if len(self._steps) >= STEP_CACHE_SIZE:
                self._steps.clear()
            self._steps[key] = self._transition(state, token_id)
        return self._steps[key]

    def _transition(self, state: GrammarState, token_id: int) -> GrammarState | None:
        if state.kind == Kind.END or not self.is_legal(state, token_id):
            return None
        kind = Kind.END if token_id == self._eos_id else self.kind_of[token_id]
        piece = {"bars": state.bars, "holes": state.holes, "filling": state.filling}
        if kind == Kind.TIMESIG:
            return GrammarState(kind, -1, self.bar_length_of[token_id], meter=token_id, **piece)
        if kind == Kind.BAR:
            piece["bars"] = min(state.bars + 1, 3)
            return GrammarState(kind, -1, 0, meter=state.meter, **piece)
        if kind == Kind.POSITION:
            return GrammarState(
                kind, self.position_of[token_id], state.bar_length, meter=state.meter, **piece
            )
        if kind == Kind.CONTINUE:  # mid-piece: the next bar is a full one, whose meter is held
            return state._replace(kind=kind, bars=2)
        if kind == Kind.HOLE:
            return state._replace(kind=kind, holes=state.holes + 1)
        if kind == Kind.FILL:
            return state._replace(kind=kind, filling=True)
        if kind == Kind.PROGRAM and token_id != state.program:
            closed = state.closed | {state.program} if state.program >= 0 else state.closed
            return state._replace(kind=kind, program=token_id, closed=closed, notes=0)
        if kind == Kind.PITCH:
            return state._replace(kind=kind, notes=state.notes + 1)
        return state._replace(kind=kind)

    def _walk(self, state: GrammarState, token_id: int) -> GrammarState | None:
        """The state after each base token of a merged one in turn; None if one of them is illegal."""
        parts = self._parts[token_id]
        for part in parts:
            state = self._step(state, part)
            if state is None:
                return None
        return state if parts else None

    def _collect(self, state: GrammarState, node: _Node, out: list[int]) -> None:
        """The merged tokens of `node`'s subtree that are legal from `state` (which follows its parts)."""
        out.extend(node.ends)
        for part, child in node.next.items():
            after = self._step(state, part)
            if after is not None:
                self._collect(after, child, out)

    def counts(self, token_id: int) -> tuple[int, int]:
        """(Bar tokens, Pitch tokens) a token stands for: one base token's, or a merged token's parts'."""
        parts = self._parts.get(token_id, (token_id,))
        kinds = [self.kind_of.get(p) for p in parts]
        return kinds.count(Kind.BAR), kinds.count(Kind.PITCH)

    def errors(self, ids: list[int], state: GrammarState | None = None) -> int:
        """How many tokens break the grammar (each one is skipped); stops at the first EOS."""
        state = self.start_state() if state is None else state
        count = 0
        for token_id in ids:
            token_id = int(token_id)
            if not self.is_legal(state, token_id):
                count += 1
                continue
            state = self.advance(state, token_id)
            if state.kind == Kind.END:
                break
        return count


def _known_programs(tokenizer: CadenzaTokenizer, programs: Iterable[int]) -> set[int]:
    wanted = {int(p) for p in programs}
    known = {int(tokenizer.value(i)) for i in tokenizer.ids_of("Program")}
    unknown = sorted(wanted - {p for p in known if p >= 0})
    if unknown or not wanted:
        raise CadenzaError(
            f"programs must be General MIDI programs 0-127 that the tokenizer knows, got {sorted(wanted)}"
        )
    return wanted
