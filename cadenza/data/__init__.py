"""Score files -> symusic Scores with clear errors; style tags; leak-free splits; the corpus on disk."""

from cadenza.data.corpus import CorpusBuildArgs, CorpusReport, build_corpus, load_corpus
from cadenza.data.loading import ScorePiece, load_pieces, normalize_score, read_pieces
from cadenza.data.styles import EMBEDDED_STYLES, validate_style_name

__all__ = [
    "EMBEDDED_STYLES",
    "CorpusBuildArgs",
    "CorpusReport",
    "ScorePiece",
    "build_corpus",
    "load_corpus",
    "load_pieces",
    "normalize_score",
    "read_pieces",
    "validate_style_name",
]
