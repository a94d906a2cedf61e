"""One run at a time in an output folder: a second run, in any process, is refused before it checks or writes."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from hypersynth.core.cli import main as cli_main
from hypersynth.core.outputs import (CLAIM_FILE, OutputFolderBusyError, claim_holder, claim_output_folder,
                                     earlier_outputs, move_outputs, process_start)
from hypersynth.core.pipeline import ALL_OUTPUTS, classify_scene, train_bundle
from hypersynth.core.progress import Reporter


@pytest.fixture
def other_run():
    """A live process of this machine, standing for another HyperSynth run (a QGIS dock run, say)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    yield process
    process.kill()
    process.wait()


def _claim_as(folder: Path, pid: int, host: str = "", what: str = "Augment & Classify of other.tif") -> Path:
    """Write the claim file another run would have written."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / CLAIM_FILE
    lock.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(), "what": what,
                                "started": "2024-05-01T09:30:00+02:00"}))
    return lock


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_claim_is_a_small_json_file_removed_on_success(tmp_path):
    out = tmp_path / "run"
    with claim_output_folder(out, "a test run"):
        claim = json.loads((out / CLAIM_FILE).read_text())
        assert claim["pid"] == os.getpid() and claim["host"] == socket.gethostname() and claim["what"] == "a test run"
        assert datetime.fromisoformat(claim["started"]).tzinfo is not None
        (out / "classification.tif").write_text("map")
    assert sorted(p.name for p in out.iterdir()) == ["classification.tif"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failed_run_releases_the_claim_and_removes_the_folder_it_made(tmp_path, error):
    out = tmp_path / "new" / "run"
    with pytest.raises(error):
        with claim_output_folder(out, "a test run"):
            assert (out / CLAIM_FILE).exists()
            raise error()
    assert not (tmp_path / "new").exists()  # nor the folder made on its way
    (tmp_path / "shared").mkdir()
    with pytest.raises(error):
        with claim_output_folder(tmp_path / "shared" / "a" / "b", "a test run"):
            (tmp_path / "shared" / "other.txt").write_text("another program's file")
            raise error()
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == ["other.txt"]
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(error):
        with claim_output_folder(kept, "a test run"):
            raise error()
    assert kept.is_dir() and list(kept.iterdir()) == []  # not made by the run: stays, without the claim


def test_a_second_claim_is_refused_in_another_thread_and_nests_in_the_same(tmp_path):
    out = tmp_path / "run"
    refused: list[BaseException] = []

    def second() -> None:
        try:
            with claim_output_folder(out, "a Processing run"):
                pass
        except OutputFolderBusyError as exc:
            refused.append(exc)

    with claim_output_folder(out, "Augment & Classify of scene.tif"):
        worker = threading.Thread(target=second)
        worker.start()
        worker.join()
        with claim_output_folder(out, "the same run, one level down"):  # the demo, then its classification
            pass
        assert (out / CLAIM_FILE).exists()  # the nested exit left the outer claim
    assert len(refused) == 1
    said = str(refused[0])
    assert f"{out} is in use by another run in this program (Augment & Classify of scene.tif, process {os.getpid()}"\
        in said and "wait for it to finish, or choose another output folder" in said
    assert not (out / CLAIM_FILE).exists()


def test_a_claim_of_another_live_process_is_refused_with_its_details(tmp_path, other_run):
    out = tmp_path / "run"
    lock = _claim_as(out, other_run.pid)
    with pytest.raises(OutputFolderBusyError) as refused:
        with claim_output_folder(out, "a test run"):
            pytest.fail("claimed a held folder")
    said = str(refused.value)
    assert (f"{out} is in use by another HyperSynth run (Augment & Classify of other.tif, process {other_run.pid} "
            "started 2024-05-01T09:30:00+02:00)") in said
    assert said.endswith("wait for it to finish, or choose another output folder") and "\n" not in said
    assert claim_holder(out) == said
    assert json.loads(lock.read_text())["pid"] == other_run.pid  # the other run's claim is left alone


def _gone_pid() -> int:
    """The pid of a process that has finished and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_claim_of_a_finished_process_is_stale_and_replaced(tmp_path, caplog):
    out = tmp_path / "run"
    pid = _gone_pid()
    _claim_as(out, pid)
    (out / ".hypersynth-run-abc123").mkdir()  # what the killed run was staging
    (out / ".hypersynth-run-abc123" / "classification.tif").write_bytes(b"half")
    (out / "my_notes.txt").write_text("mine")
    assert claim_holder(out) is None
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        with claim_output_folder(out, "a test run"):
            assert json.loads((out / CLAIM_FILE).read_text())["pid"] == os.getpid()
            assert not (out / ".hypersynth-run-abc123").exists()  # the gone run's half-written files went
    assert "held the claim of a HyperSynth run that is gone" in caplog.text and f"process {pid}," in caplog.text
    assert "{" not in caplog.text  # said in words, not as the claim file's JSON
    assert [p.name for p in out.iterdir()] == ["my_notes.txt"]


