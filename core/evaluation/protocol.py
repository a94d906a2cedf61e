"""The few-label evaluation protocol: N labelled pixels per class for training, the rest for testing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from scipy.ndimage import binary_dilation

SPLIT_KINDS = ("random", "disjoint", "no-overlap")  # bench's --splits and draw-labels' --split, in this order
# (Processing's enums take them by index: a new kind goes at the end)


def guard_radius(kind: str, patch_size: int) -> int:
    """How far (Chebyshev distance, pixels) from every training pixel a split keeps its test pixels: "disjoint",
    the patch's half-side, so no test pixel lies inside a training patch (their patches may still share pixels);
    "no-overlap", twice that, so no test pixel's patch shares a pixel with a training pixel's patch (the stricter
    split of Nalepa, Myller & Kawulok 2019, "Validating hyperspectral image segmentation", IEEE GRSL 16(8)); a
    classifier that smooths its map reaches further still (the report's near/far figures count that); "random", 0."""
    half = int(patch_size) // 2
    return {"disjoint": half, "no-overlap": 2 * half}.get(kind, 0)


def guard_words(split: "Split") -> str:
    """What a split's guard band keeps its test pixels out of, for messages: "the 9×9 training patches"."""
    side = split.patch_size
    if split.kind == "no-overlap":
        return (f"{guard_radius(split.kind, side)} pixels of a training pixel (where their {side}×{side} patches "
                "would share pixels)")
    return f"the {side}×{side} training patches"


@dataclass
class Split:
    """Which labelled pixels a method may learn from and which ones it is judged on."""

    train_mask: np.ndarray  # (H, W) bool, the N-per-class training pixels
    test_mask: np.ndarray  # (H, W) bool, labelled pixels held out for testing (never overlaps train_mask)
    labels: np.ndarray  # (H, W) int label ids the split was drawn from (0 = unlabelled)
    seed: int  # seed of the numpy Generator that drew the training pixels
    labels_per_class: int  # N, the requested number of training pixels per class (0 when ``share`` is given)
    kind: str  # "random", "disjoint" or "no-overlap" (guard bands around training pixels: guard_radius) or "block"
    patch_size: int = 1  # patch side the guard band was sized for (disjoint splits)
    warnings: list[str] = field(default_factory=list)  # classes that got fewer than N or no test pixels
    share: Optional[float] = None  # the share of each class's pixels drawn instead of N (0.1: 10 %), if so

    def train_pixels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rows, cols, ids)`` of the training pixels, in row-major order."""
        return _pixels(self.train_mask, self.labels)

    def test_pixels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(rows, cols, ids)`` of the test pixels, in row-major order."""
        return _pixels(self.test_mask, self.labels)

    def train_labels(self) -> np.ndarray:
        """``(H, W)`` label map holding only the training pixels (0 elsewhere)."""
        return np.where(self.train_mask, self.labels, 0)

    def counts(self) -> dict[int, tuple[int, int]]:
        """Per class id: ``(training pixels, test pixels)``."""
        return {int(c): (int((self.train_mask & (self.labels == c)).sum()),
                         int((self.test_mask & (self.labels == c)).sum()))
                for c in class_ids(self.labels)}


