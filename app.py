"""cadenza's web app: Gradio wiring only; the work is done by plain functions in `cadenza.ui`.

    .venv/bin/python app.py [--model checkpoints/cadenza-base] [--corpus build/corpus/embedded]
                            [--host 127.0.0.1] [--port 7860]

(or env CADENZA_MODEL, CADENZA_CORPUS, and Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT; CADENZA_HOST /
CADENZA_PORT still work). The model is loaded once at start-up;
each feature is one tab, built by a `*_tab(composer, shared)` function listed in `TABS`; `Shared` holds
what tabs pass each other (the last composed piece) and the corpus the Evaluate tab compares with.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from cadenza import ui  # noqa: E402
from cadenza.data.checks import SUPPORTED_SUFFIXES  # noqa: E402
from cadenza.data.uploads import MAX_UPLOAD_BYTES  # noqa: E402
from cadenza.errors import CadenzaError  # noqa: E402
from cadenza.paths import ADAPTERS, BASE_MODEL, EMBEDDED_CORPUS, GAN_MODEL, VAE_MODEL  # noqa: E402

IN_FLIGHT = 16
PROMPT_TYPES = list(SUPPORTED_SUFFIXES)


@dataclass
class Shared:
    last_generated: gr.State  # the MIDI file of the last piece this browser session composed
    corpus: str
    adapters: str  # where fine-tuned adapters are saved, and served from at start-up
    compose_style: gr.Dropdown | None = None  # the Compose tab's style list, which a fine-tune extends
    singer: object = None  # the lyrics adapter's `Singer`, when one is served (the Lyrics tab)
    baselines: dict = field(default_factory=dict)  # "GAN"/"VAE" -> composer (the Baselines tab)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """A failure shown on the page in one line; a bug's traceback also goes to the server's log."""
    try:
        yield
    except Exception as err:
        raise gr.Error(ui.error_line(err), print_exception=not isinstance(err, CadenzaError)) from None


# --- Compose tab -----------------------------------------------------------------------------------
def compose_tab(composer, shared: Shared) -> None:
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            inputs, generate = _compose_inputs(ui.compose_choices(composer), shared)
        with gr.Column(scale=2):
            status, slots = _variation_slots()
    style, bars, tempo, time_signature, key, temperature, top_p, seed, random_seed, variations = inputs[:10]
    prompt, style_profile, _ = inputs[10:]
    judge = lambda: ui.judge_for(shared.corpus)  # noqa: E731  (built in the background since start-up)

    def pieces(progress, *widgets) -> list[ui.Variation]:
        with one_line_errors():
            return ui.compose(composer, ui.ComposeForm(*widgets), progress=progress, judge=judge)

    # prompt=None makes it optional for API clients (Gradio reads that default); the rest follow it.
    def compose(style, bars, tempo, time_signature, key, temperature, top_p, seed, random_seed, variations,
                prompt=None, style_profile=True, candidates=1, progress=gr.Progress()):  # fmt: skip
        """The /compose API: the status line (with the seeds) and every variation's files (MIDI, MusicXML,
        WAV, piano roll). Any argument but the style may be left out: the widgets' defaults apply."""
        result = pieces(
            progress, style, bars, tempo, time_signature, key, temperature, top_p, seed, random_seed,
            variations, prompt, style_profile, candidates,
        )  # fmt: skip
        files = [f for v in result for f in [*v.downloads, str(v.png)]]
        return ui.describe(result, variations), files, str(result[0].midi)

    def predict(style, bars, tempo, time_signature, key, temperature, top_p, seed, random_seed, variations,
                prompt, style_profile, candidates, progress=gr.Progress()):  # fmt: skip
        result = pieces(
            progress, style, bars, tempo, time_signature, key, temperature, top_p, seed, random_seed,
            variations, prompt, style_profile, candidates,
        )  # fmt: skip
        return [ui.describe(result, variations), str(result[0].midi), *_slot_updates(result)]

    # A continuation takes tempo, meter, key and voices from its file: those widgets rest while one is set.
    from_file = [tempo, time_signature, key, style_profile]
    prompt.change(lambda f: [gr.update(interactive=f is None)] * len(from_file), prompt, from_file)
    # The page's event updates widgets (gr.update); the API's returns plain files, from hidden outputs.
    generate.click(predict, inputs, [status, shared.last_generated, *slots], api_visibility="private")
    api_status, api_files = gr.Markdown(visible=False), gr.File(file_count="multiple", visible=False)
    gr.Button(visible=False).click(
        compose, inputs, [api_status, api_files, shared.last_generated], api_name="compose"
    )
    with gr.Column():
        _regenerate_section(composer, shared, style, generate)


