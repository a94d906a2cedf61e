"""A run's output folder: one run's files, never the user's inputs, and nothing half-written left behind."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Collection, Iterable, Iterator, Optional

log = logging.getLogger("hypersynth")

CLAIM_FILE = ".hypersynth-run.lock"  # in an output folder while a run writes there: never one of the run's outputs
RUN_STAGING = ".hypersynth-run-"  # prefix of a run's staging folder in its output folder
ACCURACY_STAGING = ".hypersynth-accuracy-"  # prefix of an accuracy assessment's staging folder
UNREADABLE_CLAIM_S = 24 * 3600  # an unreadable claim file younger than this may be one being written right now


class OutputExistsError(FileExistsError, ValueError):
    """An output would overwrite something the user has (a run's folder or one file; a ValueError too, for callers
    catching bad input)."""


class OutputFolderError(OSError, ValueError):
    """The output folder cannot take the run's files (a file there, no permission, an input inside)."""


class OutputFolderBusyError(OutputFolderError):
    """Another run (in this program or another, on this machine or another) is writing into the output folder."""


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
    """``(input as given, output name)`` for each existing input that a run's output written into ``out`` would
    replace (a missing one is left to its reader, which says it is missing); ``kept``: outputs an input may be (a
    reused model bundle the run saves again unchanged)."""
    folder, kept = _resolved(out), set(kept)
    found = []
    for given in (p for p in inputs if p and Path(p).expanduser().exists()):
        path = _resolved(given)
        name = next((n for n in sorted(set(all_names) - kept) if _holds(folder / n, path)), None)
        if name is not None:
            found.append((str(given), name))
    return found


def earlier_outputs(out: Path, all_names: Iterable[str], kept: Iterable[str] = ()) -> list[str]:
    """The names of an earlier run's outputs in ``out``, sorted (none when it is not a folder)."""
    kept = set(kept)
    return sorted(n for n in set(all_names) - kept if (out / n).exists()) if out.is_dir() else []


def check_output_folder(out: Path, all_names: Iterable[str], inputs: Iterable[Optional[str | os.PathLike]],
                        overwrite: bool, kept: Iterable[str] = (),
                        approved: Optional[Collection[str]] = None,
                        writes: Optional[Collection[str]] = None) -> None:
    """Refuse ``out`` when a run writing ``all_names`` there cannot use it; creates nothing.

    Args:
        out: the output folder.
        all_names: every name the run's kind writes: one there from an earlier run is refused unless
            ``overwrite`` (the run then removes it, so the folder never mixes two runs).
        inputs: the run's input files and folders: refused when an output would replace them.
        overwrite: replace an earlier run's outputs.
        kept: outputs an input may be (a reused model bundle the run saves again unchanged).
        approved: the earlier outputs the analyst agreed to replace when asked (a dialog, maybe well before the
            run starts); one found now that is not among them was written since, and is refused. None: ``overwrite``
            alone decides.
        writes: the names this run itself writes, when fewer than ``all_names`` (a saved classifier's run writes no
            bundles, but removes an earlier run's); None: all of them. Only what a refusal says depends on it.

    Raises:
        OutputFolderError: a file, a folder that cannot be written, or an input where an output goes.
        OutputExistsError: an earlier run's outputs there, and ``overwrite`` off; or one not ``approved``.
    """
    kept = list(kept)
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"the output folder {out} is a file; give a folder (it is created when missing)")
    for given, name in inputs_in_the_way(out, all_names, inputs, kept)[:1]:
        if writes is None or name in writes:
            raise OutputFolderError(f"your input {given} is where the run writes its {name}: choose another output "
                                    f"folder than {out}, or move the input out of it")
        raise OutputFolderError(f"your input {given} is the {name} of an earlier run in {out}, and a run there "
                                "removes an earlier run's files (an output folder holds one run's): choose another "
                                f"output folder than {out}, or move the input out of it")
    clash = earlier_outputs(out, all_names, kept)
    check_approved(out, clash, approved)
    from .model_folders import files_not_of_the_model

    for name in [*clash, *kept]:  # a kept (reused) model is saved again over its folder too
        folder = out / name
        strangers = files_not_of_the_model(folder) if (folder / "manifest.json").is_file() else []
        if strangers:  # a saved model's folder is replaced whole: an analyst's files put there would go with it
            raise OutputFolderError(f"{folder} holds an earlier run's saved model and also {', '.join(strangers)}, "
                                    "which a run there would delete with it: move them out of it, or choose another "
                                    "output folder")
    if clash and not overwrite:
        files = "a file" if len(clash) == 1 else "files"
        raise OutputExistsError(f"{out} already holds {', '.join(clash)}, {files} a run writes there (an earlier "
                                "run's, or yours by that name); choose another output folder, or allow overwriting "
                                "(those files are then replaced or removed)")
    problem = write_problem(out)
    if problem:
        raise OutputFolderError(f"the output folder {out} cannot take the run's files: {problem}; choose a folder "
                                "you can write to")


