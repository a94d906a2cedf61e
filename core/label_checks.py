"""Checks of an analyst's labels before a run learns from them: labels on the scene's no-data pixels, classes
labelled at a pixel or two while others have more, classes brushed in one place only; each said once, with what it
costs the run and what to do."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np

from .methods import SYNTHESISING_METHODS, MethodSettings
from .scene import ClassInfo

if TYPE_CHECKING:
    from .pixel_mask import PixelMask

log = logging.getLogger("hypersynth")


@dataclass
class LabelCounts:
    """The labelled pixels of each class id, from one scan of a label map against the scene's valid pixels."""

    total: dict[int, int]  # class id -> labelled pixels
    lost: dict[int, int]  # class id -> those of them on the scene's no-data pixels

    def learnt(self, class_id: int) -> int:
        """The class's labelled pixels that hold data: what a run learns from."""
        return self.total.get(class_id, 0) - self.lost.get(class_id, 0)


def count_labels(labels: np.ndarray, valid: "np.ndarray | PixelMask") -> LabelCounts:
    """:class:`LabelCounts` of ``labels`` on the scene's ``valid`` pixels, a strip at a time."""
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
    return LabelCounts(total, lost)


def check_labels(labels: np.ndarray, valid: "np.ndarray | PixelMask", classes: list[ClassInfo], name: str,
                 method: str, settings: MethodSettings) -> None:
    """Every check of this module on the labels ``name`` (their file) before a ``method`` run, from one count and,
    for a blend method (the only one whose CV holds out places), one gathering of each class's places."""
    counts = count_labels(labels, valid)
    places = None
    if method in BLEND_METHODS or _svm_chooses_by_cv(method, settings):
        places = _labelled_places(labels, valid, {c.id for c in classes if counts.learnt(c.id) > 0})
    warn_of_labels_on_no_data(labels, valid, classes, name, counts)
    warn_of_classes_with_few_labels(labels, valid, classes, name, method, settings, counts, places)
    warn_of_classes_in_one_place(labels, valid, classes, name, method, counts, places, settings)


def warn_of_labels_on_no_data(labels: np.ndarray, valid: "np.ndarray | PixelMask", classes: list[ClassInfo],
                              name: str, counts: Optional[LabelCounts] = None) -> None:
    """Say which labelled pixels lie on the scene's no-data pixels (NaN, the no-data value, bands missing), where
    nothing is learnt: a class whose every label lies there would vanish from the map without a word. ``counts``:
    the labels' :func:`count_labels`, when made already."""
    counts = counts or count_labels(labels, valid)
    total, lost = counts.total, counts.lost
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
# methods whose classifier is an SVM whose C and gamma a CV on the labels picks (classify.baselines.SpectralSVM)
SVM_METHODS = ("svm", "dfeat", "dfeat-augment")


def _svm_chooses_by_cv(method: str, settings: MethodSettings) -> bool:
    """Whether a ``method`` run trains an SVM, alone or as the blend's third member, that may pick C and gamma by CV."""
    return method in SVM_METHODS or (method in BLEND_METHODS and settings.diffusion_features)


