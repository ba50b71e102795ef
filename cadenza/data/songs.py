"""The song corpus: every texted melody of a built corpus, each note with the syllable sung on it.

`cadenza corpus songs` reads the texted pieces of a corpus (the rows whose `lyrics` are not empty) again
from their music21 source, in their written timeline (`streams.song_scores`: the corpus's own MIDI plays
repeats out, which moves the syllables off their notes), and keeps each texted part as one song: a
monophonic track with lyric events, in the split its piece already has, so the split stays leak-free by
tune. Its rows have the corpus's columns that training reads (`midi`, `style`, `key`), so a song corpus
trains with the same pipeline as any other.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from symusic import Score
from tqdm.auto import tqdm

from cadenza.data.corpus import SPLITS, embedded_root, load_corpus
from cadenza.data.streams import song_syllables
from cadenza.errors import CadenzaError, one_line
from cadenza.paths import EMBEDDED_CORPUS, SONGS_CORPUS

# Function words of the corpus's languages: a piece's language is the one whose words it uses most.
FUNCTION_WORDS = {
    "German": {"und", "der", "die", "das", "ich", "mich", "mein", "nicht", "ist", "zu", "uns", "dich", "du"},
    "Italian": {"e", "il", "che", "di", "non", "per", "mi", "io", "amor", "del", "la", "lo", "tu", "ch'"},
    "French": {"et", "le", "je", "de", "qui", "que", "mon", "est", "vous", "ne", "pas", "sui"},
    # Not "in", "qui", "non": Italian words too.
    "Latin": {"et", "est", "ad", "cum", "deus", "domine", "nobis", "sancte", "tuam", "sunt", "dei", "eius"},
}
COLUMNS = ("id", "piece", "style", "key", "voice", "language", "syllables", "notes", "midi")
_WORD_CHARS = re.compile(r"[^\w']+")


@dataclass
class SongCorpusArgs:
    corpus: str = field(default=EMBEDDED_CORPUS, metadata={"help": "a built corpus"})
    root: str | None = field(
        default=None,
        metadata={"help": "the folder its `source` paths start from (default: music21's corpus)"},
    )
    out: str = field(default=SONGS_CORPUS, metadata={"help": "where the song corpus goes"})
    min_syllables: int = field(default=8, metadata={"help": "a part with fewer syllables is not a song"})
    num_proc: int = 2


@dataclass
class SongReport:
    counts: dict[str, dict[str, int]]  # split -> style -> songs
    pieces: dict[str, int]  # style -> texted pieces
    languages: dict[str, dict[str, int]]  # style -> language -> songs
    syllables: int
    notes: int
    failed: list[str]

    def summary(self) -> str:
        songs = sum(n for styles in self.counts.values() for n in styles.values())
        lines = [f"{sum(self.pieces.values())} texted pieces -> {songs} songs "
                 f"({self.syllables:,} syllables on {self.notes:,} notes)"]  # fmt: skip
        for split, styles in self.counts.items():
            lines.append(f"  {split}: " + ", ".join(f"{style} {n}" for style, n in sorted(styles.items())))
        for style, languages in sorted(self.languages.items()):
            lines.append(f"  {style} ({self.pieces[style]} pieces): " + ", ".join(
                f"{language} {n}" for language, n in languages.most_common()))  # fmt: skip
        lines += [f"  skipped {name}" for name in self.failed]
        return "\n".join(lines)


def language_of(words: list[str]) -> str:
    """The language whose function words the text uses most ("unknown" with none of them)."""
    counts = Counter(w.lower() for w in words)
    scores = {language: sum(counts[w] for w in vocab) for language, vocab in FUNCTION_WORDS.items()}
    best = max(scores, key=scores.get)
    return best if scores[best] else "unknown"


def song_words(score: Score) -> list[str]:
    """The sung words of a song's first track, syllables joined."""
    words, word = [], ""
    for item in song_syllables(score):
        if item is None:
            continue
        word += item[0]
        if item[1]:
            words.extend(w for w in _WORD_CHARS.split(word) if w)
            word = ""
    return words


def _songs_of(row: dict, root: str, min_syllables: int) -> tuple[list[dict], str | None]:
    from music21 import converter

    from cadenza.data.streams import song_scores

    try:
        parsed = converter.parse(str(Path(root) / row["source"]))
        if row["tune"] is not None and row["tune"] >= 0 and hasattr(parsed, "getScoreByNumber"):
            parsed = parsed.getScoreByNumber(row["tune"])
        songs = song_scores(parsed, min_syllables)
    except Exception as err:  # music21 raises many kinds on odd files; one line each in the report
        return [], f"{row['id']}: {one_line(err, limit=120)}"
    out = []
    for index, song in enumerate(songs):
        track = song.tracks[0]
        out.append(
            {
                "id": f"{row['id']}#{index}",
                "piece": row["id"],
                "style": row["style"],
                "key": row["key"],
                "voice": track.name,
                "language": language_of(song_words(song)),
                "syllables": len(track.lyrics),
                "notes": len(track.notes),
                "midi": song.dumps_midi(),
            }
        )
    return out, None


def build_songs(args: SongCorpusArgs) -> SongReport:
    """The song corpus of `args.corpus`'s texted pieces, saved at `args.out` (a `DatasetDict` with the
    corpus's splits), and what it holds."""
    from datasets import Dataset, DatasetDict

    corpus = load_corpus(args.corpus)
    if "lyrics" not in corpus["train"].column_names:
        raise CadenzaError(f"{args.corpus}: no texted pieces (the corpus has no lyrics column)")
    texted = {split: [r for r in corpus[split].remove_columns("midi") if json.loads(r["lyrics"] or "[]")]
              for split in SPLITS}  # fmt: skip
    if not any(texted.values()):
        raise CadenzaError(f"{args.corpus}: no texted pieces (no row has lyrics)")
    root = args.root or str(embedded_root())
    jobs = [(split, row) for split in SPLITS for row in texted[split]]
    results: dict[str, list[dict]] = {split: [] for split in SPLITS}
    failed: list[str] = []
    with get_context("spawn").Pool(max(1, args.num_proc)) as pool:
        work = pool.imap(_songs_of_job, [(row, root, args.min_syllables) for _, row in jobs])
        for (split, _), (songs, error) in tqdm(
            zip(jobs, work, strict=True), total=len(jobs), desc="songs (pieces)"
        ):
            results[split] += songs
            failed += [error] if error else []
    empty = Dataset.from_dict({column: [] for column in COLUMNS})
    DatasetDict(
        {split: Dataset.from_list(rows) if rows else empty for split, rows in results.items()}
    ).save_to_disk(args.out)
    rows = [r for split in SPLITS for r in results[split]]
    languages: dict[str, Counter] = {}
    for r in rows:
        languages.setdefault(r["style"], Counter())[r["language"]] += 1
    report = SongReport(
        counts={split: dict(Counter(r["style"] for r in results[split])) for split in SPLITS},
        pieces=dict(Counter(r["style"] for split in SPLITS for r in texted[split])),
        languages=languages,
        syllables=sum(r["syllables"] for r in rows),
        notes=sum(r["notes"] for r in rows),
        failed=failed,
    )
    (Path(args.out) / "report.txt").write_text(report.summary() + "\n")
    return report


def _songs_of_job(job: tuple[dict, str, int]) -> tuple[list[dict], str | None]:
    return _songs_of(*job)


def run_song_corpus(args: SongCorpusArgs) -> None:
    print(build_songs(args).summary())
