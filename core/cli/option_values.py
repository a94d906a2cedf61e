"""What each command-line option accepts: argparse types that refuse a bad value and say what to give instead."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Callable, Optional

CLIP_FILES = "open_clip's open_clip_model.safetensors or open_clip_pytorch_model.bin"  # text_encoder.CHECKPOINT_FILES


# Each raises argparse.ArgumentTypeError, which argparse prints after the option's name ("argument --seed: …").


def _whole(minimum: int, maximum: Optional[int] = None, note: str = "") -> Callable[[str], int]:
    """A type: a whole number in [minimum, maximum]; ``note`` tells what else the user can do."""
    def parse(text: str) -> int:
        try:
            value: Optional[int] = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
            raise argparse.ArgumentTypeError(f"expected a whole number {bound}{note}; got {text!r}")
        return value
    return parse


def _number(low: float, high: float = math.inf, *, low_open: bool = False) -> Callable[[str], float]:
    """A type: a number in [low, high] (``low_open``: in (low, high]); NaN is refused."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not ((low < value if low_open else low <= value) and value <= high):  # NaN fails every comparison
            span = (f"in {'(' if low_open else '['}{low:g}, {high:g}]" if high < math.inf
                    else f"{'above' if low_open else 'of at least'} {low:g}")
            raise argparse.ArgumentTypeError(f"expected a number {span}; got {text!r}")
        return value
    return parse


def _prompt(text: str) -> str:
    """A type: a prompt with words in it (an empty one tells the text encoder nothing)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected words describing the patches, e.g. 'asphalt road'; got an empty "
                                         "prompt")
    return text


FILE_LIKE = (".tif", ".tiff", ".img", ".vrt", ".jp2", ".png", ".jpg", ".gpkg", ".shp", ".json", ".md", ".html",
             ".csv", ".npz", ".nc", ".h5")  # an --out folder named so is a file name given by mistake


def _folder(text: str) -> str:
    """A type: an output folder's name, not empty, and not a file's name where no such folder exists (review: --out
    map.tif made a folder map.tif holding classification.tif)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a folder, e.g. --out results/")
    path = Path(text)
    if path.suffix.lower() in FILE_LIKE and not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text!r} looks like a file name, but --out names the folder the files are written into (a run's map "
            f"is its classification.tif): give a folder, e.g. --out {path.with_suffix('')}/")
    return text


def _patches_file(text: str) -> str:
    """A type: the name of the file synthesize writes, whose ending says its format (.npz, .csv or .tif)."""
    from ..io.patch_files import patch_format

    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a .npz, .csv or .tif file name, e.g. --out patches.npz")
    return _checked(patch_format, text)


def _share(text: str) -> float:
    """A type: a share of each class, "10%" or 0.1, above 0 and below 100 % (:func:`..bench_inputs.parse_share`)."""
    from ..bench_inputs import parse_share

    try:
        return parse_share(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _tif_file(text: str) -> str:
    """A type: the name of the GeoTIFF import-scene writes."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a GeoTIFF file name, e.g. --out scene.tif")
    if Path(text).suffix.lower() not in (".tif", ".tiff"):
        raise argparse.ArgumentTypeError(f"the scene is written as GeoTIFF; name it {Path(text).stem or 'scene'}.tif "
                                         f"(got {text!r})")
    return text


def _bands_to_leave_out(text: str) -> str:
    """A type: the bands import-scene flags bad, checked for form (the scene, read later, says whether it has them)."""
    from ..io.band_choice import parse_bands_to_leave_out

    return _checked(parse_bands_to_leave_out, text)


def _checked(check: Callable[[str], object], text: str) -> str:
    """``text`` once the engine's ``check`` accepts it; its refusal (ValueError) as argparse's error."""
    try:
        check(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _clip_weights_file(text: str) -> str:
    """A type: an existing file of CLIP weights, checked before anything runs (the engine would find it missing only
    when the synthesis model's training starts)."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give the checkpoint file in it ({CLIP_FILES})")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}; give the CLIP ViT-B-32 checkpoint ({CLIP_FILES})")
    return str(path)


def _bench_list(name: str) -> Callable[[str], list]:
    """bench_inputs.py's list parser ``name`` (parse_seeds, parse_methods, …) as a type; its ValueError says what is
    wrong. Imported when used, so --help stays fast."""
    def parse(text: str) -> list:
        from .. import bench_inputs

        try:
            return getattr(bench_inputs, name)(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def _smoothing_width(text: str) -> Optional[float]:
    """'auto' -> None (cross-validated), 'off' -> 0, a number -> that width in pixels."""
    if text.strip().lower() == "auto":
        return None
    if text.strip().lower() == "off":
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, off or a width in pixels; got {text!r}") from None
    if not value >= 0:  # NaN too
        raise argparse.ArgumentTypeError(f"the smoothing width must be 0 or positive; got {value}")
    return value


def _device(text: str) -> str:
    """--device's spelling (whether this machine has that GPU is the engine's check, before any work)."""
    from ..device import DEVICE_NAME

    if not DEVICE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device; use auto, cpu, cuda or cuda:N (N: the GPU's "
                                         "index)")
    return text


def _accuracies(text: str) -> float | dict[int, float]:
    """A type: the map's expected user's accuracy, one fraction for every class (0.8) or per class id
    (1:0.9,2:0.7; classes not named 0.8)."""
    def fraction(part: str) -> float:
        try:
            value = float(part)
        except ValueError:
            value = math.nan
        if not 0 < value < 1:
            raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1 (e.g. 0.8, or per class id "
                                             f"1:0.9,2:0.7); got {part!r}")
        return value

    if ":" not in text:
        return fraction(text.strip())
    out: dict[int, float] = {}
    for item in text.split(","):
        key, _, value = item.partition(":")
        if not key.strip().isdigit():
            raise argparse.ArgumentTypeError(f"expected class id:fraction pairs, e.g. 1:0.9,2:0.7; got {item!r}")
        out[int(key)] = fraction(value.strip())
    return out

