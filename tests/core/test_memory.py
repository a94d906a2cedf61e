"""Tests for the memory check before a scene is read whole (core/memory.py)."""

import logging

import pytest
import rasterio

from hypersynth.core import memory
from hypersynth.core.cli import main as cli_main
from hypersynth.core.io.read import read_scene

from ..demo_files import write_demo_files


def test_the_memory_available_is_what_linux_can_give_plus_free_swap(tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24683784 kB\nMemFree:        20091232 kB\nMemAvailable:    1000000 kB\n"
                       "SwapTotal:       2097148 kB\nSwapFree:         500000 kB\nHugePages_Total:       0\n")
    monkeypatch.setattr(memory, "MEMINFO", meminfo)
    monkeypatch.setattr(memory, "PROC_CGROUP", tmp_path / "none")  # no container limit: test_memory_limits.py
    monkeypatch.setattr(memory.sys, "platform", "linux")
    assert memory.memory_budget() == memory.MemoryBudget((1_000_000 + 500_000) * 1024, False)
    monkeypatch.undo()
    here = memory.memory_budget()  # this machine's own: some memory, not more than it has
    assert here is None or 0 < here.bytes < 1 << 50


def test_a_scene_too_large_to_read_whole_is_refused_with_what_to_do(tmp_path, monkeypatch, caplog, capsys):
    scene, labels, _, classes = write_demo_files(tmp_path)
    with rasterio.open(scene) as ds:
        cube_bytes = 4 * ds.count * ds.height * ds.width
    monkeypatch.setattr(memory, "memory_budget", lambda: memory.MemoryBudget(3 * cube_bytes, False))
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        read_scene(scene)
    assert caplog.text == ""  # a third of what is available: nothing to say
    monkeypatch.setattr(memory, "memory_budget", lambda: memory.MemoryBudget(int(1.5 * cube_bytes), False))
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        assert read_scene(scene).cube.shape[0] == 30
    assert "GB of memory available: over half" in caplog.text and "it may run out of memory" in caplog.text
    monkeypatch.setattr(memory, "memory_budget", lambda: memory.MemoryBudget(cube_bytes // 2, False))
    with pytest.raises(memory.SceneTooLargeError, match=r"scene.tif \(32 × 32 pixels, 30 bands\) takes .* GB read "
                                                        r"whole, and this machine has .* GB of memory available; crop"):
        read_scene(scene)
    # a run that must read it whole is refused, and says so on the terminal; nothing is written
    rc = cli_main(["augment-classify", "--scene", str(scene), "--labels", str(labels), "--prompts", str(classes),
                   "--out", str(tmp_path / "aug"), "--preset", "tiny", "--training-area", "scene", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "of memory available; crop it to the area you need" in err and "Traceback" not in err
    assert not (tmp_path / "aug").exists() or not any((tmp_path / "aug").iterdir())
    # left to choose, it would learn from the area around the labels: here the whole small scene, still too large
    rc = cli_main(["augment-classify", "--scene", str(scene), "--labels", str(labels), "--prompts", str(classes),
                   "--out", str(tmp_path / "aug"), "--preset", "tiny", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "does not fit in memory whole, and the areas around its labels take" in err
    assert not (tmp_path / "aug").exists() or not any((tmp_path / "aug").iterdir())
    # a forest learns from the labelled pixels alone and streams the rest: it runs where the message says it would
    rc = cli_main(["baseline", "--method", "rf", "--scene", str(scene), "--labels", str(labels),
                   "--out", str(tmp_path / "rf"), "--quiet"])
    assert rc == 0
    with rasterio.open(tmp_path / "rf" / "classification.tif") as cm:
        assert (cm.read(1) > 0).mean() > 0.9


def test_freed_memory_is_handed_back_where_the_c_library_can(monkeypatch):
    """glibc's malloc_trim is found on glibc Linux (these machines, CI) and called; elsewhere nothing happens."""
    import platform

    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert memory._malloc_trim() is not None
    calls = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: calls.append)
    memory.release_freed_memory()
    assert calls == [0]  # malloc_trim(0): trim every free page, keep no pad
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    memory.release_freed_memory()  # no such function (macOS, Windows, musl): nothing to do, no error
