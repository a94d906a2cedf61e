"""Where a Processing algorithm's outputs go: destinations checked before the run, outputs moved in all or none."""

from __future__ import annotations

import base64
import os
import re
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Collection, Mapping, Optional, Sequence

from qgis.core import QgsProcessingException

from ...core.outputs import (RASTER_SUFFIXES, OutputFolderError, claim_holder, claim_output_folder, stale_sidecars,
                             write_problem)


MADE_FOLDERS = ".made_folders"  # in a staging folder: the folders made to hold it, which a failed run removes again


def staging_folder(next_to: str) -> Path:
    """A temporary folder in the same folder as ``next_to``, so that finished files move in atomically; the folders
    made for it are listed in it, so that :func:`discard_staging` removes them again when the run left them empty.

    Raises:
        QgsProcessingException: the folder cannot be created (the destinations were not checked first).
    """
    folder = Path(next_to).resolve().parent
    missing = [parent for parent in (folder, *folder.parents) if not parent.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".hypersynth-", dir=folder))
        (staging / MADE_FOLDERS).write_text("\n".join(str(made) for made in missing), encoding="utf-8")
        return staging
    except OSError as exc:
        raise QgsProcessingException(f"cannot write in {folder} ({exc.strerror or exc}): choose a destination in "
                                     "a folder you can write to") from exc


def discard_staging(staging: Path) -> None:
    """Remove a staging folder once its outputs moved out (or the run failed), and the folders made to hold it where
    nothing else is in them: a refused or cancelled run leaves no empty destination folder behind."""
    try:
        made = [Path(line) for line in (staging / MADE_FOLDERS).read_text(encoding="utf-8").splitlines() if line]
    except OSError:
        made = []
    shutil.rmtree(staging, ignore_errors=True)
    for folder in made:  # deepest first, as listed
        try:
            folder.rmdir()
        except OSError:  # not empty (the run's outputs, or someone else's files), or gone
            break


def _resolved(path: str) -> Path:
    return Path(os.path.realpath(os.path.expanduser(path)))


def _files_of(path: Path) -> list[Path]:
    """An input and the files GDAL reads with it (an ENVI header, a world file, …)."""
    files = [path]
    if path.is_file():
        from osgeo import gdal

        gdal.PushErrorHandler("CPLQuietErrorHandler")
        try:
            dataset = gdal.OpenEx(str(path), gdal.OF_RASTER)
            files += [_resolved(f) for f in (dataset.GetFileList() or [])] if dataset is not None else []
        finally:
            gdal.PopErrorHandler()
    return list(dict.fromkeys(files))


MODEL_TITLES = {"classifier": "classifier", "synthesis": "synthesis model"}  # model folder kind -> its name


def check_destinations(inputs: Mapping[str, Optional[str]], outputs: Mapping[str, Optional[str]],
                       folders: Optional[Mapping[str, str]] = None, rasters: Collection[str] = ()) -> None:
    """Refuse, before anything is read or written, a destination that would destroy an input or another output,
    or that cannot be written.

    Args:
        inputs: {input parameter title: its file or folder}; empty ones are skipped.
        outputs: {output parameter title: its destination}; empty ones (optional outputs not asked) are skipped.
        folders: {title of an output that is a folder: the kind of model saved there, "classifier" or
            "synthesis" (an existing folder there may only be a saved model of that kind: it is replaced whole),
            or "" for a plain folder that receives files}.
        rasters: the titles of the outputs that are rasters: their destination must be named .tif or .tiff
            (the engine writes GeoTIFF, and a map.img holding a GeoTIFF would mislead GDAL's users).

    Raises:
        QgsProcessingException: naming the parameters involved and what to choose instead.
    """
    folders = folders or {}
    given = {title: _resolved(path) for title, path in inputs.items() if path}
    files = {title: _files_of(src) for title, src in given.items()}  # GDAL opens each input once, not per output
    chosen = {title: _resolved(path) for title, path in outputs.items() if path}
    for title, dst in chosen.items():
        for name, src in given.items():
            for file in files[name]:
                if file == dst:
                    kind = "folder" if file.is_dir() else "file"
                    what = name if name.lower().endswith(kind) else f"{name} {kind}"
                    raise QgsProcessingException(f"the {title} destination is your {what} ({file}): choose "
                                                 "another destination")
                if dst in file.parents:
                    raise QgsProcessingException(f"the {title} destination {dst} contains your {name} ({file}), "
                                                 "which would be lost: choose another destination")
            if src in dst.parents:
                raise QgsProcessingException(f"the {title} destination {dst} lies inside your {name} folder "
                                             f"({src}): choose a destination outside it")
    titles = list(chosen)
    for i, first in enumerate(titles):
        for second in titles[i + 1:]:
            a, b = chosen[first], chosen[second]
            if a == b:
                raise QgsProcessingException(f"the {first} and {second} destinations are the same path ({a}): "
                                             "give each its own")
            for outer, inner in ((first, second), (second, first)):
                if folders.get(outer) and chosen[outer] in chosen[inner].parents:
                    raise QgsProcessingException(
                        f"the {inner} destination {chosen[inner]} lies inside the {outer} folder ({chosen[outer]}), "
                        f"which the run replaces: choose a destination outside it")
    styled = [title for title in titles if title in rasters]  # each raster gets its .qml style beside it
    for i, first in enumerate(styled):
        for second in styled[i + 1:]:
            if chosen[first].with_suffix(".qml") == chosen[second].with_suffix(".qml"):
                raise QgsProcessingException(
                    f"the {first} and {second} destinations ({chosen[first].name}, {chosen[second].name}) would "
                    f"share one style file, {chosen[first].with_suffix('.qml').name}: give them different names")
    for title, dst in chosen.items():
        if title in rasters:
            check_raster_name(title, str(dst))
            check_file_beside(str(dst), str(dst.with_suffix(".qml")), "the style of", f"the {title}", who="the run")
        _check_writable(title, dst, folders.get(title))