def _regenerate_section(composer, shared: Shared, style: gr.Dropdown, generate: gr.Button) -> None:
    """Regenerate bars of the piece above (or an upload): versions side by side, keep one and go on, undo.
    `history` holds the kept versions (`ui.Variation`), the piece now last; a new piece starts it again."""
    gr.Markdown("### Regenerate bars\nWrite some bars again, knowing both sides; every other bar is kept.")
    with gr.Row():
        upload = gr.File(label="Or edit a piece of your own", file_types=PROMPT_TYPES, type="filepath")
        with gr.Column():
            bars = gr.Textbox(
                label="Bars to write again (from 1)", placeholder="5-8 or 3-4, 7", elem_id="regen-bars"
            )
            count = gr.Slider(1, ui.MAX_REGENERATED_VERSIONS, value=2, step=1, label="Versions")
            with gr.Row():
                run = gr.Button("Regenerate these bars", variant="primary", elem_id="regenerate")
                undo = gr.Button("Undo", elem_id="undo")
    status = gr.Markdown(elem_id="regen-status")
    history, offered = gr.State([]), gr.State([])
    slots, keeps = [], []
    with gr.Row():
        for i in range(ui.MAX_REGENERATED_VERSIONS):
            with gr.Column(visible=False, min_width=200) as column:
                audio = gr.Audio(label=f"Version {i + 1}", type="filepath", interactive=False)
                roll = gr.Image(label="Piano roll", type="filepath", interactive=False)
                keep = gr.Button(f"Keep version {i + 1}", elem_id=f"keep-{i + 1}")
            slots += [column, audio, roll]
            keeps.append(keep)
    with gr.Column(visible=False) as now:
        gr.Markdown("**The piece now**")
        now_audio = gr.Audio(label="The piece now", type="filepath", interactive=False)
        now_roll = gr.Image(type="filepath", interactive=False)
        now_sheet, now_files = gr.HTML(), gr.File(file_count="multiple", interactive=False)
    shown = [now, now_audio, now_roll, now_sheet, now_files, shared.last_generated]

    def offer(kept, last_generated, file, style, bars, count, seed=-1, progress=gr.Progress()):
        source = file or (str(kept[-1].midi) if kept else last_generated)
        with one_line_errors():
            versions, line = ui.regenerate_bars(
                composer, ui.RegenerateForm(source, style, bars, count, seed, seed == -1), progress
            )
        updates = []
        for i in range(ui.MAX_REGENERATED_VERSIONS):
            v = versions[i] if i < len(versions) else None
            updates += [gr.update(visible=v is not None), v and str(v.wav), v and str(v.png)]
        return [line, versions, *updates]

    def chosen(index: int):
        def keep(kept, versions):
            kept = [*kept, versions[index]]
            return [kept, f"Kept version {index + 1}; choose more bars, or undo.", *_showing(kept)]

        return keep

    run.click(offer, [history, shared.last_generated, upload, style, bars, count],
              [status, offered, *slots], api_visibility="private")  # fmt: skip
    for index, keep in enumerate(keeps):
        keep.click(chosen(index), [history, offered], [history, status, *shown], api_visibility="private")
    undo.click(lambda kept: [kept[:-1], "Back to the version before.", *_showing(kept[:-1])],
               history, [history, status, *shown], api_visibility="private")  # fmt: skip
    for started in (generate.click, upload.change):  # a new piece: its history starts again
        started(lambda: [[], *_showing([])], None, [history, *shown], api_visibility="private")

    _regenerate_api(composer, style, bars, count)


