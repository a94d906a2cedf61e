"""The command line in batch use: a full disk, a closed pipe, a console that cannot write κ, a stopped benchmark,
and outputs that cannot be written refused before the input is read (a command-line review's findings)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hypersynth.core.cli.commands as commands
from hypersynth.core.cli import main as cli_main
from hypersynth.core.demo import write_demo
from hypersynth.core.memory import disk_full_message


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return write_demo(tmp_path_factory.mktemp("demo") / "demo")


def _dispatch_raising(monkeypatch, error: BaseException) -> None:
    def dispatch(args, reporter):
        raise error

    monkeypatch.setattr(commands, "_dispatch", dispatch)


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, "No space left on device", "run/model_bundle/classifier.safetensors"),
    RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"),  # safetensors' own
])
def test_a_full_disk_is_said_as_such_without_a_traceback(error, demo, tmp_path, monkeypatch, capsys):
    """safetensors' SafetensorError is no OSError: a full disk gave a traceback and exit 1, which means out of
    memory in the README."""
    _dispatch_raising(monkeypatch, error)
    assert cli_main(["baseline", "--scene", str(demo.scene), "--labels", str(demo.labels), "--out",
                     str(tmp_path / "run")]) == 2
    said = capsys.readouterr().err
    assert said.startswith(f"error: the disk holding {tmp_path / 'run'} is full") and "Traceback" not in said
    assert "Free some space, or choose an output on another disk" in said
    assert disk_full_message(ValueError("a bad value")) is None


def test_a_closed_pipe_ends_the_command_quietly(demo, monkeypatch, capsys):
    _dispatch_raising(monkeypatch, BrokenPipeError(errno.EPIPE, "Broken pipe"))
    assert cli_main(["datasets"]) == 141  # 128 + SIGPIPE, as a shell reports `… | head -1`
    assert capsys.readouterr().err == ""


def test_a_console_that_cannot_write_kappa_gets_plain_words(demo, tmp_path):
    """A cp1252 redirect (a Windows batch script) made assess and bench fail after their work, on κ."""
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run([sys.executable, "-m", "hypersynth", "assess", "--map", str(demo.labels), "--validation",
                          str(demo.labels)], capture_output=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr.decode("cp1252", "replace")
    printed = run.stdout.decode("cp1252")
    assert printed.startswith("OA 100.00 %, AA 100.00 %, kappa 1.0000 (") and "κ" not in printed


def test_a_stopped_benchmark_says_which_runs_its_files_keep(tmp_path, monkeypatch, capsys):
    import hypersynth.core.bench as bench

    real = bench.run_bench

    def stopped_after_one(*args, on_result, **kwargs):
        def once(result):
            on_result(result)
            raise KeyboardInterrupt

        return real(*args, on_result=once, **kwargs)

    monkeypatch.setattr(bench, "run_bench", stopped_after_one)
    out = tmp_path / "b.json"
    assert cli_main(["bench", "--datasets", "demo", "--labels-per-class", "2", "--seeds", "0-1", "--methods",
                     "rf", "--splits", "random", "--quiet", "--json", str(out)]) == 130
    captured = capsys.readouterr()
    assert captured.err.endswith(f"interrupted: the run that finished is kept in {out}; the one under way is not\n")
    assert len(json.loads(out.read_text())["runs"]) == 1
    assert "demo N=2 random seed 0 rf: OA" in captured.err and "seed 0 rf: OA" not in captured.out  # logs: stderr


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="/proc takes no new files on Linux, even from root")
def test_outputs_that_cannot_be_written_are_refused_before_the_input_is_read(demo, monkeypatch, capsys):
    import hypersynth.core.io.convert as convert

    def never(*args, **kwargs):
        raise AssertionError("read before the output was checked")

    monkeypatch.setattr(convert, "read_scene", never)
    assert cli_main(["import-scene", "--scene", str(demo.scene), "--out", "/proc/hypersynth_scene.tif"]) == 2
    said = capsys.readouterr().err
    assert said.startswith("error: hypersynth_scene.tif cannot be written: cannot write in /proc (")
    assert said.endswith("); choose a folder you can write to\n")
    import hypersynth.core.io.read as read

    monkeypatch.setattr(read, "read_scene", never)  # the draw imports its readers when it runs
    monkeypatch.setattr(read, "read_scene_layout", never)
    assert cli_main(["draw-labels", "--scene", str(demo.scene), "--truth", str(demo.ground_truth), "--labels-per-class",
                     "2", "--out", "/proc/hypersynth_train.gpkg"]) == 2
    assert "hypersynth_train.gpkg cannot be written: cannot write in /proc" in capsys.readouterr().err


def test_an_imported_cube_without_wavelengths_is_said_to_have_none(tmp_path, capsys):
    """A .mat cube names no wavelength; the import said nothing of it, though the help speaks of wavelengths."""
    import scipy.io

    cube = np.random.default_rng(0).random((6, 5, 12)).astype(np.float32)
    scipy.io.savemat(tmp_path / "cube.mat", {"cube": cube})
    assert cli_main(["import-scene", "--scene", str(tmp_path / "cube.mat"), "--out", str(tmp_path / "cube.tif"),
                     "--quiet"]) == 0
    assert "wavelengths: none in the source, so the bands are numbered only" in capsys.readouterr().out


def test_the_help_lists_the_exit_statuses_the_command_line_returns(capsys):
    """A script tells the outcomes apart by them; they were in the README only."""
    assert cli_main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for said in ("exit status: 0 done; 2 a usage error or a refused input", "1 out of memory", "130 Ctrl+C",
                 "141 stdout closed", "143 SIGTERM"):
        assert said in text, said


def test_a_log_line_on_a_terminal_goes_above_the_progress_bar_not_onto_its_end(monkeypatch):
    """On a terminal a warning was printed where the bar's line ended ("… | 00:00<?WARNING: …"), then the bar
    redrew over it (review)."""
    import io
    import logging
    import re

    from hypersynth.core.cli.commands import _logging_above_the_bar
    from hypersynth.core.cli.terminal import TerminalReporter

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    console = logging.StreamHandler(terminal)  # as logging.basicConfig's, on stderr
    logging.root.addHandler(console)
    try:
        reporter = TerminalReporter()
        with _logging_above_the_bar(reporter):
            reporter.progress(0.5, "prediction")
            logging.getLogger("hypersynth").warning("bands 3-6 are one value")
            reporter.progress(0.6, "prediction")
        reporter.close()
    finally:
        logging.root.removeHandler(console)
    said = terminal.getvalue()
    assert "prediction" in said and "bands 3-6 are one value" in said
    assert re.split(r"[\r\n]", said.split("bands 3-6 are one value")[0])[-1] == ""  # a line of its own
    assert logging.root.handlers.count(console) == 0  # the redirect is undone
