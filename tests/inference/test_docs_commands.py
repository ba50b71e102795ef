"""The commands and code in README.md and docs/ run as written, so the docs cannot drift from the CLI.

Every `cadenza ...` line in a code block is parsed by the CLI's own parser (a renamed or removed option
fails here); `make` lines name Makefile targets; the Python examples run on the tiny checkpoint. The
commands' own behaviour is tested on tiny data beside each command's module tests."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from cadenza import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced block, and ("", code) of each run of 4-space-indented lines."""
    blocks = [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)]
    fenceless = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    blocks += [("", m.group(0)) for m in re.finditer(r"(?:^    \S.*\n?)+", fenceless, re.M)]
    return blocks


def shell_lines(language: str, code: str) -> list[str]:
    if language not in ("", "bash", "sh", "console"):
        return []
    joined = re.sub(r"\\\n\s*", " ", code)
    return [line.strip().removeprefix("$ ") for line in joined.splitlines() if line.strip()]


def documented(program: str) -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for language, code in code_blocks(doc.read_text()):
            found += [
                (doc.name, line) for line in shell_lines(language, code) if line.startswith(program + " ")
            ]
    return found


CADENZA_LINES = documented("cadenza")


def test_the_docs_show_each_command():
    shown = {cli._find_command(shlex.split(line, comments=True)[1:])[0] for _, line in CADENZA_LINES}
    assert {
        "corpus build",
        "train",
        "generate",
        "evaluate",
        "originality",
        "similar",
        "evaluate ngram",
    } <= shown


@pytest.mark.parametrize(
    ("doc", "line"), CADENZA_LINES, ids=[f"{d}: {line[:60]}" for d, line in CADENZA_LINES]
)
def test_each_documented_command_parses(doc, line):
    parsed = cli.parse(shlex.split(line, comments=True)[1:])
    assert parsed is not None, f"{doc}: {line} names no command"


def test_each_documented_make_target_exists():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))
    lines = documented("make")
    assert lines
    for doc, line in lines:
        assert shlex.split(line, comments=True)[1] in targets, f"{doc}: {line}"


PYTHON_EXAMPLES = [
    (doc.name, code)
    for doc in DOCS
    for language, code in code_blocks(doc.read_text())
    if language == "python" and "Composer.from_pretrained" in code
]


@pytest.fixture(scope="module")
def tiny_adapters(tiny_checkpoint, tmp_path_factory) -> dict[str, Path]:
    """The adapters docs/finetune.md loads, fine-tuned a few steps on the tiny checkpoint."""
    from cadenza.training.finetune import FinetuneArgs, run_finetune
    from tests.conftest import make_piece

    root = tmp_path_factory.mktemp("adapters")
    made = {}
    for offset, style in enumerate(("airs", "schumann")):
        folder = root / f"{style}-scores"
        folder.mkdir()
        for i in range(12):
            make_piece(100 * offset + i, bars=4, voices=1 + offset).dump_midi(str(folder / f"{i}.mid"))
        made[style] = run_finetune(
            FinetuneArgs(
                input=str(folder), style=style, base=str(tiny_checkpoint), output_dir=str(root / style),
                corpus_out=str(root / f"{style}-corpus"), max_steps=2, eval_every=2, batch_size=4, num_proc=1,
            )
        )  # fmt: skip
    return made


@pytest.mark.parametrize(("doc", "code"), PYTHON_EXAMPLES, ids=[d for d, _ in PYTHON_EXAMPLES])
def test_each_python_example_runs(doc, code, tiny_checkpoint, tmp_path, monkeypatch, request):
    monkeypatch.chdir(tmp_path)
    code = code.replace('"checkpoints/cadenza-base"', repr(str(tiny_checkpoint)))
    code = re.sub(r"bars=(8|16)", "bars=2", code).replace('"irish_fiddle"', '"bach"')
    if "load_adapter" in code:
        for style, folder in request.getfixturevalue("tiny_adapters").items():
            code = code.replace(f'"adapters/{style}"', repr(str(folder)))
    namespace: dict = {}
    exec(compile(code, doc, "exec"), namespace)
    if "render" in code:
        assert {p.suffix for p in (tmp_path / "out").iterdir()} == {".mid", ".musicxml", ".png", ".wav"}
    if "load_adapter" in code:
        assert namespace["airs"][0].style == "airs" and namespace["chorale"][0].style == "bach"