def _showing(kept: list) -> list:
    """The piece now (the last kept version) in its column, and as the piece the Evaluate tab judges; an
    empty history hides the column and leaves the last composed piece as it is."""
    if not kept:
        return [gr.update(visible=False), None, None, "", None, gr.update()]
    v = kept[-1]
    return [gr.update(visible=True), str(v.wav), str(v.png), v.sheet, v.downloads, str(v.midi)]


def _regenerate_api(composer, style: gr.Dropdown, bars: gr.Textbox, count: gr.Slider) -> None:
    """The /regenerate API's hidden widgets and event."""

    def api(piece, style, bars, versions=2, seed=-1, progress=gr.Progress()):
        """The /regenerate API: a piece file, a style and bars ("5-8"); the status line and each version's
        files (MIDI, MusicXML, WAV, piano roll)."""
        with one_line_errors():
            result, line = ui.regenerate_bars(
                composer, ui.RegenerateForm(piece, style, bars, versions, seed, seed == -1), progress
            )
        return line, [f for v in result for f in [*v.downloads, str(v.png)]]

    api_status, api_files = gr.Markdown(visible=False), gr.File(file_count="multiple", visible=False)
    api_piece = gr.File(visible=False, type="filepath")
    gr.Button(visible=False).click(
        api, [api_piece, style, bars, count], [api_status, api_files], api_name="regenerate"
    )


def _compose_inputs(choices, shared: Shared) -> tuple[list, gr.Button]:
    """The Compose tab's inputs, in `ui.ComposeForm`'s order, and its Generate button."""
    style = gr.Dropdown(choices.styles, value=choices.styles[0], label="Style", elem_id="style")
    shared.compose_style = style
    bars = gr.Slider(1, ui.MAX_UI_BARS, value=8, step=1, label="Bars", elem_id="bars")
    with gr.Row():
        tempo = gr.Number(0, label="Tempo (BPM, 0 = as generated)", precision=0)
        time_signature = gr.Dropdown(choices.time_signatures, value=ui.AS_GENERATED, label="Time signature")
    key = gr.Dropdown(choices.keys, value=ui.AS_GENERATED, label="Key")
    with gr.Accordion("Sampling", open=False, elem_id="sampling"):
        temperature = gr.Slider(0.1, 2.0, value=choices.temperature, step=0.05, label="Temperature")
        top_p = gr.Slider(0.1, 1.0, value=choices.top_p, step=0.01, label="Top-p")
        with gr.Row():
            seed = gr.Number(-1, label="Seed (-1 = random)", precision=0, elem_id="seed")
            random_seed = gr.Checkbox(True, label="Random seed", elem_id="random-seed")
        style_profile = gr.Checkbox(
            True, label="Keep to the style's instruments and chord size (its corpus profile)"
        )
        candidates = gr.Slider(
            1, ui.MAX_CANDIDATES, value=1, step=1, elem_id="candidates",
            label="Best of (candidates per variation; the critic keeps the best, each costs a piece's time)",
        )  # fmt: skip
    variations = gr.Slider(1, ui.MAX_VARIATIONS, value=1, step=1, label="Variations")
    prompt = gr.File(
        label="Continue a piece (optional MIDI / MusicXML prompt; tempo, meter and key then come from it)",
        file_types=PROMPT_TYPES,
        type="filepath",
    )
    generate = gr.Button("Generate", variant="primary", elem_id="generate")
    inputs = [style, bars, tempo, time_signature, key, temperature, top_p, seed, random_seed, variations]
    return [*inputs, prompt, style_profile, candidates], generate


