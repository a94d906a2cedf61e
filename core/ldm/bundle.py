"""Model bundles on disk: safetensors weights + JSON config/meta + a manifest with hashes; never pickle."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from ..model_folders import files_not_of_the_model
from ..version import ENGINE_VERSION

if TYPE_CHECKING:  # torch is imported only for bundles that hold torch tensors: a forest's bundle needs none of it
    import torch

BUNDLE_KIND = "hypersynth-model-bundle"  # manifest "kind" of every HyperSynth model bundle
BUNDLE_FORMAT = 1  # layout version of the folder; a reader refuses bundles with a higher one
MANIFEST = "manifest.json"
CONFIG_FILE = "config.json"
META_FILE = "meta.json"
_PART_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

PathLike = Union[str, "os.PathLike[str]"]
Tensor = Union["torch.Tensor", np.ndarray]  # a part's arrays: torch tensors, or numpy arrays (forest, SVM)
ARRAY_KINDS = ("torch", "numpy")  # what load_bundle gives a part's arrays as


class BundleError(ValueError):
    """A folder cannot be read (or written) as a HyperSynth model bundle; the message says why."""


@dataclass
class Bundle:
    """What :func:`load_bundle` returns."""

    tensors_by_part: dict[str, dict[str, Tensor]]  # part name → its state dict (e.g. "vae"), as load_bundle's arrays
    config: dict[str, Any]  # the model configuration (LDMConfig.to_dict())
    meta: dict[str, Any]  # everything else: classes, bands, wavelengths, history
    manifest: dict[str, Any] = field(default_factory=dict)  # kind, versions, sha256 of every file


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_bundle(folder: Path) -> bool:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("kind") == BUNDLE_KIND
    except (OSError, ValueError, AttributeError):
        return False


def save_bundle(folder: PathLike, tensors_by_part: dict[str, dict[str, Tensor]], config: dict[str, Any],
                meta: dict[str, Any], *, overwrite: bool = False) -> Path:
    """Write a bundle folder atomically: a complete new bundle or nothing.

    Everything is written into a temporary folder beside ``folder`` and renamed into place. With
    ``overwrite=True`` an existing *bundle* is replaced (moved aside first, restored if the rename
    fails); a folder that is not a bundle is never replaced.

    Args:
        folder: the bundle folder to create.
        tensors_by_part: part name (lowercase identifier, e.g. ``"vae"``) → state dict of torch tensors or numpy
            arrays (a part of numpy arrays alone is written without importing torch); one ``<part>.safetensors``
            file per part, in the one format either way.
        config: JSON-serialisable configuration, saved as ``config.json``.
        meta: JSON-serialisable metadata, saved as ``meta.json``.
        overwrite: replace an existing bundle at ``folder``.

    Returns:
        The bundle folder.
    """
    folder = Path(folder)
    if folder.exists():
        if not overwrite:
            raise FileExistsError(f"{folder} already exists; choose another folder or pass overwrite=True")
        if not _is_bundle(folder):
            raise BundleError(f"{folder} exists and is not a HyperSynth model bundle; refusing to replace it")
        strangers = files_not_of_the_model(folder)
        if strangers:  # the folder is replaced whole
            raise BundleError(f"{folder} holds a saved model and also {', '.join(strangers)}, which replacing the "
                              f"model would delete: move them out of it, or choose another folder")
    for part in tensors_by_part:
        if not _PART_NAME.match(part):
            raise BundleError(f"bundle part name {part!r} must be a lowercase identifier (letters, digits, _)")
    try:
        config_text = json.dumps(config, indent=2, sort_keys=True)
        meta_text = json.dumps(meta, indent=2, sort_keys=True)
    except TypeError as exc:
        raise BundleError(f"bundle config/meta must be JSON-serialisable: {exc}") from exc

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        files: dict[str, dict[str, Any]] = {}
        for part, tensors in tensors_by_part.items():
            _save_part(tensors, staging / f"{part}.safetensors", {"part": part, "engine_version": ENGINE_VERSION})
        (staging / CONFIG_FILE).write_text(config_text, encoding="utf-8")
        (staging / META_FILE).write_text(meta_text, encoding="utf-8")
        for path in sorted(staging.iterdir()):
            path.chmod(0o644)  # safetensors writes its files private; a bundle is meant to be shared
            files[path.name] = {"sha256": _sha256(path), "bytes": path.stat().st_size}
        manifest = {
            "kind": BUNDLE_KIND,
            "format_version": BUNDLE_FORMAT,
            "engine_version": ENGINE_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "parts": sorted(tensors_by_part),
            "files": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        (staging / MANIFEST).chmod(0o644)
        staging.chmod(0o755)  # mkdtemp makes it private; a bundle is meant to be shared
        _move_into_place(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _save_part(tensors: dict[str, Tensor], path: Path, metadata: dict[str, str]) -> None:
    """One part's arrays as a safetensors file: through safetensors.numpy when they are all numpy arrays (no torch
    import: about 440 MB of libraries and 1–2 s that a forest run does not otherwise need), else through
    safetensors.torch."""
    if all(isinstance(t, np.ndarray) for t in tensors.values()):
        from safetensors.numpy import save_file as save_numpy

        save_numpy({key: np.ascontiguousarray(t) for key, t in tensors.items()}, str(path), metadata=metadata)
        return
    import torch
    from safetensors.torch import save_file

    # safetensors wants contiguous CPU tensors that share no storage.
    plain = {key: (torch.from_numpy(np.array(t)) if isinstance(t, np.ndarray) else t.detach().to("cpu")
                   ).contiguous().clone() for key, t in tensors.items()}
    save_file(plain, str(path), metadata=metadata)


def _move_into_place(staging: Path, folder: Path) -> None:
    """Rename ``staging`` to ``folder``, replacing an existing bundle without ever leaving half of one."""
    if not folder.exists():
        os.replace(staging, folder)
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
    backup.rmdir()  # only the unique name is needed; os.replace cannot move onto a directory
    os.replace(folder, backup)
    try:
        os.replace(staging, folder)
    except BaseException:
        os.replace(backup, folder)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def read_manifest(folder: PathLike) -> dict[str, Any]:
    """The checked manifest of a bundle folder (kind and format version; hashes are checked on load)."""
    folder = Path(folder)
    if folder.is_file():
        raise BundleError(f"{folder} is a file, not a HyperSynth model bundle: a bundle is a folder (a run's "
                          "model_bundle or classifier_bundle)")
    if not folder.is_dir():
        raise BundleError(f"{folder} is not a HyperSynth model bundle: no such folder")
    path = folder / MANIFEST
    if not path.is_file():
        raise BundleError(f"{folder} is not a HyperSynth model bundle: it has no {MANIFEST}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path} is not readable JSON ({exc}); the bundle is damaged") from exc
    if not isinstance(manifest, dict) or manifest.get("kind") != BUNDLE_KIND:
        kind = manifest.get("kind") if isinstance(manifest, dict) else None
        raise BundleError(f"{folder} is not a HyperSynth model bundle: manifest kind is {kind!r}, "
                          f"expected {BUNDLE_KIND!r}")
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise BundleError(f"{path} has no integer format_version; the bundle is damaged")
    if version > BUNDLE_FORMAT:
        raise BundleError(f"{folder} was written by a newer HyperSynth (engine {manifest.get('engine_version')}, "
                          f"bundle format {version}); this is engine {ENGINE_VERSION} reading format "
                          f"{BUNDLE_FORMAT}: update the plugin to load it")
    if not isinstance(manifest.get("files"), dict) or not isinstance(manifest.get("parts"), list):
        raise BundleError(f"{path} lists no files or parts; the bundle is damaged")
    return manifest


def read_bundle_meta(folder: PathLike) -> dict[str, Any]:
    """A bundle's ``meta.json`` (its classes, bands, text source…) without reading a weight or checking a checksum:
    for a dialog that must answer at once; ``{}`` where the folder has none, or none that is a JSON object."""
    try:
        meta = json.loads((Path(folder) / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def read_bundle_part(folder: PathLike, part: str) -> dict[str, Any]:
    """One part's tensors of a bundle as numpy arrays, without checking its checksum (the run's :func:`load_bundle`
    does): for a dialog that must answer at once; ``{}`` where the part is missing or cannot be read."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file as load_numpy

    try:
        return load_numpy(str(Path(folder) / f"{part}.safetensors"))
    except (OSError, SafetensorError, ValueError):
        return {}


