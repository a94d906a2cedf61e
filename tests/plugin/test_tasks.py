"""EngineTask runs plain engine jobs in QGIS's task manager: results, progress, cancel and errors."""

from __future__ import annotations

import time

import pytest
from qgis.core import QgsApplication, QgsTask

from hypersynth.plugin.tasks import CANCELLED_MESSAGE, EngineTask, TaskRunner

from .conftest import wait_until


class Outcome:
    """Collects what the main-thread callbacks received."""

    def __init__(self) -> None:
        self.results: list = []
        self.failures: list[str] = []

    def success(self, result) -> None:
        self.results.append(result)

    def failure(self, message: str) -> None:
        self.failures.append(message)

    @property
    def ended(self) -> bool:
        return bool(self.results or self.failures)


def test_job_runs_to_completion_with_progress_and_stage(qgis_app):
    seen = []

    def job(reporter):
        total = 0
        for i in range(5):
            reporter.check()
            reporter.progress(i / 5, f"step {i + 1}/5")
            total += i
        seen.append(reporter.stage)
        return {"sum": total}

    outcome, runner = Outcome(), TaskRunner()
    task = runner.submit(EngineTask("toy job", job, on_success=outcome.success, on_failure=outcome.failure))
    assert runner.running == [task]
    assert wait_until(lambda: outcome.ended and not runner.running)
    assert outcome.results == [{"sum": 10}] and outcome.failures == []
    assert seen == ["step 5/5"]
    assert task.status() == QgsTask.Complete and task.description() == "toy job: step 5/5"


def test_the_stage_becomes_the_tasks_description_on_the_main_thread(qgis_app):
    """The worker set the task's description itself: QgsTask's description is for the main thread (which reads
    it for the task manager and the dock) to set, so a stage said while it was read raced with it (review)."""
    import threading

    set_on = []

    class Watched(EngineTask):
        def setDescription(self, description: str) -> None:  # noqa: N802 (QGIS API)
            set_on.append((threading.get_ident(), description))
            super().setDescription(description)

    worker = []

    def job(reporter):
        worker.append(threading.get_ident())
        reporter.progress(0.5, "VAE 1/2")
        reporter.progress(1.0, "VAE 2/2")

    outcome, runner = Outcome(), TaskRunner()
    task = runner.submit(Watched("toy job", job, on_success=outcome.success, on_failure=outcome.failure))
    assert wait_until(lambda: outcome.ended and not runner.running)
    assert [d for _, d in set_on] == ["toy job: VAE 1/2", "toy job: VAE 2/2"]
    assert {t for t, _ in set_on} == {threading.main_thread().ident} != set(worker)
    assert task.description() == "toy job: VAE 2/2"


