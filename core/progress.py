"""Progress and cancel: one small protocol shared by every long loop of the engine."""

from __future__ import annotations

from typing import Callable, Optional


class Cancelled(Exception):
    """Raised by :meth:`Reporter.check` when the user asked to stop."""


class Reporter:
    """Receives progress from long loops and tells them when to stop.

    Every epoch, diffusion step and tile calls ``progress(fraction, stage)`` and ``check()``.
    The base class reports nowhere and never cancels; the plugin binds one to a QgsTask,
    the CLI to a progress bar, tests to a counter that cancels after N checks.
    """

    def progress(self, fraction: float, stage: str) -> None:
        """Report ``fraction`` (0..1) of the current ``stage`` (e.g. "VAE 3/5")."""

    def is_cancelled(self) -> bool:
        """Whether the user asked to stop."""
        return False

    def check(self) -> None:
        """Raise :class:`Cancelled` when the user asked to stop."""
        if self.is_cancelled():
            raise Cancelled("cancelled by the user")

    def sub(self, start: float, end: float, prefix: str = "") -> "Reporter":
        """A reporter for one part of a job that maps its 0..1 onto ``start..end`` of this one."""
        return _SubReporter(self, start, end, prefix)

    def renamed(self, rename: Callable[[str], str]) -> "Reporter":
        """This reporter with each stage passed through ``rename`` first (a free prompt for the label id it is
        sampled under, say)."""
        return _RenamingReporter(self, rename)


class CallbackReporter(Reporter):
    """A reporter built from two plain callables (either may be ``None``)."""

    def __init__(
        self,
        on_progress: Optional[Callable[[float, str], None]] = None,
        is_cancelled: Optional[Callable[[], bool]] = None,
    ) -> None:
        self._on_progress = on_progress
        self._is_cancelled = is_cancelled

    def progress(self, fraction: float, stage: str) -> None:
        if self._on_progress is not None:
            self._on_progress(min(max(float(fraction), 0.0), 1.0), stage)

    def is_cancelled(self) -> bool:
        return bool(self._is_cancelled()) if self._is_cancelled is not None else False


class CancelAfter(Reporter):
    """Cancels at the ``n``-th call of :meth:`check` (for tests of cancel paths)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.checks = 0
        self.stages: list[str] = []

    def progress(self, fraction: float, stage: str) -> None:
        if not self.stages or self.stages[-1] != stage:
            self.stages.append(stage)

    def is_cancelled(self) -> bool:
        return self.checks >= self.n

    def check(self) -> None:
        self.checks += 1
        super().check()


class _SubReporter(Reporter):
    def __init__(self, parent: Reporter, start: float, end: float, prefix: str) -> None:
        self.parent, self.start, self.end, self.prefix = parent, start, end, prefix

    def progress(self, fraction: float, stage: str) -> None:
        name = f"{self.prefix}{stage}" if self.prefix and stage else (self.prefix or stage)
        self.parent.progress(self.start + (self.end - self.start) * min(max(fraction, 0.0), 1.0), name)

    def is_cancelled(self) -> bool:
        return self.parent.is_cancelled()

    def check(self) -> None:
        self.parent.check()


class _RenamingReporter(Reporter):
    """:meth:`Reporter.renamed`'s: its parent's progress and cancel, each stage renamed first."""

    def __init__(self, parent: Reporter, rename: Callable[[str], str]) -> None:
        self.parent, self.rename = parent, rename

    def progress(self, fraction: float, stage: str) -> None:
        self.parent.progress(fraction, self.rename(stage))

    def is_cancelled(self) -> bool:
        return self.parent.is_cancelled()

    def check(self) -> None:
        self.parent.check()


NULL_REPORTER = Reporter()