def test_a_claim_made_on_another_machine_is_respected(tmp_path):
    out = tmp_path / "run"
    lock = _claim_as(out, _gone_pid(), host="render-node-7")  # its pid means nothing here
    with pytest.raises(OutputFolderBusyError, match=r"in use by a HyperSynth run on render-node-7 .*if that run is "
                                                    rf"known to be gone, delete {lock} by hand"):
        with claim_output_folder(out, "a test run"):
            pass
    assert lock.exists()


def test_an_unreadable_claim_is_held_for_a_day_then_stale(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    lock = out / CLAIM_FILE
    lock.write_text("")  # what a run that has just created its claim file, and not yet filled it, leaves
    with pytest.raises(OutputFolderBusyError, match=r"cannot be read: wait for that run to finish"):
        with claim_output_folder(out, "a test run"):
            pass
    two_days_ago = time.time() - 2 * 86400
    os.utime(lock, (two_days_ago, two_days_ago))
    with claim_output_folder(out, "a test run"):
        assert json.loads(lock.read_text())["what"] == "a test run"
    assert not lock.exists()


def test_the_claim_is_never_an_earlier_output_nor_moved_or_removed_as_one(tmp_path):
    out = tmp_path / "run"
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "report.md").write_text("new")
    with claim_output_folder(out, "a test run"):
        assert earlier_outputs(out, ALL_OUTPUTS) == []
        assert earlier_outputs(out, [*ALL_OUTPUTS, CLAIM_FILE], kept=[CLAIM_FILE]) == []
        move_outputs(staging, out, ALL_OUTPUTS, [])
        assert (out / CLAIM_FILE).exists()
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]


class _Watcher(Reporter):
    """Looks into the output folder while the run trains: the claim is there, and no earlier output."""

    def __init__(self, out: Path) -> None:
        self.out, self.seen = out, []

    def progress(self, fraction: float, stage: str) -> None:
        self.seen.append(((self.out / CLAIM_FILE).exists(), earlier_outputs(self.out, ALL_OUTPUTS)))


def test_a_run_holds_its_folder_while_it_runs_and_releases_it(scene_files, tmp_path):
    out = tmp_path / "run"
    watcher = _Watcher(out)
    outputs = classify_scene(scene_files["scene"], scene_files["labels"], out, method="rf", reporter=watcher)
    assert watcher.seen and all(held and earlier == [] for held, earlier in watcher.seen)
    assert outputs.class_map.exists() and not (out / CLAIM_FILE).exists()


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_run_into_a_folder_another_process_holds_is_refused_before_anything_is_written(scene_files, tmp_path,
                                                                                        other_run, overwrite):
    out = tmp_path / "run"
    classify_scene(scene_files["scene"], scene_files["labels"], out, method="rf")  # the folder's earlier run
    _claim_as(out, other_run.pid)  # another run, checked and writing there now
    before, names = _snapshot(out), sorted(p.name for p in out.iterdir())
    with pytest.raises(OutputFolderBusyError, match=rf"in use by another HyperSynth run .*process {other_run.pid}"):
        classify_scene(scene_files["scene"], scene_files["labels"], out, method="svm", overwrite=overwrite)
    assert _snapshot(out) == before  # nothing replaced, the other run's claim kept
    assert sorted(p.name for p in out.iterdir()) == names  # no staging folder either


def test_a_new_folder_another_process_holds_is_refused_before_the_run_reads_anything(scene_files, tmp_path,
                                                                                    other_run):
    out = tmp_path / "run"
    lock = _claim_as(out, other_run.pid)
    with pytest.raises(OutputFolderBusyError):
        classify_scene(tmp_path / "missing.tif", scene_files["labels"], out, method="rf")  # no scene error: first
    with pytest.raises(OutputFolderBusyError):
        train_bundle(tmp_path / "missing.tif", scene_files["labels"], out / "model_bundle")
    assert [p.name for p in out.iterdir()] == [CLAIM_FILE] and lock.exists()


