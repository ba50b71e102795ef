"""What the app's tabs do, as plain functions: no Gradio here, one module a tab.

`app.py` only wires widgets to these functions (like audiocraft's demo: load the model once, call a
predict function). Each tab gets a `..._choices` helper for its dropdowns and a predict function that
checks the raw widget values, does the work in a fresh temporary folder and returns plain paths.
User-fixable problems raise `CadenzaError` with a one-line message, which the app shows as a popup.
"""

from cadenza.ui.baselines_tab import (
    MAX_BASELINE_BARS,
    MAX_INTERPOLATION_STEPS,
    baseline_sample,
    interpolate,
    load_baselines,
)
from cadenza.ui.common import (
    AS_GENERATED,
    MAX_CANDIDATES,
    MAX_UI_BARS,
    MAX_VARIATIONS,
    MODEL_LOCK,
    Variation,
    error_line,
    request_dir,
)
from cadenza.ui.compose_tab import (
    MAX_REGENERATED_VERSIONS,
    ComposeForm,
    RegenerateForm,
    compose,
    compose_choices,
    describe,
    regenerate_bars,
)
from cadenza.ui.evaluate_tab import (
    AS_GUESSED,
    SIMILAR_K,
    evaluate,
    judge_for,
    learners_view,
    preparation_status,
    prepare_judge,
)
from cadenza.ui.finetune_tab import DEFAULT_RUN_SIZE, FINETUNE_LOCK, RUN_SIZES, finetune, load_adapters
from cadenza.ui.lyrics_tab import SongForm, load_singer, sing

__all__ = [
    "AS_GENERATED", "AS_GUESSED", "DEFAULT_RUN_SIZE", "FINETUNE_LOCK", "MAX_BASELINE_BARS",
    "MAX_REGENERATED_VERSIONS", "RegenerateForm", "regenerate_bars", "learners_view",
    "MAX_INTERPOLATION_STEPS", "MAX_UI_BARS", "MAX_CANDIDATES", "MAX_VARIATIONS", "MODEL_LOCK", "RUN_SIZES",
    "SIMILAR_K", "judge_for",
    "ComposeForm", "SongForm", "Variation", "baseline_sample", "compose", "compose_choices", "describe",
    "error_line", "evaluate", "finetune", "interpolate", "load_adapters", "load_baselines", "load_singer",
    "prepare_judge", "preparation_status", "request_dir", "sing",
]  # fmt: skip
