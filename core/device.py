"""Where a run computes: the device names HyperSynth takes, checked before any long work."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

log = logging.getLogger("hypersynth")

CPU_ONLY_METHODS = ("rf", "svm")  # scikit-learn models: they run on the CPU whatever the device
DEVICE_NAME = re.compile(r"auto|cpu|cuda(:[0-9]+)?")  # the names HyperSynth takes (fullmatch)


def check_device(name: str) -> str:
    """Refuse, before any work, a device the run cannot use; returns ``name``.

    "auto" is CUDA when PyTorch finds a GPU, else the CPU. "cuda" and "cuda:N" (the GPU of index N) are refused
    where PyTorch finds no such GPU: a run asked for a GPU never runs on the CPU without a word.

    Raises:
        ValueError: a name other than "auto", "cpu", "cuda" or "cuda:N", or a CUDA device this machine lacks.
    """
    if not isinstance(name, str) or not DEVICE_NAME.fullmatch(name):
        raise ValueError(f"unknown device {name!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N' (N: the GPU's index)")
    if not name.startswith("cuda"):
        return name
    import torch  # only for a CUDA name: 'auto' and 'cpu' need no torch import here

    if not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for but no CUDA GPU is available; use 'auto' or 'cpu'")
    index, count = int(name.partition(":")[2] or 0), torch.cuda.device_count()
    if index >= count:
        held = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
        raise ValueError(f"device {name!r} was asked for but this machine has {count} CUDA GPU"
                         f"{'s' if count > 1 else ''} ({held}); use {'it' if count == 1 else 'one of them'}, 'auto' "
                         "or 'cpu'")
    return name


def resolve_device(name: str = "auto") -> "torch.device":
    """The torch device for ``name`` once :func:`check_device` has accepted it: "auto" is the first CUDA GPU when
    PyTorch finds one, else the CPU."""
    import torch

    if check_device(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def note_cpu_only(device: str, what: str) -> None:
    """Say once (INFO) that ``what`` (a random forest, an SVM) runs on the CPU although ``device`` names a GPU."""
    if device.startswith("cuda"):
        log.info("%s runs on the CPU (scikit-learn); device %r applies to the deep models only", what, device)