def check_raster_name(title: str, destination: str) -> None:
    """Refuse a raster destination not named .tif/.tiff, as the Processing dialog does for this provider
    (``isSupportedOutputValue``); QGIS's own algorithms write the format the extension names, this engine only
    GeoTIFF."""
    path = Path(destination)
    if path.suffix.lower() in RASTER_SUFFIXES:
        return
    if not path.suffix:
        raise QgsProcessingException(f"the {title} destination {path} has no extension: HyperSynth writes GeoTIFF; "
                                     f"name it {path.name}.tif")
    raise QgsProcessingException(f"the {title} destination {path} is named as a {path.suffix} file, but "
                                 f"HyperSynth writes GeoTIFF: name it {path.stem}.tif (and convert it afterwards, "
                                 f"with Raster ▸ Conversion ▸ Translate, if you need {path.suffix})")


SAME_FORMAT = {".html": (".htm",), ".tif": (".tiff",)}  # other names of a format that are accepted
FILE_FORMATS = {"html": "HTML", "json": "JSON", "md": "Markdown", "npz": "a NumPy .npz archive"}  # extension -> format


def check_file_name(title: str, destination: str, extension: str, others: Sequence[str] = ()) -> None:
    """Refuse a file destination not named with ``extension`` (its parameter's default), nor with one of ``others``
    (the other formats its file filter offers, the ending choosing what is written), as :func:`check_raster_name`
    does for rasters: a report named r.txt would hold HTML."""
    path = Path(destination)
    wanted = f".{extension.lower()}"
    accepted = [f".{e.lower()}" for e in (extension, *others)]
    if not extension or path.suffix.lower() in [n for e in accepted for n in (e, *SAME_FORMAT.get(e, ()))]:
        return
    written = FILE_FORMATS.get(extension.lower(), f"a {wanted} file")
    if not path.suffix:
        raise QgsProcessingException(f"the {title} destination {path} has no extension: it is written as {written}; "
                                     f"name it {path.name}{wanted}")
    raise QgsProcessingException(f"the {title} destination {path} is named as a {path.suffix} file, but it is "
                                 f"written as {written}: name it {path.stem}{wanted}")


def _check_writable(title: str, dst: Path, kind: Optional[str]) -> None:
    """Refuse a destination the run could not fill: a folder for a file, a file for a folder, a file on the path,
    another model or other files in a model folder, a folder that cannot be written (a probe file tells)."""
    if kind is None and dst.is_dir():
        raise QgsProcessingException(f"the {title} destination {dst} is a folder; give a file name")
    if kind is not None and dst.exists() and not dst.is_dir():
        raise QgsProcessingException(f"the {title} destination {dst} is a file; give a folder")
    if kind:
        check_folder_destination(str(dst), kind, title)
    problem = write_problem(dst)
    if problem:
        raise QgsProcessingException(f"the {title} destination {dst} cannot be written: {problem}; choose a "
                                     "folder you can write to")
    for folder in (dst, dst.parent):  # a folder that receives files, and the one the destination goes in
        busy = claim_holder(folder)
        if busy:
            raise QgsProcessingException(f"the {title} destination cannot be written now: {busy}")


