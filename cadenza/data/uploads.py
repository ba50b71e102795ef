"""A user's uploaded scores (several files, or zip archives of them) gathered into one folder to build a
corpus from, safely.

A zip is read member by member, never extracted as a whole: a member whose name climbs out of the folder
("../x.mid", "/etc/x") or that is a symbolic link refuses the whole archive (it was made to attack, not
to share music); each member is read up to `MAX_UPLOAD_BYTES` whatever its header claims (a zip bomb
claims little), and an archive past `MAX_ARCHIVE_BYTES` or `MAX_MEMBERS` stops. Files that are not scores
are skipped and named. Everything lands flat in the destination folder under numbered names, so no name
from the upload decides where anything is written.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cadenza.data.checks import SUPPORTED_SUFFIXES
from cadenza.errors import InputFileError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # one uploaded score, alone (the app) or in an archive
MAX_ARCHIVE_BYTES = 200 * 1024 * 1024  # all of an archive's scores, uncompressed
MAX_MEMBERS = 5000


@dataclass
class Gathered:
    folder: Path
    scores: list[str] = field(default_factory=list)  # names as uploaded ("book1.abc", "op12.zip/n1.mxl")
    skipped: list[str] = field(default_factory=list)  # not scores, with why


def gather_scores(uploads: list[str | Path], dest: str | Path) -> Gathered:
    """Copy the score files among `uploads`, and the scores inside any zip among them, into `dest`."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    gathered = Gathered(dest)
    for upload in map(Path, uploads):
        if upload.suffix.lower() == ".zip":
            _gather_zip(upload, gathered)
        elif upload.suffix.lower() in SUPPORTED_SUFFIXES:
            shutil.copyfile(upload, _slot(gathered, upload.name))
            gathered.scores.append(upload.name)
        else:
            gathered.skipped.append(f"{upload.name} (not a score file)")
    return gathered


def _slot(gathered: Gathered, name: str) -> Path:
    """A fresh path in the folder for a file called `name` (only its suffix is kept from the upload)."""
    return gathered.folder / f"{len(gathered.scores):05d}{Path(name).suffix.lower()}"


def _gather_zip(archive: Path, gathered: Gathered) -> None:
    if not zipfile.is_zipfile(archive):
        raise InputFileError(archive.name, "not a zip archive (or a damaged one)")
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise InputFileError(archive.name, f"holds {len(members)} files; the limit is {MAX_MEMBERS}")
        for info in members:  # checked before anything is read: a hostile archive gives nothing
            path = PurePosixPath(info.filename.replace("\\", "/"))
            if path.is_absolute() or ".." in path.parts or ":" in info.filename:
                raise InputFileError(archive.name, f"member {info.filename!r} points outside the archive")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise InputFileError(archive.name, f"member {info.filename!r} is a symbolic link")
        total = 0
        for info in members:
            name = f"{archive.name}/{info.filename}"
            if info.is_dir():
                continue
            if PurePosixPath(info.filename).suffix.lower() not in SUPPORTED_SUFFIXES:
                gathered.skipped.append(f"{name} (not a score file)")
                continue
            with zf.open(info) as member:
                data = member.read(MAX_UPLOAD_BYTES + 1)
            if len(data) > MAX_UPLOAD_BYTES:
                raise InputFileError(
                    archive.name, f"member {info.filename!r} is over {MAX_UPLOAD_BYTES // 2**20} MB"
                )
            total += len(data)
            if total > MAX_ARCHIVE_BYTES:
                raise InputFileError(
                    archive.name, f"unpacks to over {MAX_ARCHIVE_BYTES // 2**20} MB of scores"
                )
            _slot(gathered, info.filename).write_bytes(data)
            gathered.scores.append(name)
