"""Background jobs: a QgsTask that runs a plain engine callable, and a runner that keeps tasks alive."""

from __future__ import annotations

import logging
import threading
import traceback
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsTask
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QObject, QTimer, pyqtSignal

from ..core.memory import disk_full_message, out_of_memory_message
from ..core.progress import Cancelled, Reporter

LOG_TAG = "HyperSynth"
CANCELLED_MESSAGE = "cancelled by the user"

Job = Callable[[Reporter], Any]


class TaskReporter(Reporter):
    """A reporter bound to a QgsTask: progress bar, stage in the task's description, cancel button.

    It is called from the worker thread; it only touches the task's own thread-safe progress and cancel flag, and
    sends the stage to the main thread to become the task's description (QgsTask's description is not for another
    thread to change), never a layer or widget.
    """

    def __init__(self, task: "EngineTask") -> None:
        self._task = task
        self.stage = ""

    def progress(self, fraction: float, stage: str) -> None:
        if stage and stage != self.stage:  # before the progress, whose signal makes watchers read the stage
            self.stage = stage
            self._task.stage_said.emit(f"{self._task.title}: {stage}")  # queued: set on the main thread
        self._task.setProgress(100.0 * min(max(float(fraction), 0.0), 1.0))

    def is_cancelled(self) -> bool:
        return bool(self._task.isCanceled())