def check_approved(out: Path, clash: Iterable[str], approved: Optional[Collection[str]]) -> None:
    """Refuse the earlier outputs ``clash`` found in ``out`` that the analyst was not asked about (``approved``:
    those they agreed to replace; None: nothing to check).

    Raises:
        OutputExistsError: naming the outputs written since the analyst was asked.
    """
    if approved is None:
        return
    unasked = [name for name in clash if name not in approved]
    if unasked:
        raise OutputExistsError(f"{out} now holds {', '.join(unasked)}, written after you agreed to replace "
                                f"{', '.join(approved) or 'nothing'} (another run?); run again to be asked about "
                                "them, or choose another output folder")


def prepare_output_folder(out: Path, all_names: Iterable[str], inputs: Iterable[Optional[str | os.PathLike]],
                          overwrite: bool, kept: Iterable[str] = ()) -> list[Path]:
    """:func:`check_output_folder`, then create ``out``, before anything is read or trained. Returns the folders
    it created, deepest first (so a run that fails can remove them again with :func:`remove_if_empty`)."""
    check_output_folder(out, all_names, inputs, overwrite, kept)
    return _make_folder(out)


def missing_folders(out: Path) -> list[Path]:
    """``out`` and the folders on its way that do not exist yet, deepest first: what creating it makes, and what
    :func:`remove_if_empty` removes again when the run fails."""
    return [folder for folder in (out, *out.parents) if not folder.exists()]


def _make_folder(out: Path) -> list[Path]:
    """Create ``out`` and the folders on its way; returns those this call created, deepest first (empty when
    ``out`` was there: mkdir fails when the folder exists, so no other run can have created it at the same moment).
    """
    missing = missing_folders(out)
    try:
        out.mkdir(parents=True)
        return missing
    except FileExistsError:
        if out.is_dir():
            return []
        raise OutputFolderError(f"the output folder {out} is a file; give a folder (it is created when missing)")
    except OSError as exc:
        problem = write_problem(out)  # says why, when it can (a file on the way, a folder not writable)
        said = (f"the output folder {out} cannot take the run's files: {problem}" if problem
                else f"cannot create the output folder {out}: {exc.strerror or exc}")
        raise OutputFolderError(f"{said}; choose a folder you can write to") from exc


# What GDAL keeps beside a raster and reads with it: a replaced raster's would describe the wrong data (an external
# mask left half a later run's map unclassified; old overviews show the old values when zoomed out)
GDAL_SIDECARS = (".aux.xml", ".ovr", ".ovr.aux.xml", ".msk", ".msk.ovr", ".msk.aux.xml")
RASTER_SUFFIXES = (".tif", ".tiff")  # the engine writes GeoTIFF (the plugin's only raster output format)


