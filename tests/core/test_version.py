"""Figures name the code that made them: the engine version and, in a git checkout, its commit."""

from __future__ import annotations

import re
import subprocess

from hypersynth.core import version
from hypersynth.core.version import CHECKOUT, ENGINE_VERSION, code_revision, engine_description


def test_the_commit_of_a_git_checkout_is_named_and_changes_are_said():
    revision = code_revision()
    if not (CHECKOUT / ".git").exists():  # an installed copy: the version alone
        assert revision is None and engine_description() == ENGINE_VERSION
        return
    head = subprocess.run(["git", "-C", str(CHECKOUT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert re.fullmatch(rf"{head}(\+changes)?", revision)
    assert engine_description() == f"{ENGINE_VERSION} ({revision})"


def test_outside_a_checkout_the_version_stands_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(version, "CHECKOUT", tmp_path)  # no .git here
    version.code_revision.cache_clear()
    try:
        assert code_revision() is None and engine_description() == ENGINE_VERSION
    finally:
        version.code_revision.cache_clear()
