"""The few-label split protocol and the accuracy metrics, on small label maps made here."""

import json
import math

import numpy as np
import pytest

from hypersynth.core.evaluation import (
    Evaluation, SeedSummary, block_split, class_ids, confusion_figure, evaluate, few_label_split, format_mean_std,
    ids_to_index, index_to_ids, summarize,
)
from hypersynth.core.scene import ClassInfo


def label_map(seed: int = 0, shape: tuple[int, int] = (30, 40)) -> np.ndarray:
    """Three classes in vertical bands, a rare class 7 of 3 pixels, a singleton class 9, unlabelled holes."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, dtype=np.int32)
    labels[:, :12], labels[:, 12:25], labels[:, 25:] = 1, 2, 4
    labels[rng.random(shape) < 0.3] = 0
    labels[0, 0:3] = 7
    labels[29, 39] = 9
    return labels


def chebyshev_to_nearest(train: np.ndarray) -> np.ndarray:
    """Brute force: for every pixel, the Chebyshev distance to the nearest training pixel."""
    tr, tc = np.nonzero(train)
    rr, cc = np.indices(train.shape)
    d = np.maximum(np.abs(rr[..., None] - tr), np.abs(cc[..., None] - tc))
    return d.min(axis=-1)


def test_split_is_reproducible_by_seed_and_has_n_per_class():
    labels = label_map()
    a = few_label_split(labels, 5, seed=3)
    b = few_label_split(labels, 5, seed=3)
    c = few_label_split(labels, 5, seed=4)
    assert np.array_equal(a.train_mask, b.train_mask) and np.array_equal(a.test_mask, b.test_mask)
    assert not np.array_equal(a.train_mask, c.train_mask)
    counts = a.counts()
    for cid in (1, 2, 4):
        n_train, n_test = counts[cid]
        assert n_train == 5
        assert n_train + n_test == int((labels == cid).sum())
    assert not (a.train_mask & a.test_mask).any()
    assert np.array_equal(a.train_mask | a.test_mask, labels > 0)
    rows, cols, ids = a.train_pixels()
    assert len(rows) == a.train_mask.sum() and np.array_equal(ids, labels[rows, cols])
    assert a.kind == "random" and a.seed == 3 and a.labels_per_class == 5


def test_small_classes_keep_a_test_pixel_and_warn():
    split = few_label_split(label_map(), 5, seed=0)
    counts = split.counts()
    assert counts[7] == (2, 1)  # 3 pixels: 2 train, 1 test
    assert counts[9] == (1, 0)  # a singleton can only train
    assert len(split.warnings) == 2
    assert any("class 7" in w for w in split.warnings) and any("class 9" in w for w in split.warnings)


def test_valid_mask_excludes_pixels_from_train_and_test():
    labels = label_map()
    valid = np.ones(labels.shape, dtype=bool)
    valid[:, :6] = False
    split = few_label_split(labels, 2, seed=1, valid=valid)
    assert not ((split.train_mask | split.test_mask) & ~valid).any()
    assert split.counts()[1][0] == 2


@pytest.mark.parametrize("patch_size", [3, 5, 6])
def test_disjoint_split_has_no_test_pixel_inside_a_training_patch(patch_size):
    labels = label_map(seed=2)
    split = few_label_split(labels, 10, seed=5, kind="disjoint", patch_size=patch_size)
    distance = chebyshev_to_nearest(split.train_mask)
    radius = patch_size // 2
    assert split.test_mask.any()
    assert distance[split.test_mask].min() > radius
    # Every labelled pixel outside the guard band is still tested: nothing else was dropped.
    expected = (labels > 0) & ~split.train_mask & (distance > radius)
    assert np.array_equal(split.test_mask, expected)
    random = few_label_split(labels, 10, seed=5, kind="random", patch_size=patch_size)
    assert np.array_equal(random.train_mask, split.train_mask)


@pytest.mark.parametrize("patch_size", [3, 9])
def test_no_overlap_split_keeps_every_test_patch_off_every_training_patch(patch_size):
    """The stricter split (Nalepa et al. 2019): no test pixel's patch shares a pixel with a training pixel's, which the
    disjoint split's half-patch band does not ensure (their patches overlap at distances half + 1 … 2 × half)."""
    labels = label_map(seed=2, shape=(120, 160))
    split = few_label_split(labels, 3, seed=5, kind="no-overlap", patch_size=patch_size)
    half = patch_size // 2
    distance = chebyshev_to_nearest(split.train_mask)
    assert split.test_mask.any() and distance[split.test_mask].min() > 2 * half  # patches 2·half+1 apart: disjoint
    assert np.array_equal(split.test_mask, (labels > 0) & ~split.train_mask & (distance > 2 * half))
    disjoint = few_label_split(labels, 3, seed=5, kind="disjoint", patch_size=patch_size)
    assert np.array_equal(disjoint.train_mask, split.train_mask)  # the same draw, a wider guard band
    assert (disjoint.test_mask & (distance <= 2 * half)).any()  # where the disjoint split's test patches overlap
    tiny = np.zeros((10, 10), dtype=np.int32)
    tiny[:, :5] = 1
    tiny[4, 6], tiny[4, 8] = 2, 2  # two cells apart: outside each other's 3×3 patch, but the patches share a column
    drawn = few_label_split(tiny, 1, seed=0, kind="no-overlap", patch_size=3)
    assert drawn.counts()[2] == (1, 0)
    assert "class 2 has no test pixel left farther than 2 pixels from every training pixel" in drawn.warnings
    assert few_label_split(tiny, 1, seed=0, kind="disjoint", patch_size=3).counts()[2] == (1, 1)