def stale_sidecars(raster: Path, written: Iterable[str] = ()) -> list[Path]:
    """The GDAL sidecars beside ``raster`` (any case of their endings) but those named in ``written`` (the new
    raster's own): what replacing the raster must remove."""
    names = sorted({raster.name + end for suffix in GDAL_SIDECARS for end in (suffix, suffix.upper())} - set(written))
    found: dict[tuple[int, int], Path] = {}
    for name in names:  # on a disk that ignores case (Windows, macOS) x.ovr and x.OVR are one file: listed once
        path = raster.parent / name
        if path.is_file():
            facts = path.stat()
            found.setdefault((facts.st_dev, facts.st_ino), path)
    return list(found.values())


def move_outputs(staging: Path, out: Path, all_names: Iterable[str],
                 inputs: Iterable[Optional[str | os.PathLike]]) -> list[Path]:
    """Move a finished run's files from ``staging`` into ``out``, replacing an earlier run's, and remove that
    run's outputs this one did not write (its metrics without validation labels now, say). Never an input."""
    moved = []
    arriving = [src.name for src in staging.iterdir()]
    for src in sorted(staging.iterdir()):
        dst = out / src.name
        if dst.exists():
            shutil.rmtree(dst) if dst.is_dir() and not dst.is_symlink() else dst.unlink()
        if src.suffix.lower() in RASTER_SUFFIXES:
            for stale in stale_sidecars(dst, arriving):  # a replaced map's overviews (QGIS's pyramids), its mask
                stale.unlink(missing_ok=True)
        os.replace(src, dst)
        moved.append(dst)
    protected = [_resolved(p) for p in inputs if p]
    for name in set(all_names):
        stale = out / name
        if stale in moved or not stale.exists() or any(_holds(_resolved(stale), p) for p in protected):
            continue
        if stale.suffix.lower() in RASTER_SUFFIXES:  # a raster this run did not write goes with its GDAL sidecars
            for sidecar in stale_sidecars(stale, [m.name for m in moved]):
                sidecar.unlink(missing_ok=True)
        shutil.rmtree(stale) if stale.is_dir() and not stale.is_symlink() else stale.unlink()
    return moved


def remove_if_empty(made: Iterable[Path]) -> None:
    """Remove the folders a failed run created (deepest first, as :func:`_make_folder` lists them), as far up as
    nothing else was put in them: ``--out new/runs/a`` that fails leaves neither ``new/runs`` nor ``new``."""
    for folder in made:
        try:
            folder.rmdir()  # only succeeds when empty
        except OSError:
            return


_claims = threading.local()  # .held: {folder: depth} of the claims this thread holds
_running: dict[Path, str] = {}  # every claim this process holds: folder -> what the run does
_running_lock = threading.Lock()


def runs_in_progress() -> list[str]:
    """What the runs of this process that hold an output folder now do (a QGIS dock run and a Processing run share
    one process: started together they share the CPU, and torch runs side by side are several times slower)."""
    with _running_lock:
        return sorted(_running.values())


@contextmanager
def claim_output_folder(out: Path, what: str) -> Iterator[None]:
    """Hold ``out`` for one run against every other (a QGIS dock run, a Processing run, the command line, in this
    process or another), from the check for an earlier run's outputs until the outputs have moved in.

    The claim is a small JSON file, :data:`CLAIM_FILE`, created in ``out`` with O_EXCL (only one run can) and
    removed on exit, whatever ends the block. It holds the process id, the host, what the run does, when it
    started and, where it can be read, when the process started (``pid_started``: so a pid that a later, unrelated
    process has taken does not hold the folder). ``out`` is created when missing, with the folders on its way, and
    those are removed again on exit as far up as the run left them empty. A claim this thread holds already nests
    (the demo claims its folder, then classifies into it); another thread's is refused like another process's.

    Args:
        out: the output folder.
        what: what the run does, for the message another run gets ("Augment & Classify of scene.tif").

    Raises:
        OutputFolderBusyError: a run that is alive, or cannot be known to be gone, holds ``out``.
        OutputFolderError: ``out`` is a file, or cannot be created or written.
    """
    key = _resolved(out)
    if not hasattr(_claims, "held"):
        _claims.held = {}
    held = _claims.held
    if key in held:
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    created, mine = _take_claim(out, what)
    held[key] = 1
    with _running_lock:
        _running[key] = what
    try:
        yield
    finally:
        del held[key]
        with _running_lock:
            _running.pop(key, None)
        _drop_claim(out / CLAIM_FILE, mine)  # first: the folder the run made must be empty to go
        remove_if_empty(created)