def _pixels(mask: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, cols = np.nonzero(mask)
    return rows, cols, labels[rows, cols]


def class_ids(labels: np.ndarray) -> np.ndarray:
    """The sorted non-zero label ids present in ``labels``."""
    ids = np.unique(np.asarray(labels))
    return ids[ids != 0]


def ids_to_index(ids: np.ndarray, known_ids: np.ndarray) -> np.ndarray:
    """Map label ids to class indices ``0..K-1`` (the position of each id in the sorted ``known_ids``).

    Raises:
        ValueError: when an id is not one of ``known_ids``.
    """
    ids = np.asarray(ids)
    known = np.asarray(known_ids)
    if known.ndim != 1 or len(known) == 0 or np.any(np.diff(known) <= 0):
        raise ValueError("known_ids must be a non-empty, strictly increasing 1-D array of label ids "
                         "(use class_ids(labels))")
    index = np.clip(np.searchsorted(known, ids), 0, len(known) - 1)
    unknown = known[index] != ids
    if np.any(unknown):
        raise ValueError(f"label ids {sorted(set(np.unique(ids[unknown]).tolist()))} are not among the known "
                         f"classes {known.tolist()}")
    return index.astype(np.int64)


def index_to_ids(index: np.ndarray, known_ids: np.ndarray, fill: int = 0) -> np.ndarray:
    """Map class indices ``0..K-1`` back to label ids; negative indices (unclassified) become ``fill``."""
    index = np.asarray(index)
    known = np.asarray(known_ids)
    if np.any(index >= len(known)):
        raise ValueError(f"class index {int(index.max())} is out of range for {len(known)} classes")
    return np.where(index >= 0, known[np.clip(index, 0, None)], fill)


def _check_labels(labels: np.ndarray, n_per_class: int, valid: Optional[np.ndarray]) -> np.ndarray:
    """Validated labelled-pixel mask of ``labels`` (restricted to ``valid``)."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an (H, W) integer map of class ids; got {labels.dtype} {labels.shape}")
    if np.any(labels < 0):
        raise ValueError("labels must be >= 0 (0 = unlabelled); found negative ids")
    if int(n_per_class) < 1:
        raise ValueError(f"n_per_class must be at least 1; got {n_per_class}")
    labelled = labels > 0
    if valid is not None:
        if valid.shape != labels.shape:
            raise ValueError(f"valid mask {valid.shape} does not match the labels {labels.shape}")
        labelled &= valid.astype(bool)
    if not labelled.any():
        raise ValueError("there is no labelled (and valid) pixel to split; check the label map")
    return labelled


def _draw_training(labels: np.ndarray, labelled: np.ndarray, n_per_class: int, seed: int,
                   share: Optional[float] = None) -> tuple[np.ndarray, list[str]]:
    """N pixels per class (or ``share`` of each class's pixels, rounded, at least one) drawn with
    ``Generator(seed)``; small classes keep one pixel for testing."""
    rng = np.random.default_rng(seed)
    train = np.zeros(labels.shape, dtype=bool)
    warnings: list[str] = []
    flat = labels.ravel()
    candidates = np.flatnonzero(labelled)  # row-major, so the draw only depends on the map and the seed
    for c in class_ids(labels[labelled]):
        pixels = candidates[flat[candidates] == c]
        take = n_per_class if share is None else max(1, int(round(share * len(pixels))))
        if len(pixels) <= take:
            take = max(len(pixels) - 1, 1)  # keep one pixel for testing when the class has two or more
            warnings.append(f"class {int(c)} has only {len(pixels)} labelled pixel(s): "
                            f"{take} used for training, {len(pixels) - take} for testing")
        train.flat[rng.choice(pixels, size=take, replace=False)] = True
    return train, warnings


def _warn_empty_tests(labels: np.ndarray, train: np.ndarray, test: np.ndarray, warnings: list[str],
                      why: str) -> None:
    for c in class_ids(labels[train]):
        if not (test & (labels == c)).any():
            warnings.append(f"class {int(c)} has no test pixel left {why}")


def few_label_split(labels: np.ndarray, n_per_class: int, seed: int, *, kind: str = "random",
                    patch_size: int = 1, valid: Optional[np.ndarray] = None) -> Split:
    """Draw N training pixels per class; every other labelled pixel is a test pixel.

    Args:
        labels: ``(H, W)`` integer class ids, 0 = unlabelled.
        n_per_class: N, training pixels per class. A class with N or fewer pixels gives all but one of
            them to training (so it is still tested) and the split records a warning.
        seed: seed of the ``numpy.random.Generator``; the same labels and seed give the same split.
        kind: ``"random"``: all remaining labelled pixels are test pixels. ``"disjoint"``: test pixels
            never sit inside a training patch, i.e. every labelled pixel within ``patch_size // 2``
            (Chebyshev distance) of a training pixel is dropped from the test set. ``"no-overlap"``: within twice
            that, so no test patch shares a pixel with a training patch (:func:`guard_radius`).
        patch_size: side of the classifier's patch, sizing the disjoint guard band (1 = no band).
        valid: ``(H, W)`` bool; pixels outside it are neither trained on nor tested.
    """
    _check_split(kind, patch_size)
    labelled = _check_labels(labels, n_per_class, valid)
    train, warnings = _draw_training(labels, labelled, int(n_per_class), seed)
    return _finish_split(labels, labelled, train, warnings, seed, int(n_per_class), kind, patch_size)


def share_split(labels: np.ndarray, share: float, seed: int, *, kind: str = "random", patch_size: int = 1,
                valid: Optional[np.ndarray] = None) -> Split:
    """Like :func:`few_label_split`, with a share of each class's labelled pixels for training instead of N (``share``
    0.1: 10 %, rounded, at least one), the protocol of papers that train on 10 % of Indian Pines or 5 % of Pavia
    University (a random per-pixel share lets training patches hold test pixels: ``kind="disjoint"`` keeps them out)."""
    if not 0.0 < float(share) < 1.0:
        raise ValueError(f"the share of each class drawn must lie between 0 and 1 (0.1 for 10 %); got {share}")
    _check_split(kind, patch_size)
    labelled = _check_labels(labels, 1, valid)
    train, warnings = _draw_training(labels, labelled, 0, seed, share=float(share))
    return _finish_split(labels, labelled, train, warnings, seed, 0, kind, patch_size, share=float(share))


def _check_split(kind: str, patch_size: int) -> None:
    """Refuse a split kind that is none of :data:`SPLIT_KINDS` and a patch side under 1."""
    if kind not in SPLIT_KINDS:
        raise ValueError(f"unknown split kind {kind!r}; choose one of {', '.join(SPLIT_KINDS)}")
    if int(patch_size) < 1:
        raise ValueError(f"patch_size must be at least 1; got {patch_size}")


def _finish_split(labels: np.ndarray, labelled: np.ndarray, train: np.ndarray, warnings: list[str], seed: int,
                  n_per_class: int, kind: str, patch_size: int, share: Optional[float] = None) -> Split:
    """The split of ``train``: every other labelled pixel tests, but for a disjoint split's guard band."""
    test = labelled & ~train
    radius = guard_radius(kind, patch_size)
    if radius > 0:
        square = np.ones((2 * radius + 1, 2 * radius + 1), dtype=bool)
        test &= ~binary_dilation(train, structure=square)  # (H, W): none within the guard band
        where = (f"outside the {patch_size}x{patch_size} training patches" if kind == "disjoint" else
                 f"farther than {radius} pixels from every training pixel")
        _warn_empty_tests(labels, train, test, warnings, where)
    return Split(train, test, np.asarray(labels), seed, int(n_per_class), kind, int(patch_size), warnings, share)


def block_split(labels: np.ndarray, n_per_class: int, seed: int, *, block: int = 16,
                valid: Optional[np.ndarray] = None) -> Split:
    """Like :func:`few_label_split`, but test only in ``block × block`` tiles that hold no training pixel.

    A stricter spatial split than the guard band: the scene is cut into a fixed grid of blocks and
    every block containing a training pixel is left out of the test set entirely.
    """
    if int(block) < 1:
        raise ValueError(f"block must be at least 1 pixel; got {block}")
    labelled = _check_labels(labels, n_per_class, valid)
    train, warnings = _draw_training(labels, labelled, int(n_per_class), seed)
    rows, cols = np.nonzero(train)
    block_of_row = np.arange(labels.shape[0]) // block  # (H,)
    block_of_col = np.arange(labels.shape[1]) // block  # (W,)
    used = np.zeros((block_of_row[-1] + 1, block_of_col[-1] + 1), dtype=bool)
    used[rows // block, cols // block] = True
    in_used_block = used[block_of_row[:, None], block_of_col[None, :]]  # (H, W)
    test = labelled & ~train & ~in_used_block
    _warn_empty_tests(labels, train, test, warnings, f"outside the {block}x{block} blocks holding training pixels")
    return Split(train, test, np.asarray(labels), seed, int(n_per_class), "block", 1, warnings)
