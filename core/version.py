"""The engine version, stored in every model bundle and report, and the code revision a run or benchmark used."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Optional

ENGINE_VERSION = "0.1.0"
CHECKOUT = Path(__file__).resolve().parents[1]  # the plugin folder: a git checkout when run from one


@functools.lru_cache(maxsize=1)
def code_revision() -> Optional[str]:
    """The checkout's commit (``git rev-parse --short HEAD``), with ``+changes`` when tracked files differ from it;
    None outside a git checkout (an installed ZIP) or without git. Figures name the code that made them."""
    if not (CHECKOUT / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(CHECKOUT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(CHECKOUT), "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+changes" if changed else commit or None


def engine_description() -> str:
    """``0.1.0`` and, in a git checkout, its commit: ``0.1.0 (4b4a1c5)``."""
    revision = code_revision()
    return f"{ENGINE_VERSION} ({revision})" if revision else ENGINE_VERSION