def test_the_command_line_says_the_folder_is_busy_in_one_line(scene_files, tmp_path, other_run, capsys):
    out = tmp_path / "run"
    _claim_as(out, other_run.pid)
    code = cli_main(["baseline", "--scene", str(scene_files["scene"]), "--labels", str(scene_files["labels"]),
                     "--out", str(out), "--method", "rf", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: {out} is in use by another HyperSynth run") and err.count("\n") == 1
    assert "--overwrite" not in err


def test_runs_in_progress_lists_what_this_process_runs(tmp_path):
    from hypersynth.core.outputs import runs_in_progress

    assert runs_in_progress() == []
    with claim_output_folder(tmp_path / "a", "Augment & Classify of a.tif"):
        with claim_output_folder(tmp_path / "a", "the same run, nested"):
            seen: list[list[str]] = []
            worker = threading.Thread(target=lambda: seen.append(runs_in_progress()))  # a Processing run's view
            worker.start()
            worker.join()
            assert seen == [["Augment & Classify of a.tif"]]
    assert runs_in_progress() == []


# --------------------------------------------------------------------------- a pid a later process has taken
@pytest.fixture
def claiming_run(tmp_path):
    """Another process that takes a real claim of ``tmp_path / "run"`` and holds it until killed."""
    out = tmp_path / "run"
    code = ("import sys, time\nfrom pathlib import Path\nfrom hypersynth.core.outputs import claim_output_folder\n"
            "with claim_output_folder(Path(sys.argv[1]), 'Augment & Classify of other.tif'):\n"
            "    print('held', flush=True)\n    time.sleep(60)\n")
    process = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "held\n"
    yield process, out
    process.kill()
    process.wait()


def test_a_claim_records_when_its_process_started(claiming_run):
    process, out = claiming_run
    claim = json.loads((out / CLAIM_FILE).read_text())
    assert claim["pid"] == process.pid and claim["pid_started"] == process_start(process.pid)
    if sys.platform.startswith("linux"):
        assert claim["pid_started"].startswith("proc:")  # field 22 of /proc/<pid>/stat


def test_a_claim_whose_pid_another_process_now_has_is_stale(claiming_run, caplog):
    """The claim's pid is alive, but its start time is not the claiming run's: the run ended and the pid went to an
    unrelated process (here: the claim's start time rewritten, as after a reboot or pid wrap-around)."""
    process, out = claiming_run
    lock = out / CLAIM_FILE
    assert "is in use by another HyperSynth run" in claim_holder(out)  # the live run's own claim holds
    claim = json.loads(lock.read_text())
    kind, _, when = claim["pid_started"].partition(":")
    earlier = f"{int(when) - 1}" if kind == "proc" else f"{float(when) - 1:.2f}"
    lock.write_text(json.dumps({**claim, "pid_started": f"{kind}:{earlier}"}))
    assert claim_holder(out) is None
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        with claim_output_folder(out, "a test run"):
            assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert "run that is gone" in caplog.text and str(process.pid) in caplog.text


@pytest.mark.parametrize("pid_started", ["absent", None, "psutil:12.50"])
def test_a_claim_without_a_comparable_start_time_of_a_live_process_holds(tmp_path, other_run, pid_started):
    """A claim of an older HyperSynth (no start time), one whose start could not be read (null) and one read
    another way (another prefix) cannot be compared: held, as before."""
    out = tmp_path / "run"
    lock = _claim_as(out, other_run.pid)
    if pid_started != "absent":
        lock.write_text(json.dumps({**json.loads(lock.read_text()), "pid_started": pid_started}))
    with pytest.raises(OutputFolderBusyError, match=rf"process {other_run.pid} started 2024-05-01T09:30:00"):
        with claim_output_folder(out, "a test run"):
            pass


def test_process_start_reads_a_live_process_and_none_for_a_gone_one(other_run):
    assert process_start(other_run.pid) == process_start(other_run.pid) is not None
    assert process_start(other_run.pid) != process_start(os.getpid())
    assert process_start(_gone_pid()) is None


# --------------------------------------------------------------------------- the Windows branch, run on any system
class _Kernel32:
    """kernel32 as ctypes gives it on Windows, answering OpenProcess/GetExitCodeProcess as for one process."""

    def __init__(self, handle: int, exit_code: int = 0, last_error: int = 0) -> None:
        self.last_error, self.closed, self.opened = last_error, [], []

        class Function:  # takes restype/argtypes like a ctypes function
            def __init__(self, body):
                self.body = body

            def __call__(self, *args):
                return self.body(*args)

        def open_process(access, inherit, pid):
            self.opened.append((access, inherit, pid))
            return handle

        def exit_code_of(process, code):
            code._obj.value = exit_code  # byref(DWORD): the caller reads the DWORD
            return 1

        self.OpenProcess = Function(open_process)
        self.GetExitCodeProcess = Function(exit_code_of)
        self.CloseHandle = Function(self.closed.append)


@pytest.mark.parametrize("handle, exit_code, last_error, alive", [
    (42, 259, 0, True),  # STILL_ACTIVE
    (42, 0, 0, False),  # ended with exit code 0: its handle outlives it
    (0, 0, 5, True),  # ERROR_ACCESS_DENIED: it exists, as another user
    (0, 0, 87, False),  # ERROR_INVALID_PARAMETER: no such process
])
def test_alive_on_windows_asks_the_kernel_and_sends_no_signal(monkeypatch, handle, exit_code, last_error, alive):
    import ctypes

    from hypersynth.core import outputs

    kernel32 = _Kernel32(handle, exit_code, last_error)
    monkeypatch.setattr(ctypes, "WinDLL", lambda name, use_last_error: kernel32, raising=False)
    monkeypatch.setattr(ctypes, "get_last_error", lambda: kernel32.last_error, raising=False)
    monkeypatch.setattr(os, "kill", lambda *a: pytest.fail("os.kill would send Ctrl+C on Windows"))
    with monkeypatch.context() as windows:
        windows.setattr(os, "name", "nt")
        assert outputs._alive(4321) is alive
    assert kernel32.opened == [(0x1000, False, 4321)]  # PROCESS_QUERY_LIMITED_INFORMATION
    assert kernel32.closed == ([42] if handle else [])  # every handle opened is closed
