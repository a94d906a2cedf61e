"""Find a dataset's files on disk, or download them into the user cache after a checksum check."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional, Union

from ..progress import NULL_REPORTER, Reporter
from ..version import ENGINE_VERSION
from .registry import DatasetFile, DatasetSpec

DATA_DIR_ENV = "HYPERSYNTH_DATA_DIR"  # folder laid out as <dataset key>/<file>, searched first
CHUNK_BYTES = 1 << 20  # download and hashing block
DOWNLOAD_TIMEOUT_S = 60.0  # per network operation, not for the whole file

PathLike = Union[str, Path]


class DatasetNotFoundError(FileNotFoundError):
    """Files a dataset needs are not on disk (and were not downloaded); the message says where to put them."""

    def __init__(self, message: str, key: str, missing: list[str], searched: list[Path]) -> None:
        super().__init__(message)
        self.key = key  # dataset key
        self.missing = missing  # file names inside the dataset folder
        self.searched = searched  # folders looked in, in order

    def __str__(self) -> str:  # FileNotFoundError would print "(errno) None"; show the message
        return str(self.args[0])


class DatasetDownloadError(OSError):
    """Every download address of a file failed (network error, wrong size or sha256); nothing was kept."""


def cache_dir() -> Path:
    """The user cache for downloaded datasets: ``$XDG_CACHE_HOME/hypersynth/data`` or ``~/.cache/hypersynth/data``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hypersynth" / "data"


def search_dirs(data_dir: Optional[PathLike] = None) -> list[Path]:
    """Folders searched for ``<key>/<file>``, in order: ``data_dir`` (default ``$HYPERSYNTH_DATA_DIR``), the cache."""
    dirs = []
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    if chosen:
        dirs.append(Path(chosen).expanduser())
    dirs.append(cache_dir())
    return dirs


def find_file(key: str, file: DatasetFile, data_dir: Optional[PathLike] = None) -> Optional[Path]:
    """The first existing ``<dir>/<key>/<file.name>`` over :func:`search_dirs`, or None."""
    for folder in search_dirs(data_dir):
        candidate = folder / key / file.name
        if candidate.is_file():
            return candidate
    return None


def fetch_files(spec: DatasetSpec, *, data_dir: Optional[PathLike] = None, allow_download: bool = False,
                reporter: Reporter = NULL_REPORTER) -> dict[str, Path]:
    """Paths of a dataset's files, found locally or (with ``allow_download``) downloaded into the cache.

    Args:
        spec: the dataset.
        data_dir: folder laid out as ``<key>/<file>``; default ``$HYPERSYNTH_DATA_DIR``. The cache is searched next.
        allow_download: fetch missing files from their public addresses (checked against their sha256).
        reporter: download progress and cancel.

    Returns:
        ``{file name: path}`` for every required file and for each optional file that is present.

    Raises:
        DatasetNotFoundError: a required file is absent (and could not be downloaded); the message names
            each missing file, its size and sha256, the folders searched and where to put it.
        DatasetDownloadError: a download failed or did not match its checksum.
    """
    found: dict[str, Path] = {}
    missing: list[DatasetFile] = []
    for file in spec.files:
        path = find_file(spec.key, file, data_dir)
        if path is not None:
            found[file.name] = path
        elif file.required:
            missing.append(file)
    downloadable = [f for f in missing if f.urls] if allow_download else []
    if len(downloadable) < len(missing):
        raise _not_found(spec, [f for f in missing if f not in downloadable], data_dir, allow_download)
    for i, file in enumerate(downloadable):
        reporter.check()
        target = cache_dir() / spec.key / file.name
        part = reporter.sub(i / len(downloadable), (i + 1) / len(downloadable), f"{spec.key}: ")
        found[file.name] = download_file(file.urls, target, sha256=file.sha256, size=file.size, reporter=part)
    return found


def download_file(urls: tuple[str, ...], target: PathLike, *, sha256: Optional[str] = None,
                  size: Optional[int] = None, reporter: Reporter = NULL_REPORTER) -> Path:
    """Download the first address that gives the expected bytes to ``target`` (atomically).

    Each attempt streams into a temporary file beside ``target``; the file is moved into place only when
    its size and sha256 match, and removed otherwise (also on cancel), so no partial or wrong file remains.

    Raises:
        DatasetDownloadError: every address failed; the message lists why for each.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        reporter.check()
        try:
            _download_checked(url, target, sha256, size, reporter)
            return target
        except (OSError, ValueError) as err:  # URLError is an OSError; checksum/size mismatches are ValueErrors
            failures.append(f"{url}: {err}")
    raise DatasetDownloadError(f"could not download {target.name}; nothing was saved. Tried:\n  "
                               + "\n  ".join(failures or ["(no download address known)"]))


def file_sha256(path: PathLike) -> str:
    """Lowercase hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_checked(url: str, target: Path, sha256: Optional[str], size: Optional[int],
                      reporter: Reporter) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": f"HyperSynth/{ENGINE_VERSION}"})
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
            total = size or int(response.headers.get("Content-Length") or 0)
            for block in iter(lambda: response.read(CHUNK_BYTES), b""):
                reporter.check()
                out.write(block)
                digest.update(block)
                received += len(block)
                if total:
                    reporter.progress(received / total, f"download {target.name}")
        if size is not None and received != size:
            raise ValueError(f"got {received} bytes, expected {size}")
        if sha256 is not None and digest.hexdigest() != sha256.lower():
            raise ValueError(f"sha256 mismatch: got {digest.hexdigest()}, expected {sha256.lower()}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _not_found(spec: DatasetSpec, missing: list[DatasetFile], data_dir: Optional[PathLike],
               allow_download: bool) -> DatasetNotFoundError:
    dirs = search_dirs(data_dir)
    lines = [f"dataset {spec.key!r} ({spec.title}) is missing {len(missing)} file(s):"]
    for file in missing:
        size = f"{file.size} bytes" if file.size else "size unknown"
        sha = f"sha256 {file.sha256}" if file.sha256 else "no published sha256"
        lines.append(f"  {file.name} ({size}, {sha})")
        lines.append("    searched: " + ", ".join(str(d / spec.key / file.name) for d in dirs))
        if file.urls:
            lines.append("    download: " + " or ".join(file.urls))
    if len(dirs) > 1:  # a data folder was given: that is where files belong
        lines.append(f"Put the file(s) in {dirs[0] / spec.key}/ (or in {cache_dir() / spec.key}/).")
    else:
        lines.append(f"Put the file(s) in {cache_dir() / spec.key}/, or set {DATA_DIR_ENV} to a folder laid out "
                     f"as <dataset key>/<file> and put them in its {spec.key}/ sub-folder.")
    fetchable = [f for f in missing if f.urls]
    if fetchable and not allow_download:
        which = "them" if len(fetchable) == len(missing) else ", ".join(f.name for f in fetchable)
        lines.append(f"Or allow downloading (allow_download=True) to fetch {which} into the cache, checked by "
                     "sha256.")
    if any(not f.urls for f in missing) and spec.get_from:
        lines.append(f"Files without a download address: get them from {spec.get_from}.")
    return DatasetNotFoundError("\n".join(lines), spec.key, [f.name for f in missing], dirs)