def _variation_slots() -> tuple[gr.Markdown, list]:
    """The status line and, per variation, its audio, piano roll, sheet music and downloads (the first
    shown, the rest hidden until composed)."""
    status = gr.Markdown("Choose a style and press **Generate**.", elem_id="status")
    slots = []
    for i in range(ui.MAX_VARIATIONS):
        with gr.Row(equal_height=False):
            audio = gr.Audio(label=f"Variation {i + 1}", type="filepath", visible=i == 0, interactive=False)
            files = gr.File(label="Download", file_count="multiple", visible=i == 0, interactive=False)
        roll = gr.Image(label="Piano roll", type="filepath", visible=i == 0, interactive=False)
        sheet = gr.HTML(visible=i == 0, label="Sheet music")
        slots += [audio, roll, sheet, files]
    return status, slots


def _slot_updates(result: list[ui.Variation]) -> list:
    """What each variation slot shows of a result: composed ones filled and shown, the rest hidden."""
    updates = []
    for i in range(ui.MAX_VARIATIONS):
        if i < len(result):
            v = result[i]
            label = f"Variation {i + 1} — seed {v.seed}"
            updates += [
                gr.update(value=str(v.wav), label=label, visible=True),
                gr.update(value=str(v.png), visible=True),
                gr.update(value=v.sheet, visible=True),
                gr.update(value=v.downloads, visible=True),
            ]
        else:
            updates += [gr.update(value=None, visible=False)] * 4
    return updates


# --- Evaluate tab ----------------------------------------------------------------------------------
def evaluate_tab(composer, shared: Shared) -> None:
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            upload = gr.File(
                label="A piece to judge (MIDI / MusicXML / ABC / kern); empty: the last composed piece",
                file_types=PROMPT_TYPES,
                type="filepath",
            )
            style = gr.Dropdown(  # the classifier knows the base's styles, not an adapter's
                [ui.AS_GUESSED, *composer.tokenizer.styles],
                value=ui.AS_GUESSED,
                label="Judge it as the style",
            )
            judge = gr.Button("Evaluate", variant="primary", elem_id="evaluate")
            # On a first start the corpus is still being made (ui.prepare_judge): say how far along.
            preparing = gr.Markdown(ui.preparation_status(shared.corpus), elem_id="preparing")
            timer = gr.Timer(5)

            def poll():
                line = ui.preparation_status(shared.corpus)
                return line, gr.Timer(active=bool(line))  # once ready, stop asking

            timer.tick(poll, outputs=[preparing, timer])
            probabilities = gr.Label(label="Which style it sounds like (style classifier)", num_top_classes=4)
        with gr.Column(scale=2):
            summary = gr.Markdown(
                "Upload a piece or compose one, then press **Evaluate**.", elem_id="verdict"
            )
            features = gr.Dataframe(
                headers=["feature", "this piece", "style's corpus range (5-95%)", "inside"],
                label="Features against the style's corpus pieces",
                interactive=False,
            )
            copying = gr.Textbox(label="Originality: melody shared with the corpus", lines=5)
            passage = gr.Image(label="Corpus bars of the longest shared passage", type="filepath")
            similar = gr.Dataframe(
                headers=["rank", "corpus piece", "style", "distance"],
                label="Most similar corpus pieces",
                interactive=False,
            )

    def predict(upload=None, last_generated=None, style=ui.AS_GUESSED, progress=gr.Progress()):
        with one_line_errors():
            result = ui.evaluate(shared.corpus, upload, last_generated, style, progress=progress)
        return (
            result.summary,
            result.probabilities,
            result.features,
            result.originality,
            str(result.passage_png) if result.passage_png else None,
            result.similar,
        )

    judge.click(
        predict,
        inputs=[upload, shared.last_generated, style],
        outputs=[summary, probabilities, features, copying, passage, similar],
        api_name="evaluate",
    )
    _learners_view_section(upload, shared)


def _learners_view_section(upload: gr.File, shared: Shared) -> None:
    """The Evaluate tab's learner's view of the same piece: the annotated score, its list and files."""
    with gr.Accordion("Learner's view: keys, chords, cadences and voice-leading faults on the score"):
        explain = gr.Button("Explain it on the score", elem_id="explain")
        view = gr.HTML(elem_id="learners-view")
        files = gr.File(label="Annotated MusicXML, SVG pages, JSON, CSV", file_count="multiple")

    def explained(upload=None, last_generated=None, progress=gr.Progress()):
        """The /analyze API: the learner's view of an upload (or the last composed piece), and its files."""
        with one_line_errors():
            return ui.learners_view(upload, last_generated, progress=progress)

    explain.click(explained, [upload, shared.last_generated], [view, files], api_name="analyze")