def check_folder_destination(dst: str, kind: str, title: str = "model") -> None:
    """Refuse a model folder destination that holds anything but an earlier saved model of the same ``kind``.

    Args:
        dst: the folder the model is saved to (replaced whole when it is an earlier model of this kind).
        kind: "classifier" or "synthesis", the model the run saves.
        title: the output parameter's title, for the message.
    """
    from ...core.model_folders import files_not_of_the_model, model_folder_kind

    target = Path(dst)
    if not target.exists():
        return
    if not target.is_dir():
        raise QgsProcessingException(f"the {title} destination {target} is a file; give a folder")
    if not any(target.iterdir()):
        return
    held = model_folder_kind(target)
    if held == kind:
        strangers = files_not_of_the_model(target)
        if strangers:  # Processing asks nothing for a folder; the saved model replaces it whole
            raise QgsProcessingException(f"the {title} folder {target} holds a saved {MODEL_TITLES[kind]} and also "
                                         f"{', '.join(strangers)}, which saving the {MODEL_TITLES[kind]} there would "
                                         "delete: move them out of it, or choose another folder")
        return
    if held in MODEL_TITLES:
        raise QgsProcessingException(f"the {title} folder {target} holds a saved {MODEL_TITLES[held]}, which "
                                     f"saving the {MODEL_TITLES[kind]} there would replace: choose another folder")
    raise QgsProcessingException(f"the {title} folder {target} already exists and is neither empty nor a saved "
                                 f"{MODEL_TITLES[kind]}: choose a new folder")


def self_contained_html(report_html: Path) -> str:
    """The report's HTML with its PNG figures embedded, so the single file can be put anywhere."""
    text = report_html.read_text(encoding="utf-8")

    def embed(match: re.Match) -> str:
        image = report_html.parent / match.group(2)
        if not image.is_file():
            return match.group(0)
        data = base64.b64encode(image.read_bytes()).decode("ascii")
        return f'{match.group(1)}data:image/png;base64,{data}"'

    return re.sub(r'(src=")([^"/:]+\.png)"', embed, text)


def write_report(report_html: Path, destination: str, moves: "OutputMoves") -> str:
    """Write a run's HTML report to ``destination`` as one self-contained file (staged, then moved), without the
    engine's "Files" section: it names the files of a run folder, which a Processing run's outputs are not (each goes
    where its parameter says, the log lists them)."""
    text = re.sub(r"<h2>Files</h2>\s*<table>.*?</table>\s*", "", self_contained_html(report_html), flags=re.S)
    return moves.put_text(text, report_html.parent, destination)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _beside(target: Path, what: str) -> Path:
    """A new hidden name beside ``target`` (same folder, so a rename never copies)."""
    name = tempfile.mktemp(prefix=f".{target.name}.{what}-", dir=target.parent)  # noqa: S306 (renamed onto)
    return Path(name)


