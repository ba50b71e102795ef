"""Where cadenza's files live: the shipped checkpoints and adapters, and what it builds (corpora, indexes,
shards), under one home folder, so every default works from any working directory.

The home is `$CADENZA_HOME` when set, else the project folder this package was installed from (`make
install` installs it in place, so the checkpoints in the repository are found from anywhere). Every
command still takes any path; only the defaults live here.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME = Path(os.environ.get("CADENZA_HOME") or Path(__file__).resolve().parents[1])
# Files a checkpoint (or an adapter) folder holds beside the model's own.
TOKENIZER_FILE = "tokenizer.json"
PROFILE_FILE = "style_profiles.json"


def home(relative: str) -> str:
    """`relative` (a shipped or built folder, as the docs name it: "checkpoints/cadenza-base") under the
    home folder."""
    return str(HOME / relative)


def resolve(path: str | Path) -> Path:
    """`path` as given, or under the home folder when it is relative and not found from here: an adapter
    records its base as the repository names it ("checkpoints/cadenza-base")."""
    path = Path(path)
    return path if path.is_absolute() or path.exists() else HOME / path


# The shipped and built folders every default names (absolute, under the home folder).
BASE_MODEL = home("checkpoints/cadenza-base")
ADAPTERS = home("adapters")
SONGS_ADAPTER = home("adapters/songs")
GAN_MODEL, VAE_MODEL = home("checkpoints/gan"), home("checkpoints/vae")
CORPORA = home("build/corpus")  # a user folder's corpus is built in CORPORA/<style>
EMBEDDED_CORPUS = home("build/corpus/embedded")
SONGS_CORPUS = home("build/corpus/songs")
SHARDS = home("build/shards")
ROLLS = home("build/rolls")
EVALUATION = home("build/evaluation")