# --- Fine-tune tab ----------------------------------------------------------------------------------
def finetune_tab(composer, shared: Shared) -> None:
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            uploads = gr.File(
                label="One composer's scores: MIDI / MusicXML / ABC / kern files, or a zip of them",
                file_types=[*PROMPT_TYPES, ".zip"],
                file_count="multiple",
                type="filepath",
            )
            name = gr.Textbox(label="New style name (lowercase letters, digits, _)", elem_id="tune-style")
            size = gr.Radio(list(ui.RUN_SIZES), value=ui.DEFAULT_RUN_SIZE, label="Length of the run")
            start = gr.Button("Fine-tune", variant="primary", elem_id="finetune")
        with gr.Column(scale=2):
            status = gr.Markdown(
                "A LoRA adapter learns the style of the uploaded scores under the new name; it is saved and "
                "then offered in the Compose tab (docs/finetune.md).",
                elem_id="tune-status",
            )

    def tune(files, style, run_size, progress=gr.Progress()):
        with one_line_errors():
            for step in ui.finetune(
                composer, files or [], style, run_size, shared.adapters, ui.request_dir()
            ):
                progress(step.fraction, desc="fine-tuning")
                yield step.text, gr.update(choices=composer.styles)

    start.click(tune, [uploads, name, size], [status, shared.compose_style], api_name="finetune")


# --- Lyrics -> Melody tab ---------------------------------------------------------------------------
def lyrics_tab(composer, shared: Shared) -> None:
    from cadenza.data.syllables import LANGUAGES

    styles = [
        s for s in ("bach", "monteverdi", "trecento") if s in composer.tokenizer.styles
    ] or composer.styles
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            text = gr.Textbox(
                label="Lyrics (hyphens such as Ky-ri-e set the syllables yourself)", lines=4, elem_id="lyrics"
            )
            language = gr.Dropdown(
                [(name, code) for code, name in LANGUAGES.items()], value="en", label="Language"
            )
            style = gr.Dropdown(styles, value=styles[0], label="Style")
            with gr.Row():
                tempo = gr.Number(0, label="Tempo (BPM, 0 = as generated)", precision=0)
                key = gr.Dropdown(ui.compose_choices(composer).keys, value=ui.AS_GENERATED, label="Key")
            voice = gr.Dropdown(
                [ui.AS_GENERATED, "soprano", "alto", "tenor", "bass"], value=ui.AS_GENERATED, label="Voice"
            )
            melisma = gr.Checkbox(False, label="Let a syllable last several notes (melismas)")
            with gr.Row():
                seed = gr.Number(-1, label="Seed (-1 = random)", precision=0)
                random_seed = gr.Checkbox(True, label="Random seed")
            with gr.Row():
                sing = gr.Button("Set to music", variant="primary", elem_id="sing")
                pair = gr.Button("Song (lyrics and melody together)", elem_id="pair")
        with gr.Column(scale=2):
            status = gr.Markdown(
                "Type lyrics and press **Set to music**: every syllable gets one note, in order."
                if shared.singer is not None
                else "No lyrics adapter is served (adapters/songs; docs/songs.md).",
                elem_id="sing-status",
            )
            with gr.Row(equal_height=False):
                audio = gr.Audio(label="Song", type="filepath", interactive=False)
                files = gr.File(label="Download", file_count="multiple", interactive=False)
            roll = gr.Image(label="Piano roll with the syllables", type="filepath", interactive=False)
            sheet = gr.HTML(label="Sheet music")

    def run(lyrics, language, style, tempo, key, melisma, seed, random_seed, voice):
        with one_line_errors():
            form = ui.SongForm(lyrics, language, style, tempo, key, melisma, seed, random_seed, voice)
            sung = ui.sing(shared.singer, form)
        v = sung.variation
        return sung.text, str(v.wav), v.downloads, str(v.png), v.sheet

    outputs = [status, audio, files, roll, sheet]
    settings = [language, style, tempo, key, melisma, seed, random_seed, voice]
    sing.click(run, [text, *settings], outputs, api_name="sing")
    pair.click(lambda *args: run(None, *args), settings, outputs, api_name="song")