def warn_of_classes_with_few_labels(labels: np.ndarray, valid: "np.ndarray | PixelMask", classes: list[ClassInfo],
                                    name: str, method: str, settings: MethodSettings,
                                    counts: Optional[LabelCounts] = None,
                                    places: Optional[dict[int, int]] = None) -> None:
    """Say which classes have fewer than :data:`FEW_LABELS` labelled pixels on the scene's data while another class
    has that many or more: the run learns such a class from a pixel or two, and its few labels decide for every
    class what the CV can tune (the smallest class sets the folds). When every class is that small the run is a
    few-label run by choice, and its report's notes say what the CV could do. ``counts``, ``places``: the labels'
    :func:`count_labels` and :func:`_labelled_places`, when made already."""
    counts = counts or count_labels(labels, valid)
    learnt = {c.id: counts.learnt(c.id) for c in classes}
    few = [c for c in classes if 0 < learnt[c.id] < FEW_LABELS]  # none learnt: warn_of_labels_on_no_data says it
    most = max(learnt.values(), default=0)
    if not few or most < FEW_LABELS:
        return
    one, n_few = len(few) == 1, sum(learnt[c.id] for c in few)
    it, pixels = ("it" if one else "each"), ("that pixel" if n_few == 1 else "those pixels")
    said = [f"the run learns {it} from {pixels} alone"]
    if method in BLEND_METHODS:
        places = places if places is not None else _labelled_places(labels, valid, {c.id for c in few})
        if min(places[c.id] for c in few) < 2:
            said.append("the classifier blend's shares and its spatial smoothing cannot be chosen by cross-validation "
                        "(each class needs labels in 2 separate places) and take their defaults")
        else:
            said.append(f"the classifier blend's cross-validation holds at most 2 folds for every class, each "
                        f"scoring {'it' if one else 'these classes'} on a single held-out pixel")
    if _svm_chooses_by_cv(method, settings):
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
                                 name: str, method: str, counts: Optional[LabelCounts] = None,
                                 places: Optional[dict[int, int]] = None,
                                 settings: Optional[MethodSettings] = None) -> None:
    """Say which classes of :data:`FEW_LABELS` or more labelled pixels lie in one place only (one 8-connected
    area: a single brushed stroke or polygon), for the methods whose classifier blend chooses its shares and
    smoothing by a cross-validation that holds out whole places (one such class turns it off for every class), and
    for those with an SVM whose C and gamma a CV of single held-out pixels picks (each held out beside labels of its
    own stroke: the score is optimistic and the choice fits the stroke). Brushing one area per class is the natural
    first try, and nothing else would tell what it costs the CV."""
    blend, svm = method in BLEND_METHODS, _svm_chooses_by_cv(method, settings or MethodSettings())
    if not (blend or svm):
        return
    counts = counts or count_labels(labels, valid)
    learnt = {c.id: counts.learnt(c.id) for c in classes}
    enough = {c.id for c in classes if learnt[c.id] >= FEW_LABELS}  # fewer: warn_of_classes_with_few_labels
    svm_cv = svm and len(enough) == sum(learnt[c.id] > 0 for c in classes)  # else the SVM takes its defaults
    if not (blend or svm_cv):
        return
    places = places if places is not None else _labelled_places(labels, valid, enough)
    alone = [c for c in classes if c.id in enough and places[c.id] == 1]
    if not alone:
        return
    learning = [c for c in classes if learnt[c.id] > 0]
    if len(alone) == len(learning):
        who, them = f"every class of {name} is", "each class"
    elif len(alone) == 1:
        who, them = f"class {alone[0].id} ({alone[0].name}) of {name} is", alone[0].name
    else:
        who = f"classes {', '.join(f'{c.id} ({c.name})' for c in alone)} of {name} are"
        them = "each of them"
    costs = []
    if blend:
        costs.append("the classifier blend's cross-validation holds out whole places, so it cannot choose the "
                     "blend's shares and smoothing, which take their defaults (no smoothing unless a width is set)")
    if svm_cv:
        costs.append("the SVM picks its C and gamma by a cross-validation that holds out single pixels, each beside "
                     "labels of its own stroke, so its score is optimistic and its choice fits the stroke rather than "
                     "the class")
    log.warning("%s labelled in one place only (one area of touching pixels): %s; label %s in a second place, apart "
                "from the first", who, "; ".join(costs), them)


def _labelled_places(labels: np.ndarray, valid: "np.ndarray | PixelMask", ids: set[int]) -> dict[int, int]:
    """How many separate places (8-connected areas, as the blend's CV holds them out: classify.spatial's
    label_regions) the labelled pixels of each class in ``ids`` on the scene's data lie in. Worked out from the
    labelled pixels' positions (a graph of neighbours, scipy's connected components), so memory follows the labelled
    pixels, not the scene or the box around a class labelled at two far corners."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    places = {}
    width = labels.shape[1] + 2  # a column of padding each side: no neighbour wraps to another row's end
    for i, (rows, cols) in _labelled_positions(labels, valid, ids).items():
        at = np.sort(rows.astype(np.int64) * width + cols + 1)  # (n,) the pixels' places in the padded grid
        edges = []
        for step in (1, width - 1, width, width + 1):  # right, down-left, down, down-right: each pair once
            found = np.searchsorted(at, at + step)
            hit = found < len(at)
            hit[hit] = at[found[hit]] == at[hit] + step
            edges.append(np.stack([np.flatnonzero(hit), found[hit]]))
        pairs = np.concatenate(edges, axis=1)  # (2, E) pixel index pairs that touch
        graph = coo_matrix((np.ones(pairs.shape[1], bool), (pairs[0], pairs[1])), shape=(len(at), len(at)))
        places[i] = int(connected_components(graph, directed=False)[0])
    return places


def _labelled_positions(labels: np.ndarray, valid: "np.ndarray | PixelMask", ids: set[int]
                        ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``(rows, cols)`` of each class's labelled pixels on the scene's data (classes of ``ids`` with none are left
    out), gathered a strip at a time."""
    from .io.labels import row_strips

    wanted = np.array(sorted(ids))
    found: dict[int, list[np.ndarray]] = {}
    for rows in row_strips(*labels.shape):
        strip = labels[rows]  # (h, W)
        at = np.argwhere(np.isin(strip, wanted) & np.asarray(valid[rows], dtype=bool))  # (n, 2)
        if not len(at):
            continue
        at_ids = strip[at[:, 0], at[:, 1]]
        at[:, 0] += rows.start
        for i in np.unique(at_ids):
            found.setdefault(int(i), []).append(at[at_ids == i])
    return {i: tuple(np.concatenate(parts).T) for i, parts in found.items()}  # type: ignore[misc]
