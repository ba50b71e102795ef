"""The GAN and VAE baselines end to end on a tiny corpus: segments, a few training steps, sampling,
interpolation, reconstruction and resuming, through the real commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import symusic
import torch

from cadenza.cli import main
from cadenza.data.rolls import segment_score
from cadenza.errors import CadenzaError
from cadenza.gan_vae.composer import GanComposer, VaeComposer, slerp
from cadenza.gan_vae.segments import RollsArgs, events_roll, load_segments, roll_events, run_rolls
from cadenza.gan_vae.train import GanTrainArgs, VaeTrainArgs, run_gan_train, run_vae_train
from tests.conftest import make_piece

TINY = dict(batch_size=4, max_steps=4, eval_every=2, save_every=2, cpu=True, mixed_precision="no")


@pytest.fixture(scope="module")
def rolls_dir(tiny_corpus_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rolls")
    run_rolls(RollsArgs(corpus=tiny_corpus_dir, out=str(out), hop_bars=1))
    return out


@pytest.fixture(scope="module")
def gan_dir(rolls_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gan")
    run_gan_train(
        GanTrainArgs(rolls=str(rolls_dir), output_dir=str(out), width=32, latent=8, critic_steps=2, **TINY)
    )
    return out


@pytest.fixture(scope="module")
def vae_dir(rolls_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vae")
    args = VaeTrainArgs(
        rolls=str(rolls_dir), output_dir=str(out), latent=8, decoder_width=16, kl_warmup=2, **TINY
    )
    run_vae_train(args)
    return out


def test_segments_file_gives_back_the_rolls_it_was_written_from(rolls_dir, tiny_corpus_dir):
    from cadenza.data.corpus import load_corpus

    train = load_segments(rolls_dir, "train")
    assert train.style_names == ["alpha", "beta"] and train.shape == (2, 4, 64, 84)
    first = load_corpus(tiny_corpus_dir)["train"][0]
    expected = segment_score(symusic.Score.from_midi(first["midi"]), hop_bars=1)
    assert len(train) > len(expected) > 0
    alpha = [i for i in range(len(train)) if train.styles[i] == 0]
    assert np.array_equal(train.rolls(alpha[: len(expected)]).numpy().astype(bool), np.stack(expected))


def test_events_view_round_trips_one_melody_per_track():
    roll = torch.from_numpy(np.stack(segment_score(make_piece(1, bars=4, voices=3)))).float()
    assert torch.equal(events_roll(roll_events(roll), 84), roll)


def test_gan_trains_resumes_and_samples_chained_pieces(gan_dir, rolls_dir):
    log = (gan_dir / "metrics.csv").read_text().splitlines()
    assert log[0].startswith("step,") and len(log) == 3  # evaluations at steps 2 and 4
    assert (gan_dir / "model" / "model.safetensors").is_file() and (gan_dir / "model" / "README.md").is_file()
    more = GanTrainArgs(
        rolls=str(rolls_dir), output_dir=str(gan_dir), width=32, latent=8, critic_steps=2, **TINY
    )
    more.max_steps, more.resume = 6, True
    assert run_gan_train(more)["steps"] == 6
    composer = GanComposer.from_pretrained(gan_dir / "model")
    pieces = composer.generate("beta", bars=6, num=2, seed=3)
    assert len(pieces) == 2 and all(p.score.end() <= 6 * 16 for p in pieces)
    again = composer.generate("beta", bars=6, num=2, seed=3)
    assert [p.score.note_num() for p in pieces] == [p.score.note_num() for p in again]
    with pytest.raises(CadenzaError, match="unknown style 'gamma'"):
        composer.generate("gamma")


def test_vae_trains_samples_interpolates_and_reconstructs(vae_dir, tmp_path):
    log = (vae_dir / "metrics.csv").read_text()
    assert "val_accuracy" in log and "active_dims" in log
    composer = VaeComposer.from_pretrained(vae_dir / "model")
    (piece,) = composer.generate("alpha", bars=5, seed=1)
    assert piece.bars == 5 and piece.score.end() <= 5 * 16
    a, b = make_piece(1, bars=4, voices=2), make_piece(2, bars=4, voices=2)
    a.dump_midi(tmp_path / "a.mid")
    b.dump_midi(tmp_path / "b.mid")
    out = tmp_path / "out"
    model = ["--model", str(vae_dir / "model"), "--out", str(out), "--formats", "mid"]
    status = main(["vae", "interpolate", str(tmp_path / "a.mid"), str(tmp_path / "b.mid"), "--steps", "3",
                   "--style", "alpha", *model])  # fmt: skip
    assert status == 0
    (midi,) = out.glob("interpolation-a-b.mid")
    assert symusic.Score(midi).end() <= 3 * 2 * 4 * symusic.Score(midi).ticks_per_quarter
    reconstruction, accuracy = composer.reconstruct(a, "alpha")
    assert 0.0 <= accuracy <= 1.0 and reconstruction.bars == 4


def test_slerp_ends_at_its_ends_and_keeps_the_norm_of_equal_vectors():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert torch.allclose(slerp(a, b, 0.0), a) and torch.allclose(slerp(a, b, 1.0), b)
    assert torch.isclose(slerp(a, b, 0.5).norm(), torch.tensor(1.0))


def test_bad_inputs_say_what_is_wrong(vae_dir, gan_dir, tmp_path, capsys):
    three = make_piece(1, bars=4, numerator=3)
    three.dump_midi(tmp_path / "waltz.mid")
    ok = make_piece(2, bars=4)
    ok.dump_midi(tmp_path / "ok.mid")
    (tmp_path / "junk.mid").write_bytes(b"not a midi file")
    model = ["--model", str(vae_dir / "model"), "--style", "alpha", "--out", str(tmp_path / "o")]
    assert main(["vae", "interpolate", str(tmp_path / "waltz.mid"), str(tmp_path / "ok.mid"), *model]) == 2
    assert "waltz.mid: the VAE reads pieces in 2/4, 4/4" in capsys.readouterr().err
    assert main(["vae", "reconstruct", str(tmp_path / "junk.mid"), *model]) == 2
    assert "junk.mid" in capsys.readouterr().err
    assert main(["gan", "sample", "--model", str(vae_dir / "model")]) == 2
    assert "not a trained gan folder" in capsys.readouterr().err
    assert main(["vae", "train", "--rolls", str(tmp_path / "none")]) == 2
    assert "no segments file" in capsys.readouterr().err


def test_a_vae_state_dict_holds_every_lstm_weight_in_its_own_storage():
    """On a GPU cuDNN packs an LSTM's weights into one buffer; safetensors keeps one tensor per buffer."""
    from cadenza.gan_vae.vae import Vae

    vae = Vae(["a"], latent=4, decoder_width=8)
    flat = torch.zeros(sum(p.numel() for p in vae.encoder.parameters()))
    offset = 0
    for param in vae.encoder.parameters():  # pack them as cuDNN does
        param.data = flat[offset : offset + param.numel()].view_as(param)
        offset += param.numel()
    state = vae.state_dict()
    storages = {state[name].untyped_storage().data_ptr() for name in state if name.startswith("encoder.")}
    assert len(storages) == len(list(vae.encoder.parameters()))