class _ThreadWarnings(logging.Handler):
    """Hands the engine's warnings ("hypersynth" logger) logged by one thread to ``sink``: a job's own, not those
    of another job running at the same time."""

    def __init__(self, sink: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        try:
            self.sink(record.getMessage())
        except Exception:  # noqa: BLE001 (a log line must never break the run)
            self.handleError(record)


@contextmanager
def engine_warnings_to(sink: Callable[[str], None]) -> Iterator[None]:
    """While the block runs, each warning the engine logs in this thread is handed to ``sink``."""
    logger = logging.getLogger("hypersynth")
    handler = _ThreadWarnings(sink)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


class EngineTask(QgsTask):
    """Runs ``job(reporter) -> result`` off the main thread and reports back on the main thread.

    Args:
        title: what the task manager shows, e.g. "Augment & Classify demo scene".
        job: a plain callable working on paths and arrays only (never layers or widgets).
        on_success: called on the main thread with the job's result.
        on_failure: called on the main thread with a message ("cancelled by the user" when cancelled).
    """

    stage_said = pyqtSignal(str)  # the worker's new description: set by the task on the main thread, where it lives
    stage_shown = pyqtSignal(str)  # emitted on the main thread once the description is set: for watchers connected
    # after the worker said its stage (a queued signal reaches only the receivers connected when it was emitted)

    def __init__(self, title: str, job: Job, on_success: Optional[Callable[[Any], None]] = None,
                 on_failure: Optional[Callable[[str], None]] = None) -> None:
        super().__init__(title, QgsTask.CanCancel)
        self.stage_said.connect(self._say_stage)  # emitted on the worker thread: queued to this one
        self.title = title
        self.job = job
        self.on_success = on_success
        self.on_failure = on_failure
        self.reporter = TaskReporter(self)
        self.result: Any = None
        self.error: Optional[str] = None  # one line for the message bar
        self.error_details: Optional[str] = None  # the traceback, for the log
        self.refused = False  # the job raised a ValueError: the engine refused bad input and said why
        self.callback_error: Optional[str] = None  # traceback of a failing on_success/on_failure, for the log
        self.warnings: list[str] = []  # what the engine warned of while the job ran (a scene in other units, …)
        self.on_end: Optional[Callable[["EngineTask"], None]] = None  # set by TaskRunner; after finished()
        # run at the end of finished() whatever became of the task, even with its callbacks detached at unload (a
        # task cancelled while queued never ran its job, whose own clean-up would have removed its scratch files)
        self.cleanup: Optional[Callable[[], None]] = None
        self.notices: list[Callable[[], None]] = []  # message-bar pushes the callbacks queued with after_qgis_notice
        self.notices_wait = False  # set by TaskRunner: the notices go out once back in the event loop

    def _say_stage(self, description: str) -> None:
        """The worker's stage as the task's description, on the main thread; none once QGIS has deleted the task
        (a stage still queued then would reach a deleted object)."""
        if not sip.isdeleted(self):
            self.setDescription(description)
            self.stage_shown.emit(description)

    def after_qgis_notice(self, push: Callable[[], None]) -> None:
        """Queue ``push`` (a message-bar message about the task's end) to come after QGIS's own notice.

        QGIS answers the end of a task that took 5 s or more with a "Task complete" or "Task failed" notice
        (pushed on the task manager's ``statusChanged``, after ``finished()``), which, without a desktop
        notification service, lands in the message bar over what ``finished()`` pushed: the run's accuracy and
        its report link. Queued here, they come once control is back in the event loop, after that notice. A task
        run without a TaskRunner pushes them at the end of ``finished()``.
        """
        self.notices.append(push)

    def push_notices(self) -> None:
        """Push the queued notices, in the order they were queued."""
        notices, self.notices = self.notices, []
        for push in notices:
            try:
                push()
            except Exception:  # noqa: BLE001 (called from the event loop: an exception would be lost)
                QgsMessageLog.logMessage(f"{self.title}: a message could not be shown:\n{traceback.format_exc()}",
                                         LOG_TAG, Qgis.Critical)

    def run(self) -> bool:  # worker thread
        heard: list[str] = []
        try:
            with engine_warnings_to(heard.append):
                self.result = self.job(self.reporter)
        except Cancelled:
            self.error = CANCELLED_MESSAGE
            return False
        except Exception as exc:  # noqa: BLE001 (every failure must reach the analyst as a message)
            self.error = (disk_full_message(exc) or out_of_memory_message(exc) or str(exc)
                          or type(exc).__name__)
            self.error_details = traceback.format_exc()
            self.refused = isinstance(exc, ValueError)  # the engine's word on bad input, not a crash
            return False
        finally:
            self.warnings = heard
        # a job that returned has done its work (it raises Cancelled at its checks): a Cancel that came after its
        # last check must not report as cancelled a run whose outputs are in place
        return True

    def finished(self, ok: bool) -> None:  # main thread
        for message in self.warnings:  # in QGIS's log panel, whatever became of the run
            QgsMessageLog.logMessage(f"{self.title}: {message}", LOG_TAG, Qgis.Warning)
        try:
            if ok:
                if self.on_success is not None:
                    self.on_success(self.result)
                return
            if self.error is None:  # cancelled before run() started
                self.error = CANCELLED_MESSAGE
            if self.error_details and self.refused:  # the message says what to fix; the traceback only for a bug report
                QgsMessageLog.logMessage(f"{self.title}: {self.error}", LOG_TAG, Qgis.Warning)
                QgsMessageLog.logMessage(f"{self.title} refused:\n{self.error_details}", LOG_TAG, Qgis.Info)
            elif self.error_details:
                QgsMessageLog.logMessage(f"{self.title} failed:\n{self.error_details}", LOG_TAG, Qgis.Critical)
            if self.on_failure is not None:
                self.on_failure(self.error)
        except Exception:  # noqa: BLE001 (an exception escaping finished() would be lost by QGIS)
            self.callback_error = traceback.format_exc()
            QgsMessageLog.logMessage(f"{self.title}: error in the completion handler:\n{self.callback_error}",
                                     LOG_TAG, Qgis.Critical)
        finally:
            if self.cleanup is not None:
                try:
                    self.cleanup()
                except Exception:  # noqa: BLE001 (as above: lost otherwise)
                    QgsMessageLog.logMessage(f"{self.title}: clean-up failed:\n{traceback.format_exc()}", LOG_TAG,
                                             Qgis.Warning)
            if self.on_end is not None:
                self.on_end(self)
            if not self.notices_wait:
                self.push_notices()


class TaskRunner(QObject):
    """Submits tasks to QGIS's task manager and holds a Python reference to each until it ends.

    Without the reference, Python may collect objects a running task still uses (QGIS issue 38583).
    """

    taskEnded = pyqtSignal(object)  # the EngineTask, after its finished() ran (its notices come just after)

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._running: list[EngineTask] = []

    @property
    def running(self) -> list[EngineTask]:
        """The tasks submitted and not yet ended."""
        return list(self._running)

    def submit(self, task: EngineTask) -> EngineTask:
        """Start ``task`` in QgsApplication.taskManager() and keep it referenced until it ends."""
        self._running.append(task)
        # Forget the task at the end of its finished() (main thread, after layers were added), not on
        # taskCompleted/taskTerminated, which can fire before finished() has run.
        task.on_end = self._forget
        task.notices_wait = True
        QgsApplication.taskManager().addTask(task)
        return task

    def cancel_all(self, detach: bool = False) -> None:
        """Ask every running task to stop (they end at their next ``check()``).

        Args:
            detach: also drop their callbacks, so that nothing calls back into an unloaded plugin.
        """
        for task in self._running:
            if detach:
                task.on_success = task.on_failure = None
            task.cancel()

    def _forget(self, task: EngineTask) -> None:
        if task in self._running:
            self._running.remove(task)
            self.taskEnded.emit(task)
        # finished() runs inside the task manager's handling of the task's end, which then emits the statusChanged
        # that QGIS answers with its notice; a zero timer fires once that handling is over (a lambda: the task's C++
        # side may be deleted by then, and push_notices reads Python fields only).
        QTimer.singleShot(0, lambda: task.push_notices())