def baselines_tab(composer, shared: Shared) -> None:
    served = shared.baselines
    styles = sorted({s for model in served.values() for s in model.styles}) or ["bach"]
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            model = gr.Radio(["GAN", "VAE"], value="GAN", label="Model family")
            style = gr.Dropdown(styles, value="bach" if "bach" in styles else styles[0], label="Style")
            bars = gr.Slider(1, ui.MAX_BASELINE_BARS, value=8, step=1, label="Bars")
            with gr.Row():
                seed = gr.Number(-1, label="Seed (-1 = random)", precision=0)
                random_seed = gr.Checkbox(True, label="Random seed")
            sample = gr.Button("Sample", variant="primary", elem_id="baseline-sample")
            gr.Markdown("**VAE interpolation** from piece A to piece B (4/4 or 2/4; their first 2 bars). "
                        "Without an upload, A is the last piece sampled here.")  # fmt: skip
            with gr.Row():
                first = gr.File(label="Piece A", file_types=PROMPT_TYPES, type="filepath")
                last = gr.File(label="Piece B", file_types=PROMPT_TYPES, type="filepath")
            steps = gr.Slider(2, ui.MAX_INTERPOLATION_STEPS, value=8, step=1, label="Steps from A to B")
            interpolate = gr.Button("Interpolate", elem_id="interpolate")
        with gr.Column(scale=2):
            status = gr.Markdown(
                f"Serving: {', '.join(served) or 'none'} (docs/baselines.md).", elem_id="baseline-status"
            )
            with gr.Row(equal_height=False):
                audio = gr.Audio(label="Piece", type="filepath", interactive=False)
                files = gr.File(label="Download", file_count="multiple", interactive=False)
            roll = gr.Image(label="Piano roll", type="filepath", interactive=False)
            sheet = gr.HTML(label="Sheet music")
    last_sample = gr.State(None)

    def shown(v: ui.Variation, text: str) -> tuple:
        return text, str(v.wav), v.downloads, str(v.png), v.sheet

    def run_sample(name, style, bars, seed, random_seed):
        with one_line_errors():
            v = ui.baseline_sample(served, name, style, bars, seed, random_seed)
        return (*shown(v, f"**{name}**, {style}, {v.bars} bars, seed **{v.seed}**"), str(v.midi))

    def run_interpolation(a, b, style, steps, previous):
        with one_line_errors():
            v = ui.interpolate(served, a or previous, b, style, steps)
        return shown(
            v, f"**VAE** interpolation in {style}: {int(steps)} steps of {v.bars // int(steps)} bars"
        )

    outputs = [status, audio, files, roll, sheet]
    sample.click(run_sample, [model, style, bars, seed, random_seed], [*outputs, last_sample],
                 api_name="baseline_sample")  # fmt: skip
    interpolate.click(
        run_interpolation, [first, last, style, steps, last_sample], outputs, api_name="interpolate"
    )


# Each later feature adds (title, builder) here.
TABS = [
    ("Compose", compose_tab), ("Evaluate", evaluate_tab), ("Fine-tune", finetune_tab),
    ("Lyrics → Melody", lyrics_tab), ("Baselines", baselines_tab),
]  # fmt: skip


