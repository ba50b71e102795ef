"""Fuzzing: mutated copies of small MIDI, ABC and MusicXML files (byte flips, truncation, a duplicated
chunk of bytes), made here from fixed seeds, go through a corpus build and through `generate --prompt`.
Each one is kept or refused with a one-line error; none may raise anything else or hang."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cadenza.data import convert
from cadenza.data.corpus import CorpusBuildArgs, build_corpus
from cadenza.errors import CadenzaError
from tests.conftest import make_piece
from tests.data.conftest import ABC_TWO_TUNES

MUTANTS_PER_KIND = 6


def originals(folder: Path) -> dict[str, bytes]:
    from music21 import meter, note, stream

    part = stream.Part([meter.TimeSignature("3/4")] + [note.Note(p, quarterLength=1) for p in "CDEFGA"])
    musicxml = folder / "seed.musicxml"
    stream.Score([part]).write("musicxml", fp=musicxml)
    return {
        ".mid": make_piece(1, bars=4, voices=2).dumps_midi(),
        ".abc": ABC_TWO_TUNES.encode(),
        ".musicxml": musicxml.read_bytes(),
    }


def mutants(data: bytes, rng: random.Random) -> list[bytes]:
    out = []
    for _ in range(MUTANTS_PER_KIND):
        flipped = bytearray(data)
        for index in rng.sample(range(len(data)), k=max(1, len(data) // 100)):
            flipped[index] ^= 1 << rng.randrange(8)
        out.append(bytes(flipped))
        out.append(data[: rng.randrange(1, len(data))])
        start = rng.randrange(len(data))
        chunk = data[start : start + rng.randrange(1, 64)]
        at = rng.randrange(len(data))
        out.append(data[:at] + chunk * rng.randrange(1, 4) + data[at:])
    return out


@pytest.fixture(scope="module")
def fuzz_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    rng = random.Random(11)
    for suffix, data in originals(folder).items():
        for index, mutant in enumerate(mutants(data, rng)):
            (folder / f"mutant{index:02d}{suffix}").write_bytes(mutant)
    (folder / "seed.musicxml").unlink()
    return folder


@pytest.mark.timeout(300)
def test_fuzzed_files_through_a_corpus_build(fuzz_folder: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setattr(convert, "FILE_SECONDS", 20)
    files = sorted(fuzz_folder.iterdir())
    report = build_corpus(
        CorpusBuildArgs(input=str(fuzz_folder), style="fuzz", out=str(tmp_path / "corpus"), num_proc=2)
    )
    failed = {failure["path"].split("#")[0] for failure in report.failures}
    kept = sum(report.counts.get("fuzz", {}).values()) + report.duplicates
    assert kept > 0 and failed  # some mutants still read, others do not
    assert all("\n" not in failure["problem"] for failure in report.failures)
    assert len(files) == 3 * 3 * MUTANTS_PER_KIND


@pytest.mark.timeout(300)
def test_fuzzed_prompts_through_generate(fuzz_folder: Path, composer):
    outcomes = {"continued": 0, "refused": 0}
    for path in sorted(fuzz_folder.iterdir()):
        try:
            composer.generate("bach", bars=1, seed=0, prompt_midi=path, prompt_bars=1)
            outcomes["continued"] += 1
        except CadenzaError as err:
            assert "\n" not in str(err) and path.name in str(err)
            outcomes["refused"] += 1
    assert outcomes["continued"] > 0 and outcomes["refused"] > 0