def claim_holder(out: Path) -> Optional[str]:
    """The message a run writing into ``out`` would be refused with while another run holds it, or None: for a
    check before a run starts (only :func:`claim_output_folder` makes sure)."""
    lock = out / CLAIM_FILE
    try:
        return _refusal(out, lock, lock.read_bytes())
    except OSError:  # no claim, or no folder
        return None


def _take_claim(out: Path, what: str) -> tuple[list[Path], bytes]:
    """Create the claim file in ``out`` (created when missing): (the folders created for it, the claim)."""
    lock = out / CLAIM_FILE
    mine = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                       "started": datetime.now().astimezone().isoformat(timespec="seconds"),
                       "pid_started": process_start(os.getpid())}).encode()
    created: list[Path] = []
    stale_replaced = False
    try:
        for _ in range(10):  # again after a stale claim went, or after a failed run removed the folder it had made
            created = _make_folder(out) or created
            try:
                handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                stale_replaced = _refuse_or_set_aside(out, lock) or stale_replaced
                continue
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise OutputFolderError(f"the output folder {out} cannot take the run's files: cannot write in it "
                                        f"({exc.strerror or exc}); choose a folder you can write to") from exc
            try:
                with os.fdopen(handle, "wb") as fh:
                    fh.write(mine)
            except BaseException:
                lock.unlink(missing_ok=True)  # an empty claim would hold the folder for a day
                raise
            if stale_replaced:  # what the gone run was staging: only a run holding the claim stages here
                for left in sorted(out.glob(RUN_STAGING + "*")) + sorted(out.glob(ACCURACY_STAGING + "*")):
                    shutil.rmtree(left, ignore_errors=True)
            return created, mine
    except BaseException:
        remove_if_empty(created)
        raise
    raise OutputFolderBusyError(f"{out} keeps being claimed and released by other HyperSynth runs; wait for them "
                                "to finish, or choose another output folder")


def _refuse_or_set_aside(out: Path, lock: Path) -> bool:
    """Raise when the claim in ``lock`` is held; remove it when it is stale (its run is gone): returns whether
    this call removed one."""
    try:
        seen = lock.read_bytes()
        refusal = _refusal(out, lock, seen)
    except FileNotFoundError:
        return False  # released meanwhile
    if refusal:
        raise OutputFolderBusyError(refusal)
    claim = _parsed(seen)
    who = (f"{claim['what']}, process {claim['pid']}, started {claim['started']}" if claim
           else "its claim file unreadable")
    log.warning("%s held the claim of a HyperSynth run that is gone (%s); replacing it, and removing what that run "
                "left half-written there", out, who)
    aside = lock.with_name(f"{CLAIM_FILE}.stale-{os.getpid()}-{threading.get_ident()}")
    try:
        os.replace(lock, aside)  # atomic: of two runs replacing the same stale claim, one moves it
    except FileNotFoundError:
        return False
    if aside.read_bytes() != seen:  # a fresh claim another run took after the stale one went: give it back
        try:
            os.link(aside, lock)  # never over a claim made since (three runs racing: that one may then not hold)
        except OSError:
            pass
        aside.unlink()
        return False
    aside.unlink()
    return True


