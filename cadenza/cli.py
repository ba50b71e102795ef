"""The `cadenza` console script.

Each subcommand is one dataclass of options (parsed with `transformers.HfArgumentParser`) and one function
that takes it; an int it returns is the exit status (`cadenza originality` exits 3 on a flagged piece).
The leading required fields may also be given without their flags (`cadenza originality piece.mid`,
`cadenza vae interpolate a.mid b.mid`). Modules are
imported only when their command runs, so `cadenza --help` stays fast.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys

# command words -> (module, options dataclass, function, one-line help)
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "corpus build": (
        "cadenza.data.corpus",
        "CorpusBuildArgs",
        "run_corpus_build",
        "convert the embedded music21 corpus (or --input DIR) into a dataset with splits",
    ),
    "corpus merge": (
        "cadenza.data.corpus",
        "CorpusMergeArgs",
        "run_corpus_merge",
        "join built corpora into one (a fine-tuned style beside the embedded ones, for cadenza evaluate)",
    ),
    "corpus songs": (
        "cadenza.data.songs",
        "SongCorpusArgs",
        "run_song_corpus",
        "every texted melody of a built corpus, with its syllables on its notes (for lyrics to melody)",
    ),
    "shards write": (
        "cadenza.training.prepare",
        "ShardWriteArgs",
        "run_write_shards",
        "a built corpus as flat uint16 token shards (transpositions applied) for `shards train`",
    ),
    "shards train": (
        "cadenza.training.shards",
        "ShardTrainArgs",
        "run_shard_train",
        "train from token shards with torch alone (runs on a GPU machine without the music libraries)",
    ),
    "train": ("cadenza.training.train", "TrainArgs", "run_train", "pretrain a model on a built corpus"),
    "finetune": (
        "cadenza.training.finetune",
        "FinetuneArgs",
        "run_finetune",
        "a LoRA adapter that writes a folder of scores' style under a new style tag",
    ),
    "prefer": (
        "cadenza.training.prefer",
        "PreferArgs",
        "run_prefer",
        "one round of preference tuning: sample, rank with the critic, DPO on the best against the worst",
    ),
    "generate": ("cadenza.inference.cli", "GenerateArgs", "run_generate", "write new pieces with a model"),
    "infill": (
        "cadenza.inference.regenerate",
        "InfillArgs",
        "run_infill",
        "write some bars of a piece again (--bars 5-8), knowing both sides, keeping every other bar",
    ),
    "song": (
        "cadenza.inference.songs",
        "SongArgs",
        "run_song",
        "set lyrics to a melody (or write lyrics and melody together) with the lyrics adapter",
    ),
    "rhythm": (
        "cadenza.inference.rhythm",
        "RhythmArgs",
        "run_rhythm",
        "the lyrics -> rhythm model (a syllable's place in the bar, length and breath) from the songs corpus",
    ),
    "cadence": (
        "cadenza.inference.cadence",
        "CadenceArgs",
        "run_cadence",
        "where real phrases end (scale degrees of line ends and song ends), which the singer's pitches heed",
    ),
    "profile": (
        "cadenza.data.profiles",
        "ProfileArgs",
        "run_profile",
        "save a checkpoint's style profiles (instruments, chord size) from its corpus",
    ),
    "evaluate": (
        "cadenza.evaluation.report",
        "EvaluateArgs",
        "run_evaluate",
        "judge models x styles: validity, key, meter, style, OA/KL, harmony, copying, NLL; report.md",
    ),
    "originality": (
        "cadenza.evaluation.originality",
        "OriginalityArgs",
        "run_originality",
        "how much of a piece's melody is in the corpus, against humans of its style (exit 3: flagged)",
    ),
    "similar": (
        "cadenza.evaluation.similarity",
        "SimilarArgs",
        "run_similar",
        "the corpus pieces most like a piece (rhythm, intervals, texture, harmony)",
    ),
    "rolls": (
        "cadenza.gan_vae.segments",
        "RollsArgs",
        "run_rolls",
        "cut a built corpus into piano-roll segments per split (the GAN and VAE baselines' data)",
    ),
    "gan train": (
        "cadenza.gan_vae.train",
        "GanTrainArgs",
        "run_gan_train",
        "train the GAN baseline on rolls",
    ),
    "gan sample": (
        "cadenza.gan_vae.composer",
        "GanSampleArgs",
        "run_gan_sample",
        "write pieces with the GAN",
    ),
    "vae train": (
        "cadenza.gan_vae.train",
        "VaeTrainArgs",
        "run_vae_train",
        "train the VAE baseline on rolls",
    ),
    "vae sample": (
        "cadenza.gan_vae.composer",
        "VaeSampleArgs",
        "run_vae_sample",
        "write pieces with the VAE",
    ),
    "vae interpolate": (
        "cadenza.gan_vae.composer",
        "VaeInterpolateArgs",
        "run_vae_interpolate",
        "walk the VAE's latent space from one piece to another (A.mid B.mid --steps 8), one file",
    ),
    "vae reconstruct": (
        "cadenza.gan_vae.composer",
        "VaeReconstructArgs",
        "run_vae_reconstruct",
        "encode a piece with the VAE and decode it back; prints how much came back right",
    ),
    "analyze": (
        "cadenza.evaluation.learner",
        "AnalyzeArgs",
        "run_analyze",
        "a learner's view of a piece: keys, a Roman numeral per beat, cadences and voice-leading faults",
    ),
    "evaluate ngram": (
        "cadenza.evaluation.likelihood",
        "NGramArgs",
        "run_ngram",
        "the n-gram baseline NLL on a corpus",
    ),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: cadenza <command> [options]   (cadenza <command> --help for its options)",
        "",
        "commands:",
    ]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, _, _, help_) in COMMANDS.items()]
    return "\n".join(lines)


def _find_command(argv: list[str]) -> tuple[str, list[str]] | None:
    for name in sorted(COMMANDS, key=lambda n: -len(n.split())):
        words = name.split()
        if argv[: len(words)] == words:
            return name, argv[len(words) :]
    return None


def _flagged(options, rest: list[str]) -> list[str]:
    """The leading required fields given without their flags (`interpolate a.mid b.mid`), flagged."""
    out, rest = [], list(rest)
    for option in dataclasses.fields(options):
        required = option.default is dataclasses.MISSING and option.default_factory is dataclasses.MISSING
        if not (required and rest and not rest[0].startswith("-")):
            break
        out += [f"--{option.name}", rest.pop(0)]
    return out + rest


def parse(argv: list[str]):
    """`argv` (without "cadenza") -> (its command's module, its options dataclass filled in), or None when
    it names no command. Bad options exit through argparse (status 2, its message)."""
    found = _find_command(argv)
    if found is None:
        return None
    name, rest = found
    module_name, args_name, _, help_ = COMMANDS[name]
    from transformers import HfArgumentParser

    module = importlib.import_module(module_name)
    options = getattr(module, args_name)
    rest = _flagged(options, rest)
    parser = HfArgumentParser(options, prog=f"cadenza {name}", description=help_)
    args, unknown = parser.parse_args_into_dataclasses(rest, return_remaining_strings=True)
    if unknown:  # argparse's own message and exit status 2, not HfArgumentParser's ValueError traceback
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return module, args


def main(argv: list[str] | None = None) -> int:
    from cadenza.errors import CadenzaError

    argv = sys.argv[1:] if argv is None else argv
    parsed = parse(argv)
    if parsed is None:
        print(_usage(), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    module, args = parsed
    function = COMMANDS[_find_command(argv)[0]][2]
    try:
        status = getattr(module, function)(args)
    except CadenzaError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return status if isinstance(status, int) else 0  # other results (run_train's folder) are not statuses


if __name__ == "__main__":
    sys.exit(main())