def test_disjoint_split_warns_when_a_class_loses_every_test_pixel():
    labels = np.zeros((10, 10), dtype=np.int32)
    labels[:, :5] = 1
    labels[4, 7], labels[4, 8] = 2, 2  # two neighbours: one trains, the other sits in its patch
    split = few_label_split(labels, 1, seed=0, kind="disjoint", patch_size=3)
    assert split.counts()[2] == (1, 0)
    assert any("class 2 has no test pixel" in w for w in split.warnings)


def test_block_split_tests_only_in_blocks_without_training_pixels():
    labels = label_map(seed=1)
    split = block_split(labels, 3, seed=0, block=8)
    tr, tc = np.nonzero(split.train_mask)
    used = {(r // 8, c // 8) for r, c in zip(tr, tc)}
    sr, sc = np.nonzero(split.test_mask)
    assert len(sr) > 0
    assert not any((r // 8, c // 8) in used for r, c in zip(sr, sc))
    assert split.kind == "block"


def test_split_rejects_bad_input():
    labels = label_map()
    with pytest.raises(ValueError, match="split kind"):
        few_label_split(labels, 5, 0, kind="spatial")
    with pytest.raises(ValueError, match="n_per_class"):
        few_label_split(labels, 0, 0)
    with pytest.raises(ValueError, match="no labelled"):
        few_label_split(np.zeros((4, 4), dtype=np.int32), 5, 0)
    with pytest.raises(ValueError, match="integer"):
        few_label_split(labels.astype(float), 5, 0)
    with pytest.raises(ValueError, match="does not match"):
        few_label_split(labels, 5, 0, valid=np.ones((3, 3), dtype=bool))


def test_id_index_helpers_round_trip():
    labels = label_map()
    known = class_ids(labels)
    assert known.tolist() == [1, 2, 4, 7, 9]
    ids = np.array([4, 1, 9, 9, 2])
    index = ids_to_index(ids, known)
    assert index.tolist() == [2, 0, 4, 4, 1]
    assert index_to_ids(index, known).tolist() == ids.tolist()
    assert index_to_ids(np.array([-1, 3]), known).tolist() == [0, 7]
    with pytest.raises(ValueError, match=r"\[5\]"):
        ids_to_index(np.array([1, 5]), known)


CLASSES = [ClassInfo(1, "corn"), ClassInfo(2, "soy"), ClassInfo(3, "wheat")]
TRUE = np.array([1, 1, 1, 1, 2, 2, 2, 2, 3, 3])
PRED = np.array([1, 1, 1, 2, 2, 2, 2, 3, 3, 1])


def test_metrics_equal_hand_computed_values():
    ev = evaluate(TRUE, PRED, CLASSES)
    # Confusion (rows = true): corn [3 1 0], soy [0 3 1], wheat [1 0 1].
    assert ev.confusion.tolist() == [[3, 1, 0], [0, 3, 1], [1, 0, 1]]
    assert ev.oa == pytest.approx(0.7)
    assert ev.per_class == pytest.approx({1: 0.75, 2: 0.75, 3: 0.5})
    assert ev.aa == pytest.approx(2 / 3)
    # p_o = 0.7; p_e = (4*4 + 4*4 + 2*2) / 100 = 0.36; kappa = (0.7 - 0.36) / (1 - 0.36).
    assert ev.kappa == pytest.approx(0.34 / 0.64)
    assert ev.n_test == 10 and ev.class_names == ["corn", "soy", "wheat"] and ev.class_ids == [1, 2, 3]
    # Pontius & Millones 2011: reference shares (.4 .4 .2), map shares (.4 .4 .2): no quantity disagreement, all
    # of 1 − OA is allocation: min(.4 − .3, .4 − .3) + min(.4 − .3, .4 − .3) + min(.2 − .1, .2 − .1) = .3
    assert ev.quantity_disagreement == pytest.approx(0.0) and ev.allocation_disagreement == pytest.approx(0.3)
    assert "30.00 % of validation pixels mapped wrong, 0.00 points are quantity disagreement" in ev.to_markdown()


def test_quantity_and_allocation_disagreement_add_up_to_the_error():
    from hypersynth.core.evaluation.metrics import disagreement

    # rows: the reference; 8 + 2 | 0 + 10: the map has class 2 too much (.6 against .5), and nothing misplaced
    assert disagreement(np.array([[8, 2], [0, 10]])) == pytest.approx((0.1, 0.0))
    assert disagreement(np.array([[5, 5], [5, 5]])) == pytest.approx((0.0, 0.5))  # the right shares, swapped
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 5, 400)
    mapped = np.where(rng.random(400) < 0.6, truth, rng.integers(1, 4, 400))  # class 4 under-mapped
    ev = evaluate(truth, mapped, [ClassInfo(i, str(i)) for i in range(1, 5)])
    assert ev.quantity_disagreement + ev.allocation_disagreement == pytest.approx(1 - ev.oa)
    assert ev.quantity_disagreement > 0.05
    data = json.loads(ev.to_json())
    assert data["quantity_disagreement"] == pytest.approx(ev.quantity_disagreement)


def test_metrics_handle_absent_and_unknown_classes():
    classes = CLASSES + [ClassInfo(5, "oats")]
    ev = evaluate(np.array([1, 1, 2, 6]), np.array([1, 2, 2, 2]), classes)
    assert ev.class_ids == [1, 2, 3, 5, 6] and ev.class_names[-1] == "class 6"
    assert math.isnan(ev.per_class[3]) and math.isnan(ev.per_class[5])
    assert ev.per_class[6] == 0.0
    assert ev.aa == pytest.approx((0.5 + 1.0 + 0.0) / 3)  # classes without test pixels do not count
    with pytest.raises(ValueError, match="unlabelled"):
        evaluate(np.array([0, 1]), np.array([1, 1]), CLASSES)
    with pytest.raises(ValueError, match="same test pixels"):
        evaluate(np.array([1, 2]), np.array([1]), CLASSES)


def test_markdown_and_json_render():
    ev = evaluate(np.array([1, 1, 2]), np.array([1, 2, 2]), CLASSES)
    md = ev.to_markdown()
    assert md.startswith("OA 66.67 %, AA 75.00 %")
    assert "| 1 | corn | 2 | 1 | 50.00 | 100.00 | 66.67 |" in md  # producer's, user's, F1
    assert "| 2 | soy | 1 | 1 | 100.00 | 50.00 | 66.67 |" in md
    assert "| 3 | wheat | 0 | 0 | – | – | – |" in md
    data = json.loads(ev.to_json())
    assert data["oa"] == pytest.approx(2 / 3) and data["n_test"] == 3
    assert data["classes"][2] == {"id": 3, "name": "wheat", "accuracy": None, "producers_accuracy": None,
                                  "users_accuracy": None, "f1": None, "test_pixels": 0, "correct": 0}
    assert "area_adjusted" not in data  # only with the whole map's class counts
    assert data["confusion"][0] == [1, 1, 0] and data["confusion_class_ids"] == [1, 2, 3]
    assert data["confusion_rows"] == "validation (reference) class"  # said, not left to a convention
    assert "the validation classes as rows and the map's as columns" in md and "AA: the mean of" in md


def test_summary_over_seeds():
    evs = [evaluate(TRUE, PRED, CLASSES), evaluate(TRUE, TRUE, CLASSES)]
    summary = SeedSummary.from_evaluations(evs)
    assert summary.n_seeds == 2
    assert summary.oa_mean == pytest.approx(0.85) and summary.oa_std == pytest.approx(0.15)
    assert summary.per_class_mean[3] == pytest.approx(0.75)
    data = summarize(evs)
    assert data["oa"] == "85.00 ± 15.00"
    assert data["per_class_mean"]["1"] == pytest.approx(0.875)
    json.dumps(data)  # JSON-ready
    assert format_mean_std([0.8732, 0.8627, 0.8837]) == "87.32 ± 0.86"
    assert format_mean_std([0.5, float("nan")], digits=1) == "50.0 ± 0.0"
    with pytest.raises(ValueError):
        summarize([])


def test_confusion_figure_writes_a_png_and_no_temp_file(tmp_path):
    ev = evaluate(TRUE, PRED, CLASSES)
    path = confusion_figure(ev, tmp_path / "figs" / "confusion.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["confusion.png"]
    from matplotlib.image import imread

    image = imread(str(path))
    assert image.shape[0] > 200 and image.shape[1] > 200
    assert isinstance(ev, Evaluation)


def test_confusion_figure_gives_each_class_producers_and_users_accuracy_in_its_margins():
    """As an accuracy table's margins: the row's share mapped right at its right, the column's above it; a class
    never mapped has no user's accuracy (–)."""
    from hypersynth.core.evaluation.metrics import confusion_matrix_figure

    classes = [ClassInfo(1, "water"), ClassInfo(2, "road"), ClassInfo(3, "grass")]
    truth = np.array([1, 1, 1, 1, 2, 2, 3, 3])
    mapped = np.array([1, 1, 1, 2, 2, 1, 1, 1])  # grass never mapped
    ax = confusion_matrix_figure(evaluate(truth, mapped, classes)).axes[0]
    right, top = ax.child_axes
    assert right.get_ylabel() == "producer's accuracy (%)" and top.get_xlabel() == "user's accuracy (%)"
    assert [t.get_text() for t in right.get_yticklabels()] == ["75.0", "50.0", "0.0"]
    assert [t.get_text() for t in top.get_xticklabels()] == ["50.0", "50.0", "–"]


def test_validation_pixels_near_the_training_pixels_are_told_from_the_rest():
    """Within ``reach`` pixels (the larger of the row and column distances) of a training pixel, and beyond."""
    from hypersynth.core.evaluation.assess import near_training

    training = np.array([[10, 10], [50, 50]])
    at = np.array([[10, 11], [12, 12], [13, 10], [50, 47], [30, 30], [0, 0]])
    right = np.array([True, True, False, True, False, True])
    split = near_training(at, right, training, reach=2)
    assert (split.near, split.apart) == (2, 4)  # (10, 11) and (12, 12); (13, 10) is 3 rows away
    assert split.oa_near == 1.0 and split.oa_apart == pytest.approx(2 / 4)
    assert "2 of the 6 validation pixels lie within 2 pixels of a training pixel" in split.sentence()
    assert "OA 100.00 % there, 50.00 % on the 4 further away, the better guide to the map" in split.sentence()
    # a stratified sample's own points are no estimate of the map, near or away (review)
    assert split.sentence(sampled=True).endswith("further away, the sample's own points, unweighted: the "
                                                 "area-adjusted OA is the map's estimate.")
    none = near_training(at[3:], right[3:], training, reach=1)  # nothing near: no "OA – % there" placeholder
    assert none.sentence() == ("None of the 3 validation pixels lies within 1 pixel of a training pixel (the "
                               "neighbouring pixels).")


def test_near_means_as_far_as_the_classifiers_view_of_a_pixel_reaches():
    """A validation pixel shares pixels with a training label's view up to the patch's half-side plus the smoothing's
    kernel radius (13 pixels for 9 × 9 patches smoothed at σ 3), not the half-side alone."""
    from types import SimpleNamespace

    from hypersynth.core.classifier_bundle import _reach

    assert _reach(SimpleNamespace(patch_size=9, smoothing=3.0)) == (
        13, "how far the classifier's view of a pixel reaches: its 9 × 9 patches' half-side, 4, plus its smoothing's "
            "reach at σ 3, 9")
    assert _reach(SimpleNamespace(patch_size=9, smoothing=0.0))[0] == 4
    assert _reach(SimpleNamespace(patch_size=1, smoothing=1.0))[0] == 3  # a forest's map, smoothed
    assert _reach(SimpleNamespace()) == (1, "the classifier sees each pixel alone; its neighbours are alike")


def test_an_oa_on_few_pixels_says_how_little_it_tells():
    from hypersynth.core.evaluation.metrics import few_pixels_note, oa_interval

    low, high = oa_interval(0.5, 10)
    assert (round(low, 3), round(high, 3)) == (0.237, 0.763)  # Wilson's interval: 5 of 10 right
    assert few_pixels_note(0.5, 10) == "the OA's 95 % interval: 23.7–76.3 %; few pixels to judge by"
    assert few_pixels_note(1.0, 15).startswith("the OA's 95 % interval: 79.6–100.0 %")  # within 0..1 at the edge
    assert few_pixels_note(0.9, 3767) == "" and few_pixels_note(None, 10) == "" and few_pixels_note(0.5, 0) == ""


def test_one_class_validated_and_mapped_is_scored_without_a_librarys_warning():
    """scikit-learn warned twice per assessment where one class was validated and mapped, although it was told the
    labels (review); κ is undefined there (NaN), said as "–"."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ev = evaluate(np.array([2, 2, 2]), np.array([2, 2, 2]), [ClassInfo(2, "water")])
    assert ev.oa == 1.0 and np.isnan(ev.kappa) and ev.confusion.tolist() == [[3]]
