"""What `bench` is asked: dataset, method and split names, seeds, label counts and shares, and its output files, all
checked before anything runs (a benchmark may take hours)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence

from .methods import METHODS
from .outputs import write_problem

SEED_MAX = 2**32 - 1  # the largest seed NumPy and scikit-learn take
LONGEST_RANGE = 10_000  # seeds in one "a-b" range: more would run for ever (and a typo could fill the memory)


def parse_seeds(text: str) -> list[int]:
    """'0-4' -> [0,1,2,3,4]; '0,3' -> [0,3]; a seed given twice counts once; anything else is refused with an
    example."""
    return _whole_numbers(text, "seeds", minimum=0, maximum=SEED_MAX, example="0-4 or 0,3", ranges=True)


def parse_counts(text: str) -> list[int]:
    """'2,5' -> [2, 5]: labels per class, each at least 1, each once; anything else is refused with an example."""
    return _whole_numbers(text, "labels per class", minimum=1, maximum=None, example="2,5", ranges=False)


def parse_share(text: str) -> float:
    """'10%' or '0.1' -> 0.1: a share of each class's labelled pixels, above 0 and below 100 %; anything else is
    refused with an example."""
    given = text.strip()
    try:
        value = float(given[:-1]) / 100 if given.endswith("%") else float(given)
    except ValueError:
        value = math.nan
    if not 0.0 < value < 1.0:  # NaN too
        meant = (f" (a bare number is a fraction: did you mean {given}%?)" if not given.endswith("%")
                 and 1.0 <= value < 100.0 else "")
        raise ValueError(f"expected a share above 0 and below 100 %, e.g. 10% or 0.1; got {text!r}{meant}")
    return value


def parse_shares(text: str) -> list[float]:
    """'5%,10%' -> [0.05, 0.1]: shares as :func:`parse_share` takes them, each once; anything else is refused with an
    example."""
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise ValueError(f"expected a share above 0 and below 100 %, or a comma list of them, e.g. 10% or 5%,10%; "
                         f"got {text!r}")
    return list(dict.fromkeys(parse_share(part) for part in parts))


def _whole_numbers(text: str, what: str, *, minimum: int, maximum: Optional[int], example: str,
                   ranges: bool) -> list[int]:
    """A comma list of whole numbers (with ``ranges``, ``a-b`` parts too), each in [minimum, maximum], in the order
    given with repeats dropped."""
    form = "a range or a comma list" if ranges else "a comma list"
    bound = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
    refusal = f"{what} must be whole numbers {bound}, as {form} (e.g. {example}); got {text!r}"
    numbers: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            a, b = (int(end) for end in part.split("-")) if ranges and "-" in part else (int(part), int(part))
        except ValueError:
            raise ValueError(refusal) from None
        if a < minimum or (maximum is not None and b > maximum) or b < a:
            raise ValueError(refusal)
        if b - a >= LONGEST_RANGE:  # refused before it is spelt out: 0-99999999999 would fill the memory
            raise ValueError(f"{what}: the range {part} holds more than {LONGEST_RANGE} numbers; give a shorter one")
        numbers.extend(range(a, b + 1))
    if not numbers:
        raise ValueError(refusal)
    return list(dict.fromkeys(numbers))


def parse_methods(text: str) -> list[str]:
    """'rf,svm' -> ['rf', 'svm']: method names (any case), each once; an unknown one is refused with the choices."""
    return _names(text, "method", METHODS, example="rf,svm,augment")


def parse_splits(text: str) -> list[str]:
    """'random,disjoint' (or no-overlap) -> the split kinds, each once; an unknown one is refused with the choices."""
    from .evaluation.protocol import SPLIT_KINDS

    return _names(text, "split", SPLIT_KINDS, example="random,disjoint")


def parse_datasets(text: str) -> list[str]:
    """'salinasA,demo' -> dataset keys, matched in any case (``SalinasA`` is salinasA), each once. A scene
    without class labels (moffett_field) is refused: nothing could score a benchmark on it."""
    from .datasets.registry import DATASETS, UNLABELLED_SCENES

    keys = _names(text, "dataset", [*DATASETS, *UNLABELLED_SCENES], example="salinasA,demo", shown=list(DATASETS),
                  note=" ('hypersynth datasets' says which are here)")
    unlabelled = [k for k in keys if k in UNLABELLED_SCENES]
    if unlabelled:
        raise ValueError(f"{', '.join(unlabelled)} has no class labels, so no benchmark can score a method on it; "
                         "choose labelled datasets ('hypersynth datasets' lists them) or benchmark a scene of your "
                         "own with its reference labels (--scene and --truth)")
    return keys


def _names(text: str, what: str, known: Sequence[str], *, example: str, shown: Optional[Sequence[str]] = None,
           note: str = "") -> list[str]:
    """A comma list of ``known`` names, matched case-insensitively, in the order given with repeats dropped; an
    unknown one is refused with the closest name and the choices (``shown``, default all ``known``) + ``note``."""
    import difflib

    by_lower = {name.lower(): name for name in known}
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError(f"no {what} given: expected a comma list (e.g. {example}); got {text!r}")
    chosen = []
    for part in parts:
        name = part if part in known else by_lower.get(part.lower())
        if name is None:
            close = difflib.get_close_matches(part.lower(), list(by_lower), n=1)
            hint = f"did you mean {by_lower[close[0]]}? " if close else ""
            raise ValueError(f"unknown {what} {part!r}; {hint}choose from {', '.join(shown or known)}{note}")
        chosen.append(name)
    return list(dict.fromkeys(chosen))


def check_output_file(path: str, option: str, overwrite: bool) -> Path:
    """Refuse a file the benchmark could not write, or would replace unasked, before anything runs.

    Args:
        path: where ``option`` (e.g. ``--json``) asks for the file.
        option: the option's name, for the message.
        overwrite: an existing file may be replaced.

    Raises:
        ValueError: the path is empty, a folder, not a plain file, in no folder that can be written to, or an
            existing file without ``overwrite``; the message says what to do instead.
    """
    if not path.strip():
        raise ValueError(f"{option} is empty: give a file name")
    if path.strip() == "-":  # gdal's and rio's stdout; here it was a file named "-"
        what = "its JSON" if option == "--json" else "its tables"
        raise ValueError(f"{option} - : bench writes {what} to a file as its runs finish (a stopped bench keeps "
                         "them there), not to stdout: give a file name")
    target = Path(path)
    if target.is_dir():
        example = target / ("bench.md" if option == "--markdown" else "bench.json")
        raise ValueError(f"{option} {target} is a folder: give a file name in it (e.g. {example})")
    if target.exists() and not target.is_file():
        raise ValueError(f"{option} {target} is not a plain file: give a file name")
    if target.exists() and not overwrite:
        raise ValueError(f"{option} {target} already exists; pass --overwrite to replace it, or choose another file")
    problem = write_problem(target)
    if problem:
        raise ValueError(f"{option} {target}: {problem}; choose a place you can write to")
    return target


def check_output_files(json_path: Optional[str], markdown_path: Optional[str], overwrite: bool) -> None:
    """:func:`check_output_file` for ``--json`` and ``--markdown``, which must also differ."""
    for path, option in ((json_path, "--json"), (markdown_path, "--markdown")):
        if path is not None:
            check_output_file(path, option, overwrite)
    if json_path and markdown_path and Path(json_path).absolute() == Path(markdown_path).absolute():
        raise ValueError(f"--json and --markdown both name {json_path}: give each its own file")
