"""Where a run computes: the device names HyperSynth takes, checked before any long work, and its CPU threads."""

from __future__ import annotations

import logging
import re
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    import torch

log = logging.getLogger("hypersynth")
_REPEATABLE_LOCK = threading.Lock()  # guards the two values below: fits running at once share one switch
_repeatable_fits = 0  # CPU fits inside repeatable_training now
_flag_before: tuple[bool, bool] = (False, False)  # torch's deterministic-algorithms switch before the first of them

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

    share_cpu_threads()
    if check_device(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def share_cpu_threads() -> None:
    """Lower PyTorch's CPU threads to the CPUs this process may use, where they are fewer (never raise them).

    PyTorch starts a thread per core its affinity allows (a Slurm job's cpuset is respected), but not a CPU quota:
    in a Docker container run with ``--cpus 4`` or a Kubernetes pod with a CPU limit on a 64-core host it would run 64
    threads in the time of 4, each stalled by the quota. joblib's count (the one scikit-learn's ``n_jobs=-1`` uses)
    reads both the affinity and the quota.
    """
    import torch
    from joblib import cpu_count

    allowed, threads = cpu_count(), torch.get_num_threads()
    if allowed < threads:
        torch.set_num_threads(allowed)
        log.info("PyTorch's CPU threads: %d, not %d, the CPUs this process may use (its container's or job's quota)",
                 allowed, threads)


def note_cpu_only(device: str, what: str) -> None:
    """Say once (INFO) that ``what`` (a random forest, an SVM) runs on the CPU although ``device`` names a GPU."""
    if device.startswith("cuda"):
        log.info("%s runs on the CPU (scikit-learn); device %r applies to the deep models only", what, device)


@contextmanager
def repeatable_training(device: "torch.device") -> Iterator[None]:
    """Deterministic kernels while a network trains on ``device``, so that one seed gives one model in every run.

    On the CPU, PyTorch adds the gradient of an indexed or embedded tensor with atomic additions across its threads,
    in an order that changes from run to run (with 2 threads the ``fast`` synthesis model differed between two runs
    of the demo, session 23); ``torch.use_deterministic_algorithms`` switches those kernels to sorted ones. The switch
    is process-wide, so it is on while any HyperSynth fit runs (a dock run and a Processing run may overlap) and
    goes back to what it was when the last one ends; ``warn_only`` keeps an op without a deterministic kernel
    running. On a GPU, cuDNN's deterministic kernels are chosen for the fit instead (cuBLAS would need a process
    environment variable set before CUDA starts, so GPU runs are repeatable up to rounding).
    """
    import torch

    global _repeatable_fits, _flag_before
    if device.type == "cuda":
        before = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        try:
            yield
        finally:
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before
        return
    with _REPEATABLE_LOCK:
        if _repeatable_fits == 0:
            _flag_before = (torch.are_deterministic_algorithms_enabled(),
                            torch.is_deterministic_algorithms_warn_only_enabled())
            torch.use_deterministic_algorithms(True, warn_only=True)
        _repeatable_fits += 1
    try:
        yield
    finally:
        with _REPEATABLE_LOCK:
            _repeatable_fits -= 1
            if _repeatable_fits == 0:
                torch.use_deterministic_algorithms(_flag_before[0], warn_only=_flag_before[1])
