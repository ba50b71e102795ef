import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cadenza.checkpoint import load_checkpoint
from cadenza.errors import CadenzaError, InputFileError
from cadenza.tokenization.grammar import RemiGrammar
from cadenza.tokenization.tokenizer import CadenzaTokenizer
from cadenza.training.prepare import ShardWriteArgs, run_write_shards
from cadenza.training.shards import (
    LENGTH,
    SHIFT,
    ChunkRows,
    IndexSampler,
    ShardMeta,
    ShardRows,
    ShardTrainArgs,
    read_split,
    run_shard_train,
)

TINY = dict(n_layer=1, n_embd=32, n_head=2, n_positions=128, batch_size=4, warmup_steps=2)


@pytest.fixture(scope="module")
def shards(tiny_corpus_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shards")
    args = ShardWriteArgs(corpus=tiny_corpus_dir, out=str(out), bpe_vocab=700, transpose=1, chunk_len=128)
    run_write_shards(args)
    return out


def test_shards_hold_every_train_piece_at_every_shift_with_its_key_moved(shards):
    meta = ShardMeta.read(shards)
    tokenizer = CadenzaTokenizer.load(shards)
    tokens, entries = read_split(shards, "train")
    assert meta.counts["train"]["pieces"] == 24
    assert sorted(set(entries[:, SHIFT])) == [-1, 0, 1]
    assert len(entries) == 24 * 3  # the tiny pieces stay inside the pitch range at +-1
    assert entries[:, LENGTH].sum() == len(tokens) == meta.counts["train"]["tokens"]
    assert set(meta.style_tokens) == {"alpha", "beta"}
    up = entries[(entries[:, 3] == 0) & (entries[:, SHIFT] == 1)][0]
    same = entries[(entries[:, 3] == 0) & (entries[:, SHIFT] == 0)][0]
    moved = tokenizer.unmerge(tokens[up[0] : up[0] + up[1]].tolist())
    plain = tokenizer.unmerge(tokens[same[0] : same[0] + same[1]].tolist())
    assert tokenizer.key_of(moved[2]) == (1, "major") and tokenizer.key_of(plain[2]) == (0, "major")
    names = lambda ids: [tokenizer.token(t) for t in ids]  # noqa: E731
    pitches = lambda ids: [int(n[6:]) for n in names(ids) if n.startswith("Pitch_")]  # noqa: E731
    assert pitches(moved) == [p + 1 for p in pitches(plain)]
    assert tokenizer.has_infill and meta.hole_id == tokenizer.hole_id and meta.fill_id == tokenizer.fill_id


def test_validation_shard_holds_the_bar_aligned_chunks(shards):
    tokenizer = CadenzaTokenizer.load(shards)
    rows = ChunkRows(shards)
    assert len(rows) >= 4
    for i in range(len(rows)):
        row = rows[i]
        assert len(row) <= 128 and row[0] == tokenizer.bos_id
        assert RemiGrammar(tokenizer).errors(tokenizer.unmerge(row)) == 0


def test_rows_are_grammatical_seeded_and_infilling_rows_follow_mmm(shards):
    tokenizer = CadenzaTokenizer.load(shards)
    grammar = RemiGrammar(tokenizer)
    plain = ShardRows(shards, 128, infill_share=0.0, seed=3)
    assert plain[5] == ShardRows(shards, 128, infill_share=0.0, seed=3)[5]  # a resumed run replays rows
    assert plain[5] != plain[6]
    for i in range(20):
        row = plain[i]
        assert 0 < len(row) <= 128 and row[0] == tokenizer.bos_id
        first = row[: row.index(tokenizer.bos_id, 1)] if tokenizer.bos_id in row[1:] else row
        assert grammar.errors(tokenizer.unmerge(first)) == 0
    assert all(len(ShardRows(shards, 12, infill_share=0.5)[i]) <= 12 for i in range(30))  # bars cut to fit
    infill = ShardRows(shards, 128, infill_share=1.0, seed=3)
    for i in range(20):
        row = infill[i]
        assert len(row) <= 128
        if tokenizer.fill_id not in row:
            continue  # a piece too short for a hole gives a plain row
        holes = row.count(tokenizer.hole_id)
        fill = row.index(tokenizer.fill_id)
        middle = tokenizer.unmerge(row[fill + 1 : -1])
        assert 1 <= holes <= 8 and row[-1] == tokenizer.eos_id
        assert middle.count(tokenizer.bar_id) == holes  # the bars taken out, in order after the marker
        assert row.index(tokenizer.hole_id) < fill
        rest = [t for t in row[:fill] if t != tokenizer.hole_id]
        assert grammar.errors(tokenizer.unmerge(rest)) == 0


def test_index_sampler_moves_on_by_epoch():
    sampler = IndexSampler(3)
    assert list(sampler) == [0, 1, 2]
    sampler.set_epoch(2)
    assert list(sampler) == [6, 7, 8]


def test_shard_training_learns_and_writes_a_checkpoint_the_composer_loads(shards, tmp_path):
    out = tmp_path / "run"
    args = ShardTrainArgs(
        shards=str(shards), output_dir=str(out), max_steps=20, eval_every=10, save_every=10, lr=3e-3, **TINY
    )
    final = run_shard_train(args)
    rows = (out / "metrics.csv").read_text().splitlines()
    first, last = float(rows[1].split(",")[4]), float(rows[-1].split(",")[4])
    assert last < first
    model, tokenizer = load_checkpoint(final)
    assert tokenizer.has_infill and (final / "style_profiles.json").is_file()
    assert json.loads((final / "generation_config.json").read_text())["do_sample"] is True
    from cadenza.inference.composer import Composer

    piece = Composer.from_pretrained(final).generate(style="alpha", bars=2, seed=1)[0]
    assert piece.score.note_num() > 0
    resumed = ShardTrainArgs(**{**args.__dict__, "max_steps": 30, "resume": True})
    run_shard_train(resumed)
    assert (out / "metrics.csv").read_text().splitlines()[-1].startswith("30,")


def test_shard_training_imports_no_music_library(shards, tmp_path):
    """The GPU machine has torch, transformers and accelerate, not miditok, symusic, music21 or datasets."""
    blocked = ["miditok", "symusic", "music21", "datasets", "cadenza.tokenization.tokenizer"]
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "from cadenza.cli import main\n"
        f"sys.exit(main(['shards', 'train', '--shards', {str(shards)!r},"
        f" '--output_dir', {str(tmp_path / 'r')!r},"
        " '--n_layer', '1', '--n_embd', '32', '--n_head', '2', '--n_positions', '128', '--max_steps', '3',"
        " '--batch_size', '2', '--eval_every', '3', '--eval_batches', '1']))\n"
    )
    root = Path(__file__).parents[2]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "r" / "model" / "model.safetensors").is_file()


def test_bad_shard_folders_fail_in_one_line(shards, tmp_path):
    with pytest.raises(InputFileError, match="no token shards"):
        ShardMeta.read(tmp_path)
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in shards.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    (copy / "tokenizer.json").write_text((copy / "tokenizer.json").read_text().replace("Pitch", "Pitsch"))
    with pytest.raises(InputFileError, match="not the one its shards were cut by"):
        ShardMeta.read(copy)
    with pytest.raises(CadenzaError, match="infill_share"):
        run_shard_train(ShardTrainArgs(shards=str(shards), output_dir=str(tmp_path / "x"), infill_share=2.0))
    assert np.load(shards / "train.idx.npy").dtype == np.int64
