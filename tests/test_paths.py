"""Shipped files are found from any working directory; `CADENZA_HOME` moves every default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cadenza.paths import HOME, resolve

ROOT = Path(__file__).parents[1]


def _run(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env={**os.environ, **env}
    )


@pytest.mark.parametrize(
    "command",
    [
        ["generate", "--bars", "1", "--seed", "1"],
        ["song", "--lyrics", "Ky-ri-e", "--style", "trecento", "--seed", "1"],  # the adapter finds its base
    ],
)
def test_the_shipped_model_is_the_default_from_any_folder(tmp_path, command):
    args = [*command, "--formats", "mid", "--out", "pieces"]
    done = _run(f"from cadenza.cli import main; import sys; sys.exit(main({args!r}))", tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert list((tmp_path / "pieces").rglob("*.mid"))


def test_a_relative_path_missing_here_resolves_under_home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve("checkpoints/cadenza-base") == HOME / "checkpoints/cadenza-base"
    (tmp_path / "mine").mkdir()
    assert resolve("mine") == Path("mine")


def test_cadenza_home_moves_the_defaults(tmp_path):
    code = (
        "from cadenza.inference.cli import GenerateArgs;"
        "from cadenza.evaluation.similarity import SimilarArgs;"
        "print(GenerateArgs().model); print(SimilarArgs(piece='x.mid').corpus)"
    )
    mine = _run(code, tmp_path, CADENZA_HOME=str(tmp_path)).stdout.split()
    assert mine == [str(tmp_path / "checkpoints/cadenza-base"), str(tmp_path / "build/corpus/embedded")]
    shipped = _run(code, tmp_path, CADENZA_HOME="").stdout.split()
    assert shipped[0] == str(ROOT / "checkpoints/cadenza-base")
