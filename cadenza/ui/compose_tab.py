"""The Compose tab: the form's request, its variations composed within the request's time and rendered."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cadenza.errors import CadenzaError, InputFileError, TimeLimitError
from cadenza.inference.request import MAX_SEED, Request
from cadenza.ui.common import (
    AS_GENERATED,
    KEYS,
    MAX_CANDIDATES,
    MAX_TEMPO,
    MAX_UI_BARS,
    MAX_VARIATIONS,
    MIN_TEMPO,
    MODEL_LOCK,
    REQUEST_SECONDS,
    Progress,
    Variation,
    check_prompt_file,
    checked_number,
    optional_choice,
    render_variation,
    request_dir,
    resolve_seed,
)


@dataclass
class ComposeChoices:
    styles: list[str]
    time_signatures: list[str]
    keys: list[str]
    temperature: float  # the checkpoint's sampling defaults (generation_config.json)
    top_p: float


def compose_choices(composer) -> ComposeChoices:
    """Dropdown contents for the Compose tab, from the loaded checkpoint."""
    sigs = list(composer.time_signatures)
    # Common meters first, then the rest in the tokenizer's order.
    common = [ts for ts in ("4/4", "3/4", "2/4", "6/8", "2/2", "3/8", "9/8", "12/8") if ts in sigs]
    return ComposeChoices(
        styles=list(composer.styles),
        time_signatures=[AS_GENERATED] + common + [ts for ts in sigs if ts not in common],
        keys=list(KEYS),
        temperature=float(composer.sampling.temperature),
        top_p=float(composer.sampling.top_p),
    )


# --- the Compose tab --------------------------------------------------------------------------------
@dataclass
class ComposeForm:
    """The Compose tab's widgets as the page (or an API client) sends them: numbers may come as text or
    floats, "as generated" stands for unset; `compose` checks each and builds the `Request`."""

    style: str
    bars: object = 8
    tempo: object = None  # 0 or empty: as generated
    time_signature: str | None = AS_GENERATED
    key: str | None = AS_GENERATED
    temperature: object = None
    top_p: object = None
    seed: object = -1
    random_seed: bool = True
    variations: object = 1
    prompt_midi: str | Path | None = None
    style_profile: bool = True
    candidates: object = 1  # each variation the critic's best of this many (cadenza generate --candidates)


def compose(
    composer,
    form: ComposeForm,
    progress: Progress | None = None,
    out_dir: Path | None = None,
    judge: Callable[[], object] | None = None,
) -> list[Variation]:
    """Generate the form's variations and render each to MIDI, MusicXML, WAV and a piano roll.

    Variation i uses seed + i, so any variation is reproduced alone by entering its seed with
    variations = 1 (and the same other settings). A prompt upload is read first, in a reading worker and
    outside `MODEL_LOCK`; then the request has `REQUEST_SECONDS` to compose: variations not finished by
    then are left out (`describe` says so), and if none is, the request fails with `TimeLimitError`.
    """
    from cadenza.inference.render import piece_stem

    report = progress or (lambda *args, **kwargs: None)
    request, ignored = _compose_request(composer, form, report)
    variations = checked_number("number of variations", form.variations, 1, MAX_VARIATIONS, integer=True)
    candidates = checked_number("candidates", form.candidates, 1, MAX_CANDIDATES, integer=True)
    critic = judge() if candidates > 1 and judge is not None else None
    if candidates > 1 and critic is None:
        raise CadenzaError("best of several candidates needs the corpus the critic judges against")
    first_seed = resolve_seed(form.seed, form.random_seed)
    seeds = [(first_seed + i) % (MAX_SEED + 1) for i in range(variations)]
    out_dir = out_dir or request_dir()
    if MODEL_LOCK.locked():
        report(0, desc="waiting for another request to finish composing")
    with MODEL_LOCK:
        deadline = time.monotonic() + REQUEST_SECONDS
        result = []
        for i, this_seed in enumerate(seeds):
            report(i / variations, desc=f"composing variation {i + 1} of {variations}")
            try:
                left = deadline - time.monotonic()
                asked = dataclasses.replace(request, seed=this_seed, num=candidates, max_time=left)
                piece = best_piece(composer.generate(asked), critic, request.time_signature)
            except TimeLimitError:
                if result:  # keep what is finished; `describe` says the rest ran out of time
                    break
                raise TimeLimitError(
                    f"composing took longer than {REQUEST_SECONDS} s, this app's limit per request; "
                    "ask for fewer bars"
                ) from None
            if piece.score.note_num() == 0:
                raise CadenzaError(f"the model wrote no notes with seed {this_seed}; try another seed")
            report((i + 0.7) / variations, desc=f"rendering variation {i + 1} of {variations}")
            variation = render_variation(piece, out_dir / f"v{i + 1}", piece_stem(form.style, this_seed, 0))
            result.append(dataclasses.replace(variation, ignored=ignored))
    report(1.0, desc="done")
    return result


def best_piece(pieces: list, critic, meter: str | None):
    """The critic's best of a variation's candidates (`critic.best_of`); the only one without a critic."""
    if critic is None or len(pieces) == 1:
        return pieces[0]
    from cadenza.evaluation.critic import best_of

    best, _ = best_of(critic, pieces, meter)
    return pieces[best]


def _compose_request(composer, form: ComposeForm, report: Progress) -> tuple[Request, tuple[str, ...]]:
    """The form's `Request` (its seed set per variation later) and the controls set aside for a prompt
    file: a continuation keeps the file's tempo, meter and key (and voices), so choices made before the
    upload are ignored and the status says so, rather than failing every request."""
    from cadenza.data.loading import load_pieces_limited

    if form.style not in composer.styles:
        raise CadenzaError(f"unknown style {form.style!r}; this model knows: {', '.join(composer.styles)}")
    temperature = form.temperature
    temperature = None if temperature is None else checked_number("temperature", temperature, 0.05, 3.0)
    top_p = None if form.top_p is None else checked_number("top-p", form.top_p, 0.05, 1.0)
    tempo = None if form.tempo in (None, "", 0) else checked_number("tempo", form.tempo, MIN_TEMPO, MAX_TEMPO)
    time_signature = optional_choice(form.time_signature)
    if time_signature is not None and time_signature not in composer.time_signatures:
        raise CadenzaError(f"unsupported time signature {time_signature!r}")
    key = optional_choice(form.key)
    prompt, ignored = None, ()
    if (path := check_prompt_file(form.prompt_midi)) is not None:
        report(0, desc=f"reading {path.name}")
        try:
            prompt = load_pieces_limited(path)[0]
        except InputFileError as err:  # name the upload by its own name, not the server's temp path
            raise InputFileError(path.name, err.problem) from None
        chosen = {"tempo": tempo, "time signature": time_signature, "key": key}
        ignored = tuple(name for name, value in chosen.items() if value is not None)
        tempo = time_signature = key = None
    bars = checked_number("bars", form.bars, 1, MAX_UI_BARS, integer=True)
    request = Request(
        form.style, bars=bars, temperature=temperature, top_p=top_p, tempo=tempo,
        time_signature=time_signature, key=key, prompt_midi=prompt, use_profile=form.style_profile,
    )  # fmt: skip
    return request, ignored


def describe(variations: list[Variation], asked: int | None = None) -> str:
    """The Markdown line under the Generate button: the seeds, so a result can be reproduced, and how
    many of the `asked` variations ran out of time."""
    seeds = ", ".join(str(v.seed) for v in variations)
    label = "seed" if len(variations) == 1 else "seeds"
    first = variations[0]
    line = f"Generated {len(variations)} × {first.bars} bars of **{first.style}** — {label} used: **{seeds}**"
    missing = int(asked or 0) - len(variations)
    if missing > 0:
        line += f" ({missing} more not composed: the {REQUEST_SECONDS} s limit per request was reached)"
    if first.ignored:
        line += f"; {' and '.join(first.ignored)} from the prompt file (the choice above was not used)"
    if first.key_note:
        line += f"; in {first.key}: {first.key_note}"
    return line


# --- regenerate bars of the piece -------------------------------------------------------------------
MAX_REGENERATED_VERSIONS = 3  # side by side on the page


@dataclass
class RegenerateForm:
    """The Compose tab's "Regenerate bars" widgets: the piece (the last composed or kept version's MIDI,
    or an upload), the style to write in, the bars ("5-8", "3-4, 7") and how many versions to offer."""

    piece: str | Path | None
    style: str
    bars: str
    versions: object = 2
    seed: object = -1
    random_seed: bool = True


def regenerate_bars(
    composer, form: RegenerateForm, progress: Progress | None = None, out_dir: Path | None = None
) -> tuple[list[Variation], str]:
    """The form's versions of its piece, each with the bars asked written again knowing both sides and
    every other bar kept (`inference.regenerate`), rendered; and the status line."""
    from cadenza.data.loading import load_pieces_limited
    from cadenza.inference.regenerate import parse_bars, piece_of, regenerate

    report = progress or (lambda *args, **kwargs: None)
    path = check_prompt_file(form.piece)
    if path is None:
        raise CadenzaError("compose or upload a piece first, then choose the bars to write again")
    if form.style not in composer.styles:
        raise CadenzaError(f"unknown style {form.style!r}; this model knows: {', '.join(composer.styles)}")
    count = checked_number("versions", form.versions, 1, MAX_REGENERATED_VERSIONS, integer=True)
    report(0, desc=f"reading {path.name}")
    try:
        read = load_pieces_limited(path)[0]
    except InputFileError as err:  # name the upload by its own name, not the server's temp path
        raise InputFileError(path.name, err.problem) from None
    seed = resolve_seed(form.seed, form.random_seed)
    out_dir = out_dir or request_dir()
    if MODEL_LOCK.locked():
        report(0, desc="waiting for another request to finish composing")
    with MODEL_LOCK:
        piece = piece_of(composer, read, form.style, None)
        ranges = parse_bars(str(form.bars or ""), piece.bars)
        report(0.1, desc=f"writing {count} version{'s' * (count > 1)} of bars {form.bars}")
        request = Request(form.style, num=count, seed=seed).sampled(composer.sampling)
        versions = regenerate(composer, piece, ranges, request)
    result = []
    for i, version in enumerate(versions):
        report(0.6 + 0.4 * i / count, desc=f"rendering version {i + 1} of {count}")
        result.append(render_variation(version, out_dir / f"r{i + 1}", f"{path.stem}_version{i + 1}"))
    around = versions[0].prompt_seen
    status = f"{count} version{'s' * (count > 1)} of bars **{form.bars}** — seed **{seed}**"
    if around is not None and around < piece.bars - ranges[-1][1]:
        status += f"; the model saw the {around} bars around them that fit its context"
    return result, status
