"""The Baselines tab: a GAN or VAE piece, and the VAE's walk from one piece to another."""

from __future__ import annotations

from pathlib import Path

from cadenza.errors import CadenzaError, InputFileError, one_line
from cadenza.ui.common import (
    MODEL_LOCK,
    Variation,
    check_prompt_file,
    checked_number,
    render_variation,
    request_dir,
    resolve_seed,
)

# --- Baselines tab ----------------------------------------------------------------------------------------
MAX_BASELINE_BARS = 32
MAX_INTERPOLATION_STEPS = 16


def load_baselines(gan: str | Path, vae: str | Path) -> tuple[dict[str, object], list[str]]:
    """The GAN and VAE composers served ({"GAN": ..., "VAE": ...}, those that load) and a one-line
    problem for each that does not."""
    from cadenza.gan_vae.composer import GanComposer, VaeComposer

    served, problems = {}, []
    for name, cls, path in (("GAN", GanComposer, gan), ("VAE", VaeComposer, vae)):
        try:
            served[name] = cls.from_pretrained(path)
        except CadenzaError as err:
            problems.append(f"{name}: {one_line(err)}")
    return served, problems


def _baseline(baselines: dict, name: str):
    if name not in baselines:
        raise CadenzaError(
            f"the {name} baseline is not served (checkpoints/{name.lower()}; docs/baselines.md)"
        )
    return baselines[name]


def baseline_sample(
    baselines: dict,
    name: str,
    style: str,
    bars=8,
    seed=-1,
    random_seed: bool = True,
    out_dir: Path | None = None,
) -> Variation:
    """One piece from the GAN or VAE, rendered like a composed one."""
    from cadenza.inference.render import piece_stem

    composer = _baseline(baselines, name)
    bars = checked_number("bars", bars, 1, MAX_BASELINE_BARS, integer=True)
    seed = resolve_seed(seed, random_seed)
    with MODEL_LOCK:
        (piece,) = composer.generate(style, bars=bars, seed=seed)
        if piece.score.note_num() == 0:
            raise CadenzaError(f"the {name} wrote no notes with seed {seed}; try another seed")
        stem = f"{name.lower()}-{piece_stem(style, seed, 0)}"
        return render_variation(piece, out_dir or request_dir(), stem)


def _read_upload(path: str | Path | None, which: str):
    from cadenza.data.loading import load_pieces_limited

    checked = check_prompt_file(path)
    if checked is None:
        raise CadenzaError(f"upload piece {which}, or sample one with the VAE first")
    try:
        return load_pieces_limited(checked)[0].score
    except InputFileError as err:
        raise InputFileError(checked.name, err.problem) from None


def interpolate(
    baselines: dict,
    a: str | Path | None,
    b: str | Path | None,
    style: str,
    steps=8,
    out_dir: Path | None = None,
) -> Variation:
    """The VAE's walk from piece A's first bars to piece B's in `steps` segments, one piece."""
    vae = _baseline(baselines, "VAE")
    steps = checked_number("steps", steps, 2, MAX_INTERPOLATION_STEPS, integer=True)
    first, last = _read_upload(a, "A"), _read_upload(b, "B")
    names = (Path(a).name, Path(b).name)
    with MODEL_LOCK:
        piece = vae.interpolate(first, last, style, steps, names)
        return render_variation(piece, out_dir or request_dir(), f"interpolation-{style}-{steps}")