class OutputMoves:
    """Moves a finished run's files and folders to their destinations, all or none.

    Use it as a context manager: when the block fails, every output already moved is removed and what it
    replaced is put back; when it succeeds, the replaced files are deleted. Each destination's folder is claimed
    (``core.outputs.claim_output_folder``) from its first move until then, so no engine run writing there (a dock
    run, the command line) mixes its outputs with these.
    """

    def __init__(self, what: str = "a HyperSynth Processing algorithm") -> None:
        self.done: list[tuple[Path, Optional[Path]]] = []  # (destination, what it replaced, set aside)
        self.what = what  # what another run refused by the claims is told holds the folder
        self.claims = ExitStack()
        self.claimed: set[Path] = set()

    def __enter__(self) -> "OutputMoves":
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        with self.claims:  # released once every move is kept or undone
            if exc is None:
                for _, replaced in self.done:
                    if replaced is not None:
                        _remove(replaced)
                return
            for target, replaced in reversed(self.done):
                try:
                    _remove(target)
                    if replaced is not None:
                        os.replace(replaced, target)
                except OSError:
                    pass  # best effort: the error being raised says what went wrong

    def _claim(self, folder: Path) -> None:
        """Claim ``folder`` (created when missing) until the moves are kept or undone."""
        key = _resolved(str(folder))
        if key in self.claimed:
            return
        try:
            self.claims.enter_context(claim_output_folder(folder, self.what))
        except OutputFolderError as exc:
            raise QgsProcessingException(str(exc)) from exc
        self.claimed.add(key)

    def set_aside(self, path: Path) -> None:
        """Take ``path`` away as a replaced file: deleted when the moves are kept, put back when they are undone."""
        self._claim(path.parent)
        replaced = _beside(path, "old")
        os.replace(path, replaced)
        self.done.append((path, replaced))

    def put(self, src: Path, dst: str) -> str:
        """Move ``src`` (a file or a folder) to ``dst``, setting aside what was there; returns ``dst``."""
        target = Path(dst)
        self._claim(target.parent)
        replaced = None
        if target.exists() or target.is_symlink():
            replaced = _beside(target, "old")
            os.replace(target, replaced)
        self.done.append((target, replaced))
        try:
            os.replace(src, target)
        except OSError:  # another file system: copy beside the target, then rename
            part = _beside(target, "part")
            try:
                if src.is_dir():
                    shutil.copytree(src, part)
                else:
                    shutil.copy2(src, part)
                os.replace(part, target)
            finally:
                if part.exists():
                    _remove(part)
        return str(target)

    def put_raster(self, staged: Path, destination: str) -> str:
        """Move a staged raster and its sidecars (``.qml`` style, ``.tif.aux.xml``) to ``destination``.

        The GDAL sidecars of the raster it replaces (``map.tif.aux.xml`` statistics and metadata, ``.ovr``
        overviews, ``.msk`` mask) go with that raster: GDAL would read them with the new one. Other files named
        like it (a ``map.qml`` the run does not write, ``map.tif.bak``) are left alone.
        """
        target = Path(destination)
        for stale in stale_sidecars(target):
            self.set_aside(stale)
        for sidecar in sorted(staged.parent.glob(staged.stem + ".*")):
            if sidecar == staged:
                continue
            rest = sidecar.name[len(staged.stem):]  # ".qml" or ".tif.aux.xml"
            if rest.startswith(staged.suffix + "."):
                self.put(sidecar, str(target) + rest[len(staged.suffix):])
            else:
                self.put(sidecar, str(target.with_suffix(rest)))
        return self.put(staged, str(target))

    def put_text(self, text: str, staging: Path, destination: str) -> str:
        """Write ``text`` in the staging folder, then move it to ``destination``."""
        handle, name = tempfile.mkstemp(prefix="text-", dir=staging)
        os.close(handle)  # written by path below; an open descriptor would leak (and block the move on Windows)
        staged = Path(name)
        staged.write_text(text, encoding="utf-8")
        staged.chmod(0o644)
        return self.put(staged, destination)


def move_folder_into_place(src: Path, dst: str, kind: str, moves: OutputMoves) -> str:
    """Move a staged model folder to ``dst``; an earlier model of the same ``kind`` there is replaced whole."""
    check_folder_destination(dst, kind)
    return moves.put(src, dst)


def check_file_beside(output: str, beside: str, holds: str = "the classes of the training labels",
                      output_is: str = "the training labels", who: str = "the draw") -> None:
    """Refuse a file already where a run writes one beside its ``output`` (``holds``: what it writes there, e.g.
    the points' classes): the run would replace it, and it is no earlier run's (whose output the destination
    replaces, with the dialog's consent), but maybe the analyst's own or another run's. Processing asks about the
    destination alone."""
    if Path(beside).exists() and not Path(output).exists():
        raise QgsProcessingException(f"{beside} already exists, and {who} writes {holds} {Path(output).name} "
                                     f"there; move it, or give {output_is} another name")


def check_mosaic_companions(output: str) -> None:
    """Refuse a synthetic-patch mosaic's destination (.tif) where its class raster or that raster's style, written
    beside it, would replace a file that is not an earlier mosaic's (:func:`check_file_beside`)."""
    from ...core.io.patch_files import companion_files

    for beside, holds in zip(companion_files(output), ("the patches' classes of", "the style of the classes of")):
        check_file_beside(output, str(beside), holds, "the synthetic patches", who="the run")
