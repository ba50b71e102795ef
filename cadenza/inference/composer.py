"""`Composer`: load a checkpoint once, then write pieces in a style, with musical controls.

Controls map onto the token stream: tempo and time signature become a prompt (`Bar TimeSig Position_0
Tempo`) and the time signature is also enforced at every bar by the grammar; the key is the key token
after the style (the model chooses one when none is asked; a model from before key tokens reaches an asked
key by transposing the finished piece, see `prompts.transpose_to`); a continuation prompts with the last
bars of a file, in the file's key.
A piece's voices (what its tracks are called and play, `render.dress`) come from the style's profile, or
in a continuation from the prompt file, which keeps its own names and instruments.
Pieces longer than the model's context are written by sliding: the model is re-prompted with `BOS Style`
and the most recent bars that fit in half its window.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from transformers import (
    GenerationConfig,
    LogitsProcessorList,
    MaxTimeCriteria,
    PrefixConstrainedLogitsProcessor,
    PreTrainedModel,
    StoppingCriteriaList,
)

from cadenza.checkpoint import SAMPLING, check_adapter_base, load_checkpoint, peft_quietly, read_adapter
from cadenza.data.profiles import StyleProfile, load_profiles
from cadenza.data.voices import Voice
from cadenza.errors import CadenzaError, InputFileError, TimeLimitError
from cadenza.inference.constraints import BarStoppingCriteria, GrammarLogitsProcessor, PromptHealing
from cadenza.inference.generator import Piece
from cadenza.inference.onnx_step import OnnxStep
from cadenza.inference.prompts import (
    bar_start,
    bars_seen,
    continuation_prompt,
    control_prompt,
    open_bar,
    time_signatures,
    transpose_to,
    window,
)
from cadenza.inference.render import bar_starts, end_at_bar, one_line, track_voices
from cadenza.inference.request import Request, Sampling, as_request, check_range
from cadenza.inference.sampling import DECODE_THREADS, DECODERS, CompiledForward, default_decoder, sample
from cadenza.keys import Key, key_name, parse_key
from cadenza.tokenization.grammar import RemiGrammar
from cadenza.tokenization.infilling import infill_context, kept_bars
from cadenza.tokenization.tokenizer import CadenzaTokenizer, split_bars

GRAMMARS_KEPT = 16  # grammars (one per time signature, instruments, chord size) a composer keeps
# A bar of dense orchestral writing runs to a few hundred tokens; past this a stuck model is cut off.
MAX_TOKENS_PER_BAR = 1024
SHORT_PROMPT_KEY = "the prompt is too short to have a key; the model chose one for the style"


# --- the composer ---------------------------------------------------------------------------------
@dataclass
class _Opening:
    """What one request's pieces open with, worked out once for all of its rows."""

    head: list[int]  # a continuation's bars of the file before the prompt (REMI ids); [] otherwise
    prompt: list[int]  # the prompt: a fresh piece's open bar, or a continuation's last bars
    seen: list[int]  # what of the prompt fits the model's context
    target: int  # bars the rows end with, the prompt's included
    voices: list[Voice]
    sound_style: str | None = None  # None in a continuation: its voices keep the file's instruments
    key: Key | None = None  # the key token's; None for a model without key tokens
    key_note: str | None = None  # why the key is not the asked or the prompt's, when it is not
    asked_tonic: int | None = None  # a fresh piece's asked tonic, which a model without keys reaches
    prefix: list[int] = field(default_factory=list)  # `BOS Style Key` and the mid-piece marker if any


