"""The corpus pieces most like a given piece: `cadenza similar PIECE --k 5`.

The embedding is the style classifier's feature vector (`classifier.FEATURE_NAMES`: rhythm, interval,
texture and harmony measures) without `mean_pitch`, so that a transposed piece lands where its source
does; a feature a piece does not define (the harmony of one voice) takes the corpus mean, and every
feature is standardised over the corpus (mean 0, standard deviation 1) so that none weighs more for its
unit. Neighbours are by Euclidean distance, through scikit-learn's `NearestNeighbors`.

The train split's features are computed once and saved beside the corpus (`similarity.npz`, numpy arrays,
no pickle; the imputer, scaler and neighbour tree are fitted again on load, in well under a second).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import symusic
from sklearn.impute import SimpleImputer
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from cadenza.evaluation.classifier import FEATURE_NAMES, feature_vector
from cadenza.paths import EMBEDDED_CORPUS

INDEX_FILE = "similarity.npz"
LEFT_OUT = ("mean_pitch",)  # moves with transposition
_KEPT = np.array([name not in LEFT_OUT for name in FEATURE_NAMES])


@dataclass
class Neighbour:
    id: str
    style: str
    distance: float


class SimilarityIndex:
    """The corpus pieces' embeddings and a neighbour search over them."""

    def __init__(self, features: np.ndarray, ids: list[str], styles: list[str]) -> None:
        self.features, self.ids, self.styles = features, list(ids), list(styles)
        # keep_empty_features: a feature no corpus piece defines stays a column (of zeros once scaled)
        self.embed = make_pipeline(SimpleImputer(keep_empty_features=True), StandardScaler())
        points = self.embed.fit_transform(features[:, _KEPT])
        self.search = NearestNeighbors().fit(points)

    def query(self, score: symusic.Score, k: int = 5) -> list[Neighbour]:
        return self.nearest(feature_vector(score), k)

    def nearest(self, vector: np.ndarray, k: int = 5) -> list[Neighbour]:
        """The neighbours of a piece given as its `feature_vector`."""
        point = self.embed.transform(vector[None, _KEPT])
        distances, rows = self.search.kneighbors(point, n_neighbors=min(k, len(self.ids)))
        return [
            Neighbour(self.ids[row], self.styles[row], float(d))
            for d, row in zip(distances[0], rows[0], strict=True)
        ]

    def save(self, path: Path) -> None:
        np.savez(path, features=self.features, ids=np.array(self.ids), styles=np.array(self.styles))

    @classmethod
    def load(cls, path: Path) -> SimilarityIndex:
        with np.load(path, allow_pickle=False) as data:
            return cls(data["features"], data["ids"].tolist(), data["styles"].tolist())


def _features_of_midi(midi: bytes) -> np.ndarray:
    return feature_vector(symusic.Score.from_midi(midi))


def load_similarity(corpus_dir: str | Path, num_proc: int = 2) -> SimilarityIndex:
    """The saved index beside the corpus, built first (train split, `num_proc` processes) when missing."""
    path = Path(corpus_dir) / INDEX_FILE
    if path.is_file():
        return SimilarityIndex.load(path)
    from cadenza.data.corpus import load_corpus

    train = load_corpus(corpus_dir)["train"]
    with Pool(num_proc) as pool:
        rows = list(
            tqdm(pool.imap(_features_of_midi, train["midi"], chunksize=8), total=len(train), desc="embedding")
        )
    index = SimilarityIndex(
        np.array(rows).reshape(len(rows), len(FEATURE_NAMES)), train["id"], train["style"]
    )
    index.save(path)
    return index


@dataclass
class SimilarArgs:
    piece: str = field(metadata={"help": "the piece (any format cadenza reads)"})
    corpus: str = field(default=EMBEDDED_CORPUS, metadata={"help": "corpus folder; its index is built there"})
    k: int = field(default=5, metadata={"help": "how many neighbours"})
    num_proc: int = field(default=2, metadata={"help": "processes embedding the corpus the first time"})


def run_similar(args: SimilarArgs) -> None:
    from cadenza.data.loading import load_pieces_limited
    from cadenza.errors import CadenzaError

    if args.k < 1:
        raise CadenzaError(f"k must be at least 1, got {args.k}")
    score = load_pieces_limited(args.piece)[0].score
    neighbours = load_similarity(args.corpus, args.num_proc).query(score, args.k)
    print(f"{args.piece}: the {len(neighbours)} nearest corpus pieces (distance in standardised features)")
    for rank, n in enumerate(neighbours, start=1):
        print(f"{rank}. {n.id} ({n.style})  {n.distance:.2f}")
