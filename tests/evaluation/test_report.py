"""`cadenza evaluate` end to end on a tiny corpus and a tiny model trained in the test, and its parts."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import symusic

from cadenza.cli import main
from cadenza.evaluation.report import (
    COLUMNS,
    COMPARED,
    REAL,
    EvaluateArgs,
    columns,
    model_label,
    opening,
    real_ranges,
    run_evaluate,
    summarize,
    update_card,
)
from cadenza.tokenization.tokenizer import CadenzaTokenizer
from tests.conftest import make_piece


@pytest.fixture(scope="module")
def evaluated(tiny_model, tiny_corpus_dir, tmp_path_factory) -> tuple[dict, EvaluateArgs]:
    model_dir = tmp_path_factory.mktemp("eval") / "tiny-v2"
    shutil.copytree(tiny_model, model_dir)
    args = EvaluateArgs(
        models=[str(model_dir), "ngram"],
        corpus=tiny_corpus_dir,
        out=str(model_dir.parent / "report"),
        pieces_per_style=3,
        bars=2,
        real_per_style=4,
        train_per_style=6,
        ngram_order=3,
        num_proc=1,
        update_card=True,
    )
    return run_evaluate(args), args


def test_evaluate_writes_the_report_and_plots(evaluated):
    report, args = evaluated
    out = args.out
    saved = json.loads(open(f"{out}/report.json").read())
    assert list(saved["sets"]) == [REAL, "tiny-v2", "3-gram"]
    for label in ("tiny-v2", "3-gram"):
        summary = saved["sets"][label]["summary"]
        assert summary["all"]["pieces"] == 6 and list(summary["styles"]) == ["alpha", "beta"]
        assert summary["all"]["valid"] == 1.0  # constrained decoding: every piece decodes to notes
        assert set(saved["sets"][label]["oa"]["alpha"]) == set(COMPARED)
    # The tiny corpus has 4 held-out pieces (validation + test), 4 of each style: all of them are drawn.
    assert saved["sets"][REAL]["summary"]["all"]["pieces"] == 8
    real = saved["sets"][REAL]
    assert real["summary"]["all"]["as_style"] == pytest.approx(saved["classifier"]["accuracy"])
    assert sum(map(sum, saved["classifier"]["confusion_matrix"])) == 8
    # Copying is judged against the held-out openings' own 95th percentile, per style.
    assert {s: b["pieces"] for s, b in saved["human_baseline"].items()} == {"alpha": 4, "beta": 4}
    text = open(f"{out}/report.md").read()
    for label in (REAL, "tiny-v2", "3-gram"):
        assert f"| {label} | " in text
    assert "## Likelihood" in text and "### tiny-v2" in text and "| alpha | " in text.partition("Copying:")[2]
    for name in ("oa.png", "confusion.png", "features-alpha.png", "features-beta.png"):
        assert open(f"{out}/{name}", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert report["likelihood"]["tiny-v2"]["model_nll"] > 0


def test_evaluate_updates_each_checkpoint_card_once(evaluated):
    report, args = evaluated
    card = open(f"{args.models[0]}/README.md").read()
    assert card.count("## Evaluation") == 1 and "## Training" in card
    assert f"| {REAL} | " in card and "| tiny-v2 | " in card and "3-gram" in card  # NLL beside the n-gram


def test_evaluate_refuses_bad_options(tiny_model, tiny_corpus_dir, tmp_path, capsys):
    base = ["evaluate", "--corpus", tiny_corpus_dir, "--out", str(tmp_path / "r")]
    assert main([*base, "--models", tiny_model, "--pieces_per_style", "1"]) == 2
    assert "--pieces_per_style must be at least 2, got 1" in capsys.readouterr().err
    assert main([*base, "--models", tiny_model, "--styles", "gamma"]) == 2
    assert "unknown style 'gamma'; the corpus has: alpha, beta" in capsys.readouterr().err
    assert main([*base, "--models", "ngram"]) == 2
    assert "name a transformer checkpoint among --models or with --reference" in capsys.readouterr().err
    assert main([*base, "--models", str(tmp_path / "missing")]) == 2
    assert "not a checkpoint folder" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_opening_keeps_the_first_bars(tiny_model):
    tokenizer = CadenzaTokenizer.load(tiny_model)
    piece = make_piece(3, bars=4, voices=1)
    cut = opening(tokenizer, piece, 2)
    two_bars = 2 * 4  # quarters in two bars of 4/4
    onsets = [n.time / cut.ticks_per_quarter for t in cut.tracks for n in t.notes]
    assert isinstance(cut, symusic.Score) and max(onsets) < two_bars
    assert len(onsets) == sum(n.time / piece.ticks_per_quarter < two_bars for n in piece.tracks[0].notes)


def test_columns_of_scalars_and_histograms():
    assert [COLUMNS[i] for i in columns("pitch_range")] == ["pitch_range"]
    assert [COLUMNS[i] for i in columns("pitch_class")] == [f"pitch_class_{pc}" for pc in range(12)]
    assert len(columns("interval")) == 25 and "pitch_class_entropy" not in [
        COLUMNS[i] for i in columns("pitch_class")
    ]


def test_summarize_leaves_out_what_was_not_asked_or_not_defined():
    roll_measures = dict(empty_bars=0.25, pitch_classes=2.0, qualified_notes=1.0, tonal_distance=math.nan)
    measures = [
        dict(style="a", valid=True, bars_ok=True, key_ok=True, meter_share=1.0, predicted="a",
             flagged=False, copy_share=0.5, copy_longest=10, notes=1, **roll_measures),
        dict(style="a", valid=False, bars_ok=False, key_ok=None, meter_share=0.5, predicted="b",
             flagged=None, copy_share=math.nan, copy_longest=0, notes=1, **roll_measures),
        dict(style="b", valid=True, bars_ok=True, key_ok=False, meter_share=None, predicted="b",
             flagged=True, copy_share=1.0, copy_longest=25, notes=2, **{**roll_measures, "empty_bars": 1.0}),
    ]  # fmt: skip
    rows = np.full((3, len(COLUMNS)), np.nan)
    rows[0, COLUMNS.index("consonance")] = 0.4
    rows[2, COLUMNS.index("consonance")] = 0.8
    oa = {"a": {"pitch_range": {"oa": 0.5, "kl": 1.0}}, "b": {"pitch_range": {"oa": math.nan, "kl": 3.0}}}
    entropy, density = COLUMNS.index("pitch_class_entropy"), COLUMNS.index("note_density")
    rows[:, entropy], rows[:, density] = [2.0, 3.5, 2.0], [1.0, 1.0, 1.0]
    ranges = {"a": np.array([[1.0, 0.5], [3.0, 2.0]])}  # style a's real 5% and 95%; b has none
    summary = summarize(measures, rows, oa, ["a", "b"], ranges)
    whole = summary["all"]
    assert whole["in_real_range"] == 0.5  # piece 1's entropy is above a's range; b's piece has no range
    assert whole["distinct"] == pytest.approx(2 / 3) and summary["styles"]["a"]["distinct"] == 0.5
    assert whole["pieces"] == 3 and whole["valid"] == pytest.approx(2 / 3)
    assert whole["key_ok"] == 0.5 and whole["meter_share"] == 0.75  # a None is not asked
    assert whole["as_style"] == pytest.approx(2 / 3) and whole["flagged"] == 0.5
    assert whole["copy_share"] == 0.75 and whole["consonance"] == pytest.approx(0.6)
    assert whole["copy_longest"] == 25 and summary["styles"]["a"]["copy_longest"] == 10
    assert whole["oa"] == 0.5 and whole["kl"] == 2.0
    assert summary["styles"]["a"]["as_style"] == 0.5 and summary["styles"]["b"]["flagged"] == 1.0
    assert math.isnan(summary["styles"]["b"]["oa"]) and math.isnan(whole["chord_share"])
    assert whole["empty_bars"] == 0.5 and math.isnan(whole["tonal_distance"])  # one voice: no TD


def test_update_card_replaces_only_its_section(tmp_path):
    card = tmp_path / "README.md"
    card.write_text("# m\n\n## Evaluation\n\nold\n\n## Configuration\n\nkeep\n")
    update_card(card, "## Evaluation\n\nnew\n")
    assert card.read_text() == "# m\n\n## Evaluation\n\nnew\n\n## Configuration\n\nkeep\n"
    fresh = tmp_path / "NEW.md"
    update_card(fresh, "## Evaluation\n\nx\n")
    assert fresh.read_text() == "## Evaluation\n\nx\n"


def test_a_run_s_model_is_labelled_by_its_run():
    assert (
        model_label("runs/v2/model", 5) == "v2"
        and model_label("checkpoints/cadenza-base", 5) == "cadenza-base"
    )
    assert model_label("ngram", 4) == "4-gram"


def test_evaluate_leaves_a_checkpoint_alone_unless_asked(tiny_model, tiny_corpus_dir, tmp_path):
    model_dir = tmp_path / "shipped"
    shutil.copytree(tiny_model, model_dir)
    before = {p.name: p.read_bytes() for p in model_dir.iterdir() if p.is_file()}
    args = EvaluateArgs(
        models=[str(model_dir)], corpus=tiny_corpus_dir, out=str(tmp_path / "r"), pieces_per_style=2,
        bars=1, real_per_style=2, train_per_style=2, nll=False, ngram_order=2, num_proc=1,
    )  # fmt: skip
    assert args.update_card is False  # the default
    run_evaluate(args)
    assert {p.name: p.read_bytes() for p in model_dir.iterdir() if p.is_file()} == before


def test_an_adapter_is_judged_beside_its_base_on_a_merged_corpus(tiny_model, tiny_corpus_dir, tmp_path):
    """A fine-tuned style: its folder's corpus merged with the base's (`cadenza corpus merge`), so the
    classifier learns the new style too; the adapter is evaluated as its base serving it."""
    from cadenza.data.corpus import CorpusBuildArgs, CorpusMergeArgs, build_corpus, load_corpus, merge_corpora
    from cadenza.training.finetune import FinetuneArgs, run_finetune

    folder = tmp_path / "waltzes"
    folder.mkdir()
    for i in range(24):
        make_piece(700 + i, bars=4, voices=1, numerator=3).dump_midi(str(folder / f"w{i}.mid"))
    build_corpus(CorpusBuildArgs(input=str(folder), style="waltz", out=str(tmp_path / "waltz-corpus")))
    merged = tmp_path / "merged"
    report = merge_corpora(
        CorpusMergeArgs(inputs=[tiny_corpus_dir, str(tmp_path / "waltz-corpus")], out=str(merged))
    )
    assert list(report.counts) == ["alpha", "beta", "waltz"] and sum(report.counts["waltz"].values()) == 24
    assert (
        len(load_corpus(merged)["train"])
        == len(load_corpus(tiny_corpus_dir)["train"]) + report.counts["waltz"]["train"]
    )
    with pytest.raises(Exception, match="style 'waltz' is in both"):
        merge_corpora(
            CorpusMergeArgs(inputs=[str(merged), str(tmp_path / "waltz-corpus")], out=str(tmp_path / "m2"))
        )

    adapter = run_finetune(
        FinetuneArgs(
            input=str(folder), style="waltz", base=tiny_model, output_dir=str(tmp_path / "adapter"),
            corpus_out=str(tmp_path / "waltz-corpus"), max_steps=2, eval_every=2, batch_size=4, num_proc=1,
        )
    )  # fmt: skip
    args = EvaluateArgs(
        models=[str(adapter), tiny_model], corpus=str(merged), out=str(tmp_path / "r"), pieces_per_style=2,
        bars=1, real_per_style=2, train_per_style=4, ngram_order=2, num_proc=1,
    )  # fmt: skip
    result = run_evaluate(args)
    assert result["styles"] == ["alpha", "beta", "waltz"]
    assert result["classifier"]["labels"] == ["alpha", "beta", "waltz"]  # it learned the new style too
    adapter_styles = [piece["style"] for piece in result["sets"]["adapter"]["pieces"]]
    assert adapter_styles.count("waltz") == 2 and adapter_styles.count("alpha") == 2  # base styles too
    base_label = model_label(tiny_model, 2)
    assert set(result["likelihood"]) == {base_label}  # the base's NLL; an adapter's: benchmarks/finetune.py


def test_real_ranges_are_each_styles_5th_to_95th_percentile():
    rows = np.full((101, len(COLUMNS)), np.nan)
    rows[:, COLUMNS.index("pitch_class_entropy")] = np.arange(101) / 10  # 0.0 .. 10.0
    rows[:, COLUMNS.index("note_density")] = 2.0
    ((low, high),) = real_ranges(rows, ["a"] * 101).values()
    assert low.tolist() == pytest.approx([0.5, 2.0]) and high.tolist() == pytest.approx([9.5, 2.0])
