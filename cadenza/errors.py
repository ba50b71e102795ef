"""User-facing errors: each one is a single line that names the file (if any) and the problem.

The CLI and the app catch `CadenzaError` and show its message; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

from pathlib import Path


class CadenzaError(Exception):
    """A problem with the user's input or environment that the user can fix."""


class InputFileError(CadenzaError):
    """A file that cannot be used, with the reason."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):  # raised in a worker process, it must arrive whole in the caller
        return (type(self), (self.path, self.problem))


class TimeLimitError(CadenzaError):
    """Work stopped because it ran past the time it was given."""


def one_line(err: BaseException, limit: int = 200) -> str:
    """An exception's message on one line, at most `limit` characters; its type's name if it has none."""
    if isinstance(err, MemoryError):  # raised with no message, or with an allocator's size
        return "out of memory"
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
