"""Checks of an analyst's labels before a run learns from them: labels on the scene's no-data pixels, and classes
labelled at a pixel or two while others have more; each said once, with what it costs the run and what to do."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from .methods import SYNTHESISING_METHODS, MethodSettings
from .scene import ClassInfo

if TYPE_CHECKING:
    from .pixel_mask import PixelMask

log = logging.getLogger("hypersynth")


def _labelled_pixel_counts(labels: np.ndarray, valid: "np.ndarray | PixelMask") -> tuple[dict[int, int],
                                                                                        dict[int, int]]:
    """``(class id → labelled pixels, class id → those of them on the scene's no-data pixels)``."""
    from .io.labels import row_strips

    total: dict[int, int] = {}
    lost: dict[int, int] = {}
    for rows in row_strips(*labels.shape):  # a strip at a time: no whole-grid masks beside the label map
        strip = labels[rows]  # (h, W)
        labelled = strip > 0
        if not labelled.any():
            continue
        off = labelled & ~np.asarray(valid[rows], dtype=bool)
        for counts, ids in ((total, strip[labelled]), (lost, strip[off])):
            for i, n in zip(*np.unique(ids, return_counts=True)):
                counts[int(i)] = counts.get(int(i), 0) + int(n)
    return total, lost


def warn_of_labels_on_no_data(labels: np.ndarray, valid: "np.ndarray | PixelMask", classes: list[ClassInfo],
                              name: str) -> None:
    """Say which labelled pixels lie on the scene's no-data pixels (NaN, the no-data value, bands missing), where
    nothing is learnt: a class whose every label lies there would vanish from the map without a word."""
    total, lost = _labelled_pixel_counts(labels, valid)
    if not lost:
        return
    for c in classes:
        if lost.get(c.id, 0) == total.get(c.id, 0) > 0:
            log.warning("class %d (%s): all %d of its labelled pixels in %s lie on the scene's no-data pixels "
                        "(NaN, the no-data value or bands missing), where nothing is learnt: it cannot be in the map; "
                        "label some of its pixels that hold data", c.id, c.name, total[c.id], name)
    partly = [c for c in classes if 0 < lost.get(c.id, 0) < total[c.id]]
    if partly:
        log.warning("%d labelled pixels of %s lie on the scene's no-data pixels and are not learnt from (%s)",
                    sum(lost[c.id] for c in partly), name,
                    ", ".join(f"{c.name}: {lost[c.id]} of {total[c.id]}" for c in partly))


# Labelled pixels a class needs before the run can tune anything on it; fewer is warned of when another class has
# this many (warn_of_classes_with_few_labels). 3 is what the code needs: the SVM picks C and gamma by a 3-fold
# stratified CV only when every class has 3 labels (classify.baselines.SpectralSVM.MIN_PER_CLASS_FOR_CV), and a
# class of 1 or 2 pixels lies in at most 2 separate places, so the blend's CV, which holds out whole label regions
# and takes its fold count from the class with the fewest (classify.ensemble), is either off or cut to 2 folds.
FEW_LABELS = 3
# methods whose classifier is the CNN + forest blend with shares and smoothing chosen by CV on the labels
BLEND_METHODS = ("cnn-pseudo", "augment")


def warn_of_classes_with_few_labels(labels: np.ndarray, valid: "np.ndarray | PixelMask", classes: list[ClassInfo],
                                    name: str, method: str, settings: MethodSettings) -> None:
    """Say which classes have fewer than :data:`FEW_LABELS` labelled pixels on the scene's data while another class
    has that many or more: the run learns such a class from a pixel or two, and its few labels decide for every
    class what the CV can tune (the smallest class sets the folds). When every class is that small the run is a
    few-label run by choice, and its report's notes say what the CV could do."""
    total, lost = _labelled_pixel_counts(labels, valid)
    learnt = {c.id: total.get(c.id, 0) - lost.get(c.id, 0) for c in classes}
    few = [c for c in classes if 0 < learnt[c.id] < FEW_LABELS]  # none learnt: warn_of_labels_on_no_data says it
    most = max(learnt.values(), default=0)
    if not few or most < FEW_LABELS:
        return
    places = _labelled_places(labels, valid, {c.id for c in few})
    one, n_few = len(few) == 1, sum(learnt[c.id] for c in few)
    it, pixels = ("it" if one else "each"), ("that pixel" if n_few == 1 else "those pixels")
    said = [f"the run learns {it} from {pixels} alone"]
    if method in BLEND_METHODS:
        if min(places[c.id] for c in few) < 2:
            said.append("the classifier blend's shares and its spatial smoothing cannot be chosen by cross-validation "
                        "(each class needs labels in 2 separate places) and take their defaults")
        else:
            said.append(f"the classifier blend's cross-validation holds at most 2 folds for every class, each "
                        f"scoring {'it' if one else 'these classes'} on a single held-out pixel")
    if method in ("svm", "dfeat", "dfeat-augment") or (method in BLEND_METHODS and settings.diffusion_features):
        said.append(f"the SVM's C and gamma cannot be chosen by cross-validation (it needs {FEW_LABELS} labelled "
                    "pixels in every class) and take their defaults")
    if method in SYNTHESISING_METHODS and settings.anchor_strength < 1:
        said.append(f"{'its' if one else 'their'} synthetic patches, anchored on {pixels}, mostly repeat "
                    f"{'it' if n_few == 1 else 'them'}")
    listed = ", ".join(f"{c.id} ({c.name}: {learnt[c.id]} labelled pixel{'s' if learnt[c.id] > 1 else ''})"
                       for c in few)
    log.warning("class%s %s of %s: fewer than %d labelled pixels, while another class has %d: %s; brush a few more "
                "pixels of %s (%d or more%s, in separate places)", "" if one else "es", listed, name, FEW_LABELS,
                most, "; ".join(said), " and ".join(c.name for c in few), FEW_LABELS, "" if one else " each")


def warn_of_classes_in_one_place(labels: np.ndarray, valid: "np.ndarray | PixelMask", classes: list[ClassInfo],
                                 name: str, method: str) -> None:
    """Say which classes of :data:`FEW_LABELS` or more labelled pixels lie in one place only (one 8-connected
    area: a single brushed stroke or polygon), for the methods whose classifier blend chooses its shares and
    smoothing by a cross-validation that holds out whole places: one such class turns it off for every class.
    Brushing one area per class is the natural first try, and nothing else would tell that it costs the CV."""
    if method not in BLEND_METHODS:
        return
    total, lost = _labelled_pixel_counts(labels, valid)
    learnt = {c.id: total.get(c.id, 0) - lost.get(c.id, 0) for c in classes}
    enough = {c.id for c in classes if learnt[c.id] >= FEW_LABELS}  # fewer: warn_of_classes_with_few_labels
    places = _labelled_places(labels, valid, enough)
    alone = [c for c in classes if c.id in enough and places[c.id] == 1]
    if not alone:
        return
    one = len(alone) == 1
    log.warning("class%s %s of %s %s labelled in one place only (%s): the classifier blend chooses its shares and "
                "spatial smoothing by cross-validation that holds out whole places, so with a class in one place it "
                "takes its default shares and, unless you set a width, no smoothing; label %s in a second place, "
                "apart from the first", "" if one else "es",
                ", ".join(f"{c.id} ({c.name}: {learnt[c.id]} pixels)" for c in alone), name,
                "is" if one else "are", "one area of touching pixels" if one else "each one area of touching pixels",
                " and ".join(c.name for c in alone))


def _labelled_places(labels: np.ndarray, valid: "np.ndarray | PixelMask", ids: set[int]) -> dict[int, int]:
    """How many separate places (8-connected areas, as the blend's CV holds them out: classify.spatial's
    label_regions) the labelled pixels of each class in ``ids`` on the scene's data lie in. Each class is labelled
    within its own bounding box, one class at a time: no mask of the whole scene beside the label map."""
    from scipy import ndimage

    places = {}
    for i, (rows, cols) in _bounding_boxes(labels, valid, ids).items():
        mask = (labels[rows, cols] == i) & np.asarray(valid[rows, cols], dtype=bool)
        places[i] = int(ndimage.label(mask, structure=np.ones((3, 3), dtype=int))[1])
    return places


def _bounding_boxes(labels: np.ndarray, valid: "np.ndarray | PixelMask", ids: set[int]
                    ) -> dict[int, tuple[slice, slice]]:
    """``(rows, cols)`` of the box around each class's labelled pixels on the scene's data (classes of ``ids``
    with none are left out), found a strip at a time."""
    from .io.labels import row_strips

    box: dict[int, list[int]] = {}  # id -> [first row, last row, first col, last col]
    for rows in row_strips(*labels.shape):
        strip = labels[rows]  # (h, W)
        ok = np.asarray(valid[rows], dtype=bool)
        for i in ids:
            hit = (strip == i) & ok
            if not hit.any():
                continue
            r, c = np.flatnonzero(hit.any(axis=1)) + rows.start, np.flatnonzero(hit.any(axis=0))
            b = box.setdefault(i, [int(r[0]), int(r[-1]), int(c[0]), int(c[-1])])
            b[:] = [min(b[0], int(r[0])), max(b[1], int(r[-1])), min(b[2], int(c[0])), max(b[3], int(c[-1]))]
    return {i: (slice(b[0], b[1] + 1), slice(b[2], b[3] + 1)) for i, b in box.items()}