def build_demo(
    composer, corpus: str = EMBEDDED_CORPUS, adapters: str = ADAPTERS, singer=None, baselines=None
) -> gr.Blocks:
    with gr.Blocks(title="cadenza", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# cadenza\nSymbolic music from a style tag: compose, listen, look, download, judge.")
        shared = Shared(gr.State(None), corpus, adapters, singer=singer, baselines=baselines or {})
        with gr.Tabs():
            for title, build in TABS:
                with gr.Tab(title):
                    build(composer, shared)
    # Up to IN_FLIGHT requests run at once, but they compose one at a time (2 CPU cores; `ui.MODEL_LOCK`):
    # each reads its upload first, so a file that is slow to read holds up only its own request.
    demo.queue(default_concurrency_limit=IN_FLIGHT, max_size=64)
    return demo


# --- start-up ----------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="cadenza web app")
    parser.add_argument(
        "--model", default=os.environ.get("CADENZA_MODEL", BASE_MODEL), help="checkpoint folder"
    )
    parser.add_argument(
        "--adapters",
        default=os.environ.get("CADENZA_ADAPTERS", ADAPTERS),
        help="folder of LoRA adapters to serve, where the Fine-tune tab saves new ones",
    )
    parser.add_argument(
        "--corpus",
        default=os.environ.get("CADENZA_CORPUS", EMBEDDED_CORPUS),
        help="built corpus the Evaluate tab compares with (the embedded one is built at first start)",
    )
    parser.add_argument("--gan", default=os.environ.get("CADENZA_GAN", GAN_MODEL), help="GAN baseline folder")
    parser.add_argument("--vae", default=os.environ.get("CADENZA_VAE", VAE_MODEL), help="VAE baseline folder")
    # Gradio's own variables first, as its users expect; CADENZA_* for those who set them before.
    host = os.environ.get("GRADIO_SERVER_NAME") or os.environ.get("CADENZA_HOST", "127.0.0.1")
    port = os.environ.get("GRADIO_SERVER_PORT") or os.environ.get("CADENZA_PORT", "7860")
    parser.add_argument("--host", default=host, help="address to serve on (env GRADIO_SERVER_NAME)")
    parser.add_argument("--port", default=port, help="port to serve on (env GRADIO_SERVER_PORT)")
    parser.add_argument(
        "--decoder",
        default=None,
        help="what runs the decoding steps: onnx, compiled or eager (default: env CADENZA_DECODER, else "
        "onnx); see docs/app.md",
    )
    args = parser.parse_args(argv)
    try:
        args.port = int(args.port)
    except ValueError:
        parser.error(f"the port must be a number, got {args.port!r}")
    return args


def check_port(host: str, port: int) -> None:
    """Stop with one line when the address is taken (before the model loads), instead of Gradio's
    traceback after it."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as err:
            sys.exit(
                f"cadenza: cannot serve on {host}:{port} ({err.strerror}); choose another port with "
                "--port N or GRADIO_SERVER_PORT=N"
            )


def load_composer(path: str, decoder: str | None = None):
    from cadenza.inference.composer import Composer

    if not Path(path).is_dir():
        sys.exit(
            f"cadenza: no model at {path}; train it with `make train-base` (see docs/app.md) "
            "or point --model / CADENZA_MODEL at a checkpoint folder"
        )
    try:
        return Composer.from_pretrained(path, decoder=decoder)
    except CadenzaError as err:
        sys.exit(f"cadenza: {err}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    check_port(args.host, args.port)
    composer = load_composer(args.model, args.decoder)
    for problem in ui.load_adapters(composer, args.adapters):
        print(f"cadenza: adapter not served: {problem}", flush=True)
    try:
        singer = ui.load_singer(args.adapters)
    except CadenzaError as err:
        singer = None
        print(f"cadenza: lyrics adapter not served: {err}", flush=True)
    baselines, problems = ui.load_baselines(args.gan, args.vae)
    for problem in problems:
        print(f"cadenza: baseline not served: {problem}", flush=True)
    ui.prepare_judge(args.corpus)  # the corpus (on a first start) and its indexes, made while the app serves
    demo = build_demo(composer, args.corpus, args.adapters, singer, baselines)
    print(f"cadenza: model {args.model} loaded; open http://{args.host}:{args.port}/", flush=True)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        max_file_size=MAX_UPLOAD_BYTES,
        show_error=False,
        ssr_mode=False,
        footer_links=[],
    )


if __name__ == "__main__":
    main()
