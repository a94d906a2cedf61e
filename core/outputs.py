"""A run's output folder: one run's files, never the user's inputs, and nothing half-written left behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Optional


class OutputExistsError(FileExistsError):
    """An output would overwrite something the user has."""


class OutputFolderError(OSError, ValueError):
    """The output folder cannot take the run's files (a file there, no permission, an input inside)."""


def _resolved(path: str | os.PathLike) -> Path:
    return Path(path).expanduser().resolve()


def _holds(output: Path, path: Path) -> bool:
    """Whether writing ``output`` (a file or a bundle folder) would replace ``path``."""
    return path == output or output in path.parents


def write_problem(path: str | os.PathLike) -> Optional[str]:
    """Why nothing can be written at ``path`` (a file or folder to be made, or an existing folder), or None.

    The nearest folder on its way that exists is tested with a probe file: the only sure test (permissions, ACLs,
    read-only or virtual file systems such as /proc, and root, whom permission bits do not stop)."""
    start = Path(path).expanduser().absolute()
    folder = start if start.is_dir() else start.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is a file, so no folder can be made there"
    try:
        handle, probe = tempfile.mkstemp(prefix=".hypersynth-probe-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        return f"cannot write in {folder} ({exc.strerror or exc})"
    return None


def inputs_in_the_way(out: Path, all_names: Iterable[str], inputs: Iterable[Optional[str | os.PathLike]],
                      kept: Iterable[str] = ()) -> list[tuple[str, str]]:
    """``(input as given, output name)`` for each input that a run's output written into ``out`` would replace;
    ``kept``: outputs an input may be (a reused model bundle the run saves again unchanged)."""
    folder, kept = _resolved(out), set(kept)
    found = []
    for given in (p for p in inputs if p):
        path = _resolved(given)
        name = next((n for n in sorted(set(all_names) - kept) if _holds(folder / n, path)), None)
        if name is not None:
            found.append((str(given), name))
    return found


def earlier_outputs(out: Path, all_names: Iterable[str], kept: Iterable[str] = ()) -> list[str]:
    """The names of an earlier run's outputs in ``out``, sorted (none when it is not a folder)."""
    kept = set(kept)
    return sorted(n for n in set(all_names) - kept if (out / n).exists()) if out.is_dir() else []


def prepare_output_folder(out: Path, all_names: Iterable[str], inputs: Iterable[Optional[str | os.PathLike]],
                          overwrite: bool, kept: Iterable[str] = ()) -> bool:
    """Check ``out`` before anything is read or trained; create it. Returns whether it was created (so a run
    that fails can remove the empty folder it made).

    Args:
        out: the output folder.
        all_names: every name any HyperSynth run writes: one there from an earlier run is refused unless
            ``overwrite`` (the run then removes it, so the folder never mixes two runs).
        inputs: the run's input files and folders: refused when an output would replace them.
        overwrite: replace an earlier run's outputs.
        kept: outputs an input may be (a reused model bundle the run saves again unchanged).
    """
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"the output folder {out} is a file; give a folder (it is created when missing)")
    for given, name in inputs_in_the_way(out, all_names, inputs, kept)[:1]:
        raise OutputFolderError(f"your input {given} is where the run writes its {name}: choose another output "
                                f"folder than {out}, or move the input out of it")
    clash = earlier_outputs(out, all_names, kept)
    if clash and not overwrite:
        raise OutputExistsError(f"{out} already holds {', '.join(clash)} from an earlier run; choose another output "
                                "folder, or allow overwriting (the earlier run's outputs there are then replaced)")
    problem = write_problem(out)
    if problem:
        raise OutputFolderError(f"the output folder {out} cannot take the run's files: {problem}; choose a folder "
                                "you can write to")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFolderError(f"cannot create the output folder {out}: {exc.strerror or exc}; "
                                "choose a folder you can write to") from exc
    return created


def move_outputs(staging: Path, out: Path, all_names: Iterable[str],
                 inputs: Iterable[Optional[str | os.PathLike]]) -> list[Path]:
    """Move a finished run's files from ``staging`` into ``out``, replacing an earlier run's, and remove that
    run's outputs this one did not write (its metrics without validation labels now, say). Never an input."""
    moved = []
    for src in sorted(staging.iterdir()):
        dst = out / src.name
        if dst.exists():
            shutil.rmtree(dst) if dst.is_dir() and not dst.is_symlink() else dst.unlink()
        os.replace(src, dst)
        moved.append(dst)
    protected = [_resolved(p) for p in inputs if p]
    for name in set(all_names):
        stale = out / name
        if stale in moved or not stale.exists() or any(_holds(_resolved(stale), p) for p in protected):
            continue
        shutil.rmtree(stale) if stale.is_dir() and not stale.is_symlink() else stale.unlink()
    return moved


def remove_if_empty(folder: Path) -> None:
    """Remove a folder a failed run created, when nothing else was put there."""
    try:
        folder.rmdir()  # only succeeds when empty
    except OSError:
        pass