def _refusal(out: Path, lock: Path, seen: bytes) -> Optional[str]:
    """Why the claim ``seen`` in ``lock`` keeps a run out of ``out``; None when it is stale.

    The rule: a claim of a live process on this machine is held, one of a gone process is stale (so is one whose
    pid a later process now has: :func:`_pid_reused`); a claim made on another machine (a shared drive) is always
    held, as its process cannot be looked up from here; an unreadable claim is held for a day (a run creates the
    file, then fills it: it may be one being written this instant), stale after that (a crash cut it short)."""
    claim = _parsed(seen)
    if claim is None:
        if time.time() - lock.stat().st_mtime > UNREADABLE_CLAIM_S:
            return None
        return (f"{out} is claimed by another HyperSynth run, but its claim {lock} cannot be read: wait for that run "
                f"to finish, or choose another output folder (delete {lock} by hand if no run is writing there)")
    who = f"{claim['what']}, process {claim['pid']} started {claim['started']}"
    if claim["host"] != socket.gethostname():
        return (f"{out} is in use by a HyperSynth run on {claim['host']} ({who}): wait for it to finish, or choose "
                f"another output folder; if that run is known to be gone, delete {lock} by hand")
    if not _alive(claim["pid"]) or _pid_reused(claim):
        return None
    by = "another run in this program" if claim["pid"] == os.getpid() else "another HyperSynth run"
    return (f"{out} is in use by {by} ({who}), which writes its outputs there: wait for it to finish, or choose "
            "another output folder")


def _parsed(seen: bytes) -> Optional[dict]:
    """The claim's fields, or None when it is not a claim this module writes."""
    try:
        claim = json.loads(seen.decode("utf-8"))
    except ValueError:  # JSON and Unicode errors alike
        return None
    if not isinstance(claim, dict) or not all(isinstance(claim.get(k), str) for k in ("host", "what", "started")):
        return None
    pid = claim.get("pid")
    if not isinstance(claim.get("pid_started"), (str, type(None))):
        return None  # absent (a claim of an older HyperSynth) or null (its start could not be read) are fine
    return claim if isinstance(pid, int) and 0 < pid < 2 ** 31 else None  # os.kill(0) would mean "my group"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine. A pid a new program has taken reads as alive here;
    :func:`_pid_reused` tells the two apart where the process start times can be read."""
    if os.name == "nt":  # os.kill(pid, 0) would send Ctrl+C there: ask the kernel instead
        return _alive_on_windows(pid)
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user
        return True
    return True


def _alive_on_windows(pid: int) -> bool:
    """:func:`_alive` on Windows, asked of the kernel (a process that ended keeps its handle's exit code)."""
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    kernel32.GetExitCodeProcess.argtypes = (wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD))
    kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return ctypes.get_last_error() == 5  # ERROR_ACCESS_DENIED: it exists, as another user
    try:
        code = wintypes.DWORD()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _pid_reused(claim: dict) -> bool:
    """Whether the claim's pid now belongs to another process than the run that wrote it: its start time, read the
    same way as when the claim was written, differs. A claim without one (older HyperSynth, or a start time that
    could not be read) or a process whose start cannot be read now is taken to be the run's: held, as before."""
    recorded = claim.get("pid_started")
    now = process_start(claim["pid"]) if isinstance(recorded, str) else None
    return now is not None and now.partition(":")[0] == recorded.partition(":")[0] and now != recorded


def process_start(pid: int) -> Optional[str]:
    """When process ``pid`` started, as a mark that tells it from a later process given the same pid, or None
    where that cannot be read (the process is gone, hidden, or neither source is here).

    "proc:<ticks>" on Linux: field 22 of /proc/<pid>/stat, the clock ticks from boot to its start; else
    "psutil:<seconds>" where psutil is importable (macOS, Windows): its creation time. The prefix says how it was
    read, so marks read two ways are never compared.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:  # open, not Path: no pathlib flavour to pick
            stat = fh.read()
        return f"proc:{int(stat[stat.rindex(b')') + 2:].split()[19])}"  # after "pid (name) ": field 3 on
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil
    except ImportError:
        return None
    try:
        return f"psutil:{psutil.Process(pid).create_time():.2f}"
    except (psutil.Error, OSError):  # gone, or another user's where that is not allowed
        return None


def _drop_claim(lock: Path, mine: bytes) -> None:
    """Remove this run's claim file; one that is no longer this run's claim stays."""
    try:
        if lock.read_bytes() == mine:
            lock.unlink()
    except OSError:
        pass  # gone already, or the folder is: nothing to release
