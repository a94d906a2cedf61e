"""The terminal side of a run: a progress bar per stage, or a line now and then when stderr is a log file."""

from __future__ import annotations

import codecs
import math
import re
import sys
import time
from typing import Callable, Optional

from ..progress import Reporter

LOG_INTERVAL = 30.0  # seconds: when stderr is a log file, the fewest between two progress lines of one step
PLAIN = {"κ": "kappa", "σ": "sigma", "λ": "lambda", "ω": "omega", "−": "-", "–": "-", "—": "-", "±": "+/-", "×": "x",
         "…": "...", "°": " deg", "²": "2", "³": "3", "▸": ">", "→": "->", "≥": ">=", "≤": "<=", "“": '"', "”": '"',
         "‘": "'", "’": "'", "½": "1/2", "¼": "1/4", "¾": "3/4", "Σ": "sum", "√": "sqrt", "·": "*", "†": "+"}
PLAIN_ERRORS = "hypersynth-plain"  # the codec error handler that writes PLAIN's words for what cannot be encoded


def plain_text(error: UnicodeEncodeError) -> tuple[str, int]:
    """A codec error handler: the characters a console's encoding cannot write as plain words (κ → kappa), or ?."""
    bad = error.object[error.start:error.end]
    return "".join(PLAIN.get(ch, "?") for ch in bad), error.end


codecs.register_error(PLAIN_ERRORS, plain_text)


def _elapsed(seconds: float) -> str:
    """A run's elapsed time as a person reads it: "42 s", "5 min 42 s", "2 h 05 min"."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


class TerminalReporter(Reporter):
    """A tqdm progress bar per stage on stderr (a log file: a line now and then instead); Ctrl+C cancels cleanly."""

    def __init__(self, quiet: bool = False, clock: Callable[[], float] = time.monotonic,
                 log_interval: float = LOG_INTERVAL) -> None:
        """
        Args:
            quiet: report nothing.
            clock: seconds from any start (tests pass a fake one, so nothing waits).
            log_interval: in a log file, the fewest seconds between two lines of one step.
        """
        self.quiet = quiet
        self._bar = None
        self._stage = ""
        self._clock = clock
        self._log_interval = log_interval
        self._started: Optional[float] = None  # when the first progress came: the run's elapsed time counts from it
        self._logged = ("", -1, -math.inf)  # the last log line's (stage, percent, time)

    def progress(self, fraction: float, stage: str) -> None:
        if self.quiet:
            return
        if not sys.stderr.isatty():  # a log file: a line per step and as it moves on, not a redrawn bar
            self._log_line(min(max(fraction, 0.0), 1.0), stage)
            return
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(total=1000, file=sys.stderr, bar_format="{l_bar}{bar}| {elapsed}<{remaining}")
        if stage != self._stage:
            self._stage = stage
            self._bar.set_description(stage[:28].ljust(28))
        self._bar.n = int(1000 * min(max(fraction, 0.0), 1.0))
        self._bar.refresh()

    def _log_line(self, fraction: float, stage: str) -> None:
        """Print "[ 18 %] 5 min 42 s  latents" at a new step's first progress, then as the step moves on (its
        counter or percentage), at most once every ``log_interval`` seconds: a cluster job's log shows it is alive
        without a line for each of a benchmark's hundreds of sub-steps."""
        now = self._clock()
        if self._started is None:
            self._started = now
        step = re.split(r"\s*\d", stage)[0]  # "cross-validation 3/15: classifier 4/8" is "cross-validation"
        percent = round(100 * fraction)
        last_stage, last_percent, last_time = self._logged
        if step == self._stage and ((stage, percent) == (last_stage, last_percent)
                                    or now - last_time < self._log_interval):
            return
        self._stage = step
        self._logged = (stage, percent, now)
        print(f"[{percent:3d} %] {_elapsed(now - self._started)}  {stage}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