def test_cancel_stops_the_job_and_reports_cancelled(qgis_app):
    started, checks = [], []

    def job(reporter):
        started.append(True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            reporter.progress(0.5, "waiting")
            reporter.check()
            checks.append(1)
            time.sleep(0.005)
        return "never cancelled"

    outcome, runner = Outcome(), TaskRunner()
    ended = []
    runner.taskEnded.connect(ended.append)
    task = runner.submit(EngineTask("cancellable", job, on_success=outcome.success, on_failure=outcome.failure))
    # Cancel once the job is inside its loop: cancelling between its start and its first check() (a busy
    # machine can pause the worker there) would be a different test.
    assert wait_until(lambda: bool(started) and bool(checks)), "the job never reached a check()"
    runner.cancel_all()
    assert wait_until(lambda: outcome.ended and not runner.running)
    assert outcome.results == [] and outcome.failures == [CANCELLED_MESSAGE]
    assert ended == [task] and task.status() == QgsTask.Terminated


def test_exception_message_reaches_on_failure(qgis_app):
    def job(reporter):
        reporter.progress(0.1, "reading scene")
        raise ValueError("the scene has 3 bands; HyperSynth needs a hyperspectral cube")

    outcome, runner = Outcome(), TaskRunner()
    task = runner.submit(EngineTask("bad input", job, on_success=outcome.success, on_failure=outcome.failure))
    assert wait_until(lambda: outcome.ended and not runner.running)
    assert outcome.failures == ["the scene has 3 bands; HyperSynth needs a hyperspectral cube"]
    assert "ValueError" in task.error_details


def test_running_out_of_memory_reaches_on_failure_as_what_to_do(qgis_app):
    def job(reporter):
        raise MemoryError("Unable to allocate 3.43 GiB for an array with shape (230, 2000, 2000)")

    outcome, runner = Outcome(), TaskRunner()
    task = runner.submit(EngineTask("large scene", job, on_success=outcome.success, on_failure=outcome.failure))
    assert wait_until(lambda: outcome.ended and not runner.running)
    assert outcome.failures == ["this computer ran out of memory (Unable to allocate 3.43 GiB for an array with shape "
                                "(230, 2000, 2000)); nothing was written. Close other programs, crop the scene or "
                                "leave out bands, or use a machine with more memory"]
    assert "MemoryError" in task.error_details  # the traceback still goes to QGIS's log


def test_failing_success_callback_is_logged_not_raised(qgis_app):
    def boom(result):
        raise RuntimeError("callback bug")

    runner = TaskRunner()
    task = runner.submit(EngineTask("callback", lambda reporter: 1, on_success=boom))
    assert wait_until(lambda: not runner.running)
    assert task.status() == QgsTask.Complete
    assert "callback bug" in task.callback_error


@pytest.mark.parametrize("fraction, expected", [(-1.0, 0.0), (0.25, 25.0), (3.0, 100.0)])
def test_task_reporter_clamps_progress(qgis_app, fraction, expected):
    task = EngineTask("not started", lambda reporter: None)
    task.reporter.progress(fraction, "stage")
    assert task.progress() == pytest.approx(expected)
    assert not task.reporter.is_cancelled()
    task.cancel()
    assert task.reporter.is_cancelled()
    del task
    QgsApplication.processEvents()


def test_detached_cancel_calls_nothing_back(qgis_app):
    started = []

    def job(reporter):
        started.append(True)
        while True:
            reporter.check()
            time.sleep(0.005)

    outcome, runner = Outcome(), TaskRunner()
    task = runner.submit(EngineTask("unloading", job, on_success=outcome.success, on_failure=outcome.failure))
    assert wait_until(lambda: bool(started))
    runner.cancel_all(detach=True)
    assert wait_until(lambda: not runner.running)
    assert not outcome.ended and task.error == CANCELLED_MESSAGE


def test_a_job_that_returned_succeeds_though_cancel_came_after_its_last_check(qgis_app):
    """A job whose outputs were in place was reported cancelled when Cancel came after its last check: the layers
    of the earlier run it replaced stayed, styled for the old files (review)."""
    def job(reporter):
        reporter.check()
        task.cancel()  # after the job's last check, as the analyst's Cancel may come while the outputs move
        return "written"

    outcome, runner = Outcome(), TaskRunner()
    task = EngineTask("late cancel", job, on_success=outcome.success, on_failure=outcome.failure)
    runner.submit(task)
    assert wait_until(lambda: outcome.ended and not runner.running)
    assert outcome.results == ["written"] and outcome.failures == []


def test_clean_up_runs_whatever_became_of_the_task_even_detached(qgis_app):
    """A run cancelled while queued at unload never ran its job, whose clean-up would have removed its scratch label
    copies, and its detached on_failure no longer did (review): the task's clean-up runs all the same."""
    cleaned = []
    outcome, runner = Outcome(), TaskRunner()
    task = EngineTask("queued", lambda reporter: "never", on_success=outcome.success, on_failure=outcome.failure)
    task.cleanup = lambda: cleaned.append(task.error)
    runner._running.append(task)  # as submitted, its job not started yet
    runner.cancel_all(detach=True)
    task.finished(False)  # what QGIS calls for a task cancelled before it ran
    assert cleaned == [CANCELLED_MESSAGE] and not outcome.ended


def test_the_engines_warnings_during_a_job_are_kept_for_the_analyst(qgis_app):
    """A warning the engine logs while the job runs (a scene in other units, say) is the task's, for the message
    bar and QGIS's log; one logged by another thread at the same time is not."""
    import logging
    import threading

    logged = []
    QgsApplication.messageLog().messageReceived.connect(lambda text, tag, level: logged.append((tag, text)))

    def job(reporter):
        other = threading.Thread(target=lambda: logging.getLogger("hypersynth").warning("another run's warning"))
        other.start()
        other.join()
        logging.getLogger("hypersynth").warning("values on another scale")
        logging.getLogger("hypersynth").info("not a warning")
        return 1

    outcome, runner = Outcome(), TaskRunner()
    task = runner.submit(EngineTask("warned job", job, on_success=outcome.success, on_failure=outcome.failure))
    assert wait_until(lambda: outcome.ended and not runner.running)
    assert task.warnings == ["values on another scale"]
    assert ("HyperSynth", "warned job: values on another scale") in logged


@pytest.mark.parametrize("fails", [False, True])
def test_the_runs_messages_come_after_qgis_own_task_notice(qgis_app, fails):
    """QGIS's main window answers the task manager's statusChanged with a "Task complete" / "Task failed" notice
    that lands over the message bar; a run's own messages (its accuracy, its report) are queued to come after it,
    whenever the main window connected its slot. A slot connected to the task manager plays its part here."""
    said: list[str] = []

    def qgis_notice(task_id: int, status: int) -> None:
        if status in (QgsTask.Complete, QgsTask.Terminated):
            said.append("Task complete" if status == QgsTask.Complete else "Task failed")

    def job(reporter):
        if fails:
            raise ValueError("no labels inside the scene")
        return "map.tif"

    manager = QgsApplication.taskManager()
    manager.statusChanged.connect(qgis_notice)
    try:
        runner = TaskRunner()
        task = EngineTask("run", job)
        task.on_success = lambda result: task.after_qgis_notice(lambda: said.append(f"finished: {result}"))
        task.on_failure = lambda message: task.after_qgis_notice(lambda: said.append(f"run: {message}"))
        runner.submit(task)
        assert wait_until(lambda: not runner.running and len(said) == 2)
    finally:
        manager.statusChanged.disconnect(qgis_notice)
    assert said == (["Task failed", "run: no labels inside the scene"] if fails
                    else ["Task complete", "finished: map.tif"])


def test_a_task_run_without_a_runner_says_its_messages_when_it_ends(qgis_app):
    said: list[str] = []
    task = EngineTask("direct", lambda reporter: 1)
    task.on_success = lambda result: task.after_qgis_notice(lambda: said.append(f"finished: {result}"))
    task.result = 1
    task.finished(True)
    assert said == ["finished: 1"] and task.notices == []


def test_a_runs_drawing_problems_come_after_qgis_own_notice_too(plugin, qgis_iface, tmp_path):
    """The synthetic spectra or attention a finished run cannot draw are warned of with its other messages, after
    QGIS's "Task complete"; a project's last run, shown again on opening, warns at once."""
    from qgis.core import Qgis

    broken = tmp_path / "synthetic_summary.json"
    broken.write_text("{not json")
    bar = qgis_iface.messageBar()
    before = len(bar.get_messages(Qgis.Warning))
    task = EngineTask("run", lambda reporter: None)
    plugin._show_synthetic_spectra(broken, [], task)
    plugin._show_run_attention(tmp_path / "attention.npz", "run", task)
    assert len(bar.get_messages(Qgis.Warning)) == before and len(task.notices) == 2  # queued, not yet said
    task.push_notices()
    said = bar.get_messages(Qgis.Warning)[before:]
    assert [("synthetic spectra" in m, "cross-attention" in m) for m in said] == [(True, False), (False, True)]
    plugin._show_synthetic_spectra(broken, [])  # no task: at once
    assert len(bar.get_messages(Qgis.Warning)) == before + 3


@pytest.mark.parametrize("error, level, logged", [
    (ValueError("the scene has 3 bands; HyperSynth needs a hyperspectral cube"), "Warning",
     "refused: the scene has 3 bands; HyperSynth needs a hyperspectral cube"),
    (RuntimeError("an engine bug"), "Critical", "refused failed:\nTraceback"),
])
def test_a_refusal_is_logged_as_a_warning_and_a_crash_with_its_traceback(qgis_app, error, level, logged):
    """The engine's refusal of bad input (a ValueError, whose message says what to fix) is a warning in QGIS's log,
    its traceback only at Info level; anything else is Critical, with the traceback."""
    from qgis.core import Qgis

    heard: list[tuple[str, int]] = []

    def record(message, tag, level_):
        if tag == "HyperSynth":
            heard.append((message, level_))

    def job(reporter):
        raise error

    QgsApplication.messageLog().messageReceived.connect(record)
    try:
        runner = TaskRunner()
        runner.submit(EngineTask("refused", job))
        assert wait_until(lambda: not runner.running and heard)
    finally:
        QgsApplication.messageLog().messageReceived.disconnect(record)
    levels = {message.split("\n")[0]: level_ for message, level_ in heard}
    first = next(message for message, level_ in heard if level_ == getattr(Qgis, level))
    assert first.startswith(logged)
    if level == "Warning":
        assert not any(level_ == Qgis.Critical for _, level_ in heard), levels
        assert any(message.startswith("refused refused:\nTraceback") and level_ == Qgis.Info
                   for message, level_ in heard)
