"""A tiny random checkpoint made in the test, and the real app (`app.py`) serving it on a free port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STYLES = ["bach", "irish_fiddle"]
STARTUP_TIMEOUT_S = 180


def make_tiny_checkpoint(folder: Path, styles: list[str] = STYLES) -> Path:
    import torch
    from miditok import TokenizerConfig

    from cadenza.checkpoint import save_checkpoint
    from cadenza.tokenization.tokenizer import CadenzaTokenizer
    from cadenza.training.model import ModelArgs, build_model

    # A small vocabulary (one program, few pitches and positions) keeps a random model's pieces short, so
    # generating and rendering them (MusicXML, audio) takes seconds.
    config = TokenizerConfig(
        pitch_range=(55, 80),
        beat_res={(0, 4): 2},
        use_programs=True,
        programs=[0],
        one_token_stream_for_programs=True,
        use_velocities=False,
        use_tempos=False,  # a random model would otherwise write tempo changes instead of notes
        use_time_signatures=True,
        time_signature_range={8: [6], 4: [2, 3, 4]},
        special_tokens=["PAD", "BOS", "EOS"],
    )
    torch.manual_seed(0)
    tokenizer = CadenzaTokenizer.new(styles, config)
    tokenizer.add_infill()  # as base model v3's: the Compose tab regenerates bars
    model = build_model(ModelArgs(n_layer=1, n_embd=32, n_head=2, n_positions=256), tokenizer)
    return save_checkpoint(model, tokenizer, folder)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"app did not answer at {url} within {timeout_s}s:\n{log.read_text()[-3000:]}")


def start_app(model: Path, port: int, log: Path, corpus: Path | None = None) -> subprocess.Popen:
    env = dict(
        os.environ,
        GRADIO_ANALYTICS_ENABLED="False",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        GRADIO_SERVER_PORT=str(port),  # Gradio's own variable, as a user would set it
    )
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "app.py"),
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            *(["--corpus", str(corpus)] if corpus else []),
            "--adapters",  # never the repository's own adapters folder
            str(log.parent / "adapters"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="session")
def app_corpus(tiny_corpus_dir, tmp_path_factory) -> Path:
    """A copy of the tiny corpus for the Evaluate tab, which builds its indexes beside it."""
    folder = tmp_path_factory.mktemp("appcorpus") / "corpus"
    shutil.copytree(tiny_corpus_dir, folder)
    return folder


@pytest.fixture(scope="session")
def app_url(tiny_checkpoint, app_corpus, tmp_path_factory) -> str:
    log = tmp_path_factory.mktemp("applog") / "app.log"
    port = free_port()
    proc = start_app(tiny_checkpoint, port, log, app_corpus)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