class Composer:
    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: CadenzaTokenizer,
        profiles: dict[str, StyleProfile] | None = None,
        decoder: str | None = None,
    ) -> None:
        decoder = decoder or default_decoder()
        if decoder not in DECODERS:
            raise CadenzaError(f"unknown decoder {decoder!r}: one of {', '.join(DECODERS)}")
        self.model = model.eval()
        self.decoder = decoder
        self._fast: CompiledForward | OnnxStep | None = None  # built on first use, see `_step`
        self._bind(
            tokenizer, profiles, model.config.vocab_size, model.config.n_positions, model.device,
            model.generation_config,
        )  # fmt: skip

    def _bind(
        self,
        tokenizer: CadenzaTokenizer,
        profiles: dict[str, StyleProfile] | None,
        vocab_size: int,
        context: int,
        device: torch.device,
        sampling: GenerationConfig,
    ) -> None:
        """What decoding needs besides the network; a composer over another model (the n-gram baseline)
        binds it too. `sampling` holds the default temperature, top_p and top_k."""
        self.sampling = sampling
        self.path: Path | None = None  # the checkpoint (or adapter) folder, when loaded from one
        self.adapter: str | None = None  # the adapter this composer plays, over a shared PeftModel
        self._adapters: dict[str, Composer] = {}  # style -> a composer for each adapter served
        self._grammars: dict[tuple, RemiGrammar] = {}
        self.tokenizer = tokenizer
        self.profiles = profiles or {}
        self.vocab_size = vocab_size
        self.context = context
        self.device = device

    @classmethod
    def from_pretrained(
        cls, path: str | Path, device: str | torch.device | None = None, decoder: str | None = None
    ) -> Composer:
        """Load a checkpoint; `decoder` (one of `DECODERS`, default `default_decoder()`) runs its one-token
        steps."""
        model, tokenizer = load_checkpoint(path)
        if device is not None:
            model = model.to(device)
        model.config.use_cache = True
        if not model.generation_config.do_sample:  # saved before checkpoints carried sampling defaults
            model.generation_config.update(**SAMPLING)
        composer = cls(model, tokenizer, load_profiles(path), decoder=decoder)
        composer.path = Path(path)
        return composer

    @property
    def styles(self) -> list[str]:
        """The base's styles, then those of the adapters it serves."""
        return [*self.tokenizer.styles, *self._adapters] if self.adapter is None else [self.adapter]

    @property
    def time_signatures(self) -> list[str]:
        return time_signatures(self.tokenizer)

    def generate(self, request: Request | str | None = None, **settings) -> list[Piece]:
        """The pieces a `Request` asks for: `generate(Request("bach", bars=8))`, or the same settings as
        keywords, `generate("bach", bars=8)`. An adapter's style (`load_adapter`) is written by that
        adapter's composer, over the shared model."""
        request = as_request(request, settings)
        if request.style in self._adapters:
            return self._adapters[request.style].generate(request)
        self.tokenizer.style_id(request.style)  # an unknown style fails here, before any prompt work
        request = request.sampled(self.sampling)
        grammar = self._request_grammar(request)
        torch.manual_seed(request.seed)  # the key the model chooses is the seed's too
        opening = self._opening(request)
        deadline = None if request.max_time is None else time.time() + request.max_time
        rows = self._sample(opening, request, grammar if request.constrained else None, deadline)
        return [self._finished(request, opening, grammar, row) for row in rows]

    def _request_grammar(self, request: Request) -> RemiGrammar:
        """The grammar of the request's limits, the style's profile filling those it leaves unset (not in
        a continuation, where the prompt decides)."""
        programs, max_chord, longest = request.programs, request.max_chord, None
        profile = self.profiles.get(request.style) if request.use_profile else None
        if profile is not None and request.prompt_midi is None:
            programs = tuple(profile.programs) if programs is None else programs
            max_chord = profile.max_chord if max_chord is None else max_chord
            longest = profile.longest
        return self.grammar(request.time_signature, programs, max_chord, longest=longest)

    def _opening(self, request: Request) -> _Opening:
        """What the model reads before it writes: a fresh piece's `Bar [TimeSig [Position Tempo]]`, or a
        continuation's last bars of the file; and the key the piece is written in."""
        tok = self.tokenizer
        if request.prompt_midi is None:
            prompt = control_prompt(tok, request.tempo, request.time_signature)
            # Names are not a sampling limit: they apply with use_profile=False too.
            profile = self.profiles.get(request.style)
            opening = _Opening([], prompt, prompt, request.bars, profile.voices if profile else [])
            opening.sound_style = request.style
            asked = parse_key(request.key) if request.key is not None else None
            opening.asked_tonic = asked[0] if asked is not None else None
            if tok.has_keys and asked is not None:
                opening.key = (asked[0], asked[1] or "major")  # "D" is D major
        else:
            head, prompt, voices, opening_key = continuation_prompt(
                tok, request.prompt_midi, request.prompt_bars
            )
            # Dense music (a pop song, an orchestra) can make the last bars longer than the context: the
            # model then sees the most recent music that fits, as when a long piece slides.
            seen = self._window(prompt)
            target = prompt.count(tok.bar_id) + request.bars  # the prompt's bars are complete
            opening = _Opening(head, prompt, seen, target, voices)
            opening.key = opening_key if tok.has_keys else None
            if opening_key is None:
                opening.key_note = SHORT_PROMPT_KEY
        if tok.has_keys and opening.key is None:  # too short to have a key, or none asked
            opening.key = self.choose_key(request.style, request.temperature)
        # A continuation prompted from inside a file is mid-piece; anything else is a piece's opening.
        continued = bool(opening.head) or opening.seen != opening.prompt
        opening.prefix = tok.prefix(request.style, opening.key, continued=continued)
        return opening

    def _finished(self, request: Request, opening: _Opening, grammar: RemiGrammar, music: list[int]) -> Piece:
        """A sampled row as a `Piece`: the file's bars before the prompt put back, a model without key
        tokens transposed to the asked key, the score cut at its last bar line."""
        tok = self.tokenizer
        music = opening.head + music
        if opening.asked_tonic is not None and opening.key is None:  # a model without key tokens
            music = transpose_to(tok, music, opening.asked_tonic)
        tokens = [*tok.prefix(request.style, opening.key), *music, tok.eos_id]
        score = end_at_bar(tok.decode(tokens), tokens.count(tok.bar_id))
        if request.constrained and grammar.max_chord == 1:  # each voice a single line (the style's profile)
            score = one_line(score)
        continuation = request.prompt_midi is not None
        context_start = bar_start(score, opening.head.count(tok.bar_id)) if opening.head else 0
        # The prompt's bars are whole: a continuation's new bars start on a bar line.
        new_start = 0
        if continuation:
            new_start = bar_start(score, (opening.head + opening.prompt).count(tok.bar_id))
        return Piece(
            score,
            tokens,
            request.style,
            request.seed,
            request.bars,
            track_voices(score, opening.voices),
            opening.sound_style,
            context_start=context_start,
            new_start=new_start,
            prompt_seen=bars_seen(opening.prompt, opening.seen, tok.bar_id) if continuation else None,
            key=key_name(opening.key) if opening.key else None,
            key_note=opening.key_note,
        )

    def infill(
        self, piece: Piece, start: int, count: int, request: Request | None = None, **settings
    ) -> list[Piece]:
        """Versions of `piece` (made by a composer with the same tokenizer, or `regenerate.piece_of` a
        file) with its bars `start` to `start + count - 1` (from 0) written again, knowing the bars on
        both sides; the sampling is `request`'s (num, temperature, top_k, top_p, seed), or `settings`'.

        The model reads MMM's layout, learned in training (`training.shards`): the prefix, the bars before,
        one hole per bar left out, the bars after, the fill marker; then it writes the missing bars. The
        bars around are the nearest that fit half the context, one before, one after, in turn; each
        version's `prompt_seen` says how many that was. Its `regenerated` spans add this range's."""
        if piece.style in self._adapters:
            return self._adapters[piece.style].infill(piece, start, count, request, **settings)
        tok = self.tokenizer
        if not tok.has_infill:
            raise CadenzaError("this model did not learn bar infilling: it needs a model from v3 on")
        bars = [bar for bar in split_bars(tok.music_ids(piece.tokens), {tok.bar_id}) if bar]
        check_range("start", start, 0, len(bars) - 1)
        check_range("count", count, 1, len(bars) - start)
        request = replace(request or as_request(piece.style, settings), style=piece.style, bars=count)
        request = request.sampled(self.sampling)
        torch.manual_seed(request.seed)
        prefix = tok.prefix(piece.style, tok.key_of(piece.tokens[2]) if tok.has_keys else None)
        room = self.context // 2 - len(prefix) - count - 2  # the holes, Continue and the fill marker
        kept = kept_bars([len(tok.merge(bar)) for bar in bars], start, count, room)  # in the model's tokens
        context = infill_context(prefix, tok.continue_id, bars, start, count, kept, tok.hole_id, tok.fill_id)
        # The bars are played by the piece's own instruments, none added (a file's, or the style's).
        music = [t for bar in bars for t in bar]
        programs = tuple(sorted({int(tok.value(t)) for t in music if t in tok.ids_of("Program")}))
        profile = self.profiles.get(piece.style)
        max_chord, longest = (profile.max_chord, profile.longest) if profile else (None, None)
        grammar = self.grammar(None, programs or None, max_chord, infill=True, longest=longest)
        num = request.num
        rows = self._generate_batch([(context, [])] * num, [count] * num, grammar, request.sampling, None)
        seen = kept[1] - kept[0] - count
        return [self._infilled(piece, bars, start, request, prefix, grammar, new, seen) for new in rows]

    def _infilled(
        self, piece: Piece, bars: list[list[int]], start: int, request: Request, prefix: list[int],
        grammar: RemiGrammar, new: list[int], seen: int,
    ) -> Piece:  # fmt: skip
        """`piece` with its bars from `start` replaced by the first `request.bars` bars of `new`; the model
        saw `seen` bars around them."""
        tok, count = self.tokenizer, request.bars
        new = new[: new.index(tok.eos_id)] if tok.eos_id in new else new
        written = [bar for bar in split_bars(new, {tok.bar_id}) if bar]
        if len(written) < count:
            raise CadenzaError(f"the model wrote {len(written)} of {count} bars before its context ran out")
        music = [t for bar in [*bars[:start], *written[:count], *bars[start + count :]] for t in bar]
        tokens = [*prefix, *music, tok.eos_id]
        score = end_at_bar(tok.decode(tokens), len(bars))
        if grammar.max_chord == 1:
            score = one_line(score)
        starts = [*bar_starts(score), score.end()]
        span = (starts[start], starts[min(start + count, len(starts) - 1)])
        return replace(
            piece, score=score, tokens=tokens, seed=request.seed, voices=track_voices(score, piece.voices),
            prompt_seen=seen, regenerated=tuple(sorted({*piece.regenerated, span})),
        )  # fmt: skip

    def grammar(
        self,
        time_signature: str | None,
        programs: tuple[int, ...] | None,
        max_chord: int | None,
        infill: bool = False,
        longest: float | None = None,
        song: bool = False,
    ) -> RemiGrammar:
        """One grammar per set of limits, kept: its cache of masks (costly with BPE: a mask walks the merged
        tokens) then serves every later piece (and song: `Singer`)."""
        limits = (time_signature, programs, max_chord, infill, longest, song)
        if limits not in self._grammars:
            if len(self._grammars) >= GRAMMARS_KEPT:
                self._grammars.pop(next(iter(self._grammars)))
            # One meter per piece is a rule of form, not of style: a generated piece holds its meter.
            self._grammars[limits] = RemiGrammar(
                self.tokenizer,
                self.vocab_size,
                time_signature,
                programs,
                max_chord,
                one_meter=True,
                infill=infill,
                longest=longest,
                song=song,
            )
        return self._grammars[limits]

    def choose_key(self, style: str, temperature: float) -> Key:
        """The key the model writes in when none is asked: one token sampled after `BOS Style`, among
        the key tokens only."""
        keys = self.tokenizer.key_ids
        only_keys = LogitsProcessorList(
            [PrefixConstrainedLogitsProcessor(lambda batch, ids: keys, num_beams=1)]
        )
        ids = torch.tensor([[self.tokenizer.bos_id, self.tokenizer.style_id(style)]], device=self.device)
        out = self.draw(ids, only_keys, Sampling(temperature, 0, 1.0), StoppingCriteriaList(), 1)
        return self.tokenizer.key_of(int(out[0, -1]))

    # --- sampling ----------------------------------------------------------------------------
    def _sample(
        self, opening: _Opening, request: Request, grammar: RemiGrammar | None, deadline: float | None
    ) -> list[list[int]]:
        """REMI ids (the prompt and what follows, up to the opening's target bars) of the request's rows:
        a fresh piece's model reads the prefix and spells the open bar (`PromptHealing`); a continuation's
        reads the prefix and what fits of the prompt, which ends on a whole bar. Batched first, then row by
        row when sliding (re-prompted windows are mid-piece, cut at their last bar line, whose bar the model
        spells again). Past `deadline` (a `time.time()`), unfinished rows raise `TimeLimitError`."""
        if request.prompt_midi is None:
            first = (opening.prefix, opening.prompt)
        else:
            first = (opening.prefix + opening.seen, [])
        prompt, target, num = opening.prompt, opening.target, request.num
        bar_id, eos_id = self.tokenizer.bar_id, self.tokenizer.eos_id
        budget = len(prompt) + target * MAX_TOKENS_PER_BAR
        rows = [list(prompt) for _ in range(num)]
        done = [False] * num
        window_prefix = self.tokenizer.prefix(request.style, opening.key, continued=True)
        batch = list(range(num))  # rows sharing one context: all of them in the first round
        contexts = [first] * num
        while batch:
            outs = self._generate_batch(
                [contexts[r] for r in batch],
                [target - rows[r].count(bar_id) for r in batch],
                grammar,
                request.sampling,
                deadline,
            )
            for r, new in zip(batch, outs, strict=True):
                for token in new:
                    if token == eos_id or (token == bar_id and rows[r].count(bar_id) == target):
                        done[r] = True
                        break
                    rows[r].append(token)
                if len(rows[r]) >= budget:
                    done[r] = True
            batch = [r for r in range(num) if not done[r]]
            if batch and deadline is not None and time.time() >= deadline:
                raise TimeLimitError("sampling reached its time limit before the piece was finished")
            contexts = {r: open_bar(window_prefix + self._window(rows[r]), bar_id) for r in batch}
        return rows

    def _generate_batch(
        self,
        contexts: list[tuple[list[int], list[int]]],
        new_bars: list[int],
        grammar: RemiGrammar | None,
        sampling: Sampling,
        deadline: float | None,
    ) -> list[list[int]]:
        """One sampling run over (context, open bar) pairs whose contexts merge to equal lengths (a batch),
        else one per pair; the ids after the open bar. Rows stop early at `deadline`."""
        merged = [self.tokenizer.merge(c) for c, _ in contexts]  # what the model reads (BPE), base ids else
        if len({len(c) for c in merged}) > 1:
            return [
                out
                for c, n in zip(contexts, new_bars, strict=True)
                for out in self._generate_batch([c], [n], grammar, sampling, deadline)
            ]
        ids = torch.tensor(merged, device=self.device)
        in_context = sum(part.count(self.tokenizer.bar_id) for part in contexts[0])
        stop = StoppingCriteriaList(
            [
                BarStoppingCriteria(
                    self.tokenizer.bar_starts, self.tokenizer.eos_id, in_context + max(new_bars)
                )
            ]
        )
        if deadline is not None:
            stop.append(MaxTimeCriteria(0.0, initial_timestamp=deadline))  # done once the clock passes it
        processors = LogitsProcessorList()
        if any(bar for _, bar in contexts):
            processors.append(PromptHealing(self.tokenizer, [bar for _, bar in contexts]))
        if grammar is not None:
            processors.append(GrammarLogitsProcessor(grammar, min_bars=in_context + max(new_bars)))
        out = self.draw(ids, processors, sampling, stop, self.context - ids.shape[1])
        return [
            self.tokenizer.unmerge(row[len(c) :])[len(bar) :]
            for c, (_, bar), row in zip(merged, contexts, out.tolist(), strict=True)
        ]

    def draw(
        self,
        ids: torch.Tensor,
        processors: LogitsProcessorList,
        sampling: Sampling,
        stop: StoppingCriteriaList,
        max_new: int,
    ) -> torch.Tensor:
        """`ids` plus up to `max_new` sampled ids per row: the one step another model (the n-gram baseline)
        replaces to decode under the same grammar, warpers and stopping rules."""
        with self._weights():
            pad = self.tokenizer.pad_id
            return sample(self.model, ids, processors, sampling, stop, max_new, pad, self._step())

    def _step(self) -> CompiledForward | OnnxStep | None:
        """What runs this composer's one-token steps, made the first time it decodes (an ONNX step of new
        weights is exported then, a compiled one compiles at its first call); None: the eager model."""
        if self._fast is None and self.decoder != "eager" and self.model.device.type == "cpu":
            if self.decoder == "onnx":
                self._fast = OnnxStep(self.model, self.adapter, DECODE_THREADS)
            else:
                self._fast = CompiledForward(self.model)
        return self._fast

    def _window(self, music: list[int]) -> list[int]:
        """The most recent music that fits half the context (`prompts.window`)."""
        return window(self.tokenizer, music, self.context // 2 - 2)

    @contextmanager
    def _weights(self) -> Iterator[None]:
        """The model as this composer plays it: its adapter active, or the base alone (adapters off)."""
        from peft import PeftModel

        if not isinstance(self.model, PeftModel):
            yield
        elif self.adapter is not None:
            self.model.set_adapter(self.adapter)
            yield
        else:
            with self.model.disable_adapter():
                yield

    # --- LoRA adapters ---------------------------------------------------------------------------
    def load_adapter(self, folder: str | Path) -> str:
        """Serve the adapter in `folder` (made by `cadenza finetune` on this composer's base) under its
        style, which `generate` and `styles` then know. The base is loaded once: every adapter shares it,
        and switching between them reloads nothing. Returns the style."""
        from peft import PeftModel

        info = read_adapter(folder)
        if info.lyrics:
            raise InputFileError(folder, "a lyrics adapter writes songs, not a style: load it with Singer")
        if self.path is not None:
            check_adapter_base(folder, info, self.path)
        if info.style in self.styles:
            raise CadenzaError(f"{folder}: style {info.style!r} is served already")
        if self.decoder == "compiled":
            raise CadenzaError("compiled decoding does not serve adapters yet; load with another decoder")
        tokenizer = CadenzaTokenizer.load(folder)
        if len(tokenizer) > self.model.config.vocab_size:
            raise InputFileError(folder, "its tokenizer does not fit this base model's rows")
        with peft_quietly():
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(str(folder), adapter_name=info.style)
            else:
                self.model = PeftModel.from_pretrained(
                    self.model, str(folder), adapter_name=info.style
                ).eval()
        for composer in self._adapters.values():  # the first adapter wrapped the model they all share
            composer.model = self.model
        served = Composer(self.model, tokenizer, {**self.profiles, **load_profiles(folder)}, self.decoder)
        served.adapter, served.path = info.style, Path(folder)
        self._adapters[info.style] = served
        return info.style