def load_bundle(folder: PathLike, *, device: Union[str, "torch.device"] = "cpu", arrays: str = "torch") -> Bundle:
    """Read a bundle written by :func:`save_bundle`, checking kind, format and every file's sha256.

    ``arrays``: "torch" gives each part as torch tensors on ``device``; "numpy" as numpy arrays, without importing
    torch (for a classifier that needs none, a forest or an SVM).

    Raises:
        BundleError: not a bundle, wrong kind, newer format, a listed file missing, or a file whose
            hash differs from the manifest (tampered or damaged).
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    files: dict[str, Any] = manifest["files"]
    needed = [CONFIG_FILE, META_FILE] + [f"{part}.safetensors" for part in manifest["parts"]]
    for name in needed:
        if name not in files:
            raise BundleError(f"{folder / MANIFEST} does not list {name}; the bundle is damaged")
    for name, info in files.items():
        path = folder / name
        if Path(name).name != name:
            raise BundleError(f"{folder / MANIFEST} lists a file outside the bundle: {name!r}")
        if not path.is_file():
            raise BundleError(f"the bundle {folder} is incomplete: {name} is missing")
        if _sha256(path) != info.get("sha256"):
            raise BundleError(f"{path} does not match the sha256 in the manifest: the file was changed or "
                              "damaged after the bundle was saved; use an intact copy of the bundle")
    try:
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BundleError(f"the bundle {folder} has unreadable JSON: {exc}") from exc
    if arrays not in ARRAY_KINDS:
        raise ValueError(f"arrays must be one of {', '.join(ARRAY_KINDS)}; got {arrays!r}")
    if arrays == "numpy":
        from safetensors.numpy import load_file as load_numpy

        tensors_by_part = {part: load_numpy(str(folder / f"{part}.safetensors")) for part in manifest["parts"]}
    else:
        from safetensors.torch import load_file

        tensors_by_part = {part: load_file(str(folder / f"{part}.safetensors"), device=str(device))
                           for part in manifest["parts"]}
    return Bundle(tensors_by_part=tensors_by_part, config=config, meta=meta, manifest=manifest)
