"""Area-adjusted accuracy and class areas against the worked example of Olofsson et al. (2014)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hypersynth.core.evaluation.area import area_estimate, pixel_area_unit
from hypersynth.core.evaluation.metrics import evaluate, pixel_counts
from hypersynth.core.scene import ClassInfo

# Olofsson et al. 2014, Remote Sensing of Environment 148, tables 8–9 (30 m Landsat pixels, 0.09 ha): the sample
# counts by map class (rows) and reference class (columns), and the pixels the map gives each class.
NAMES = ["deforestation", "forest gain", "stable forest", "stable non-forest"]
BY_MAP = np.array([[66, 0, 5, 4], [0, 55, 8, 12], [1, 0, 153, 11], [2, 1, 9, 313]])
MAPPED = [200_000, 150_000, 3_200_000, 6_450_000]


def test_the_published_example_is_reproduced():
    est = area_estimate(BY_MAP.T, [1, 2, 3, 4], NAMES, MAPPED, "ha", 0.09)
    # the paper's figures: areas (ha) 21,158 ± 6,158; 11,686 ± 3,756; 285,770 ± 15,510; 581,386 ± 16,282
    assert est.area == pytest.approx([21_158, 11_686, 285_770, 581_386], abs=1)
    # the paper leaves out the finite population correction: with 0.006 % of the map sampled it moves them by ~1 ha
    assert est.area_ci == pytest.approx([6_158, 3_756, 15_510, 16_282], abs=1.5)
    # user's 0.88 ± 0.07, 0.73 ± 0.10, 0.93 ± 0.04, 0.96 ± 0.02; producer's 0.75 ± 0.21, 0.85 ± 0.25, 0.93 ± 0.03,
    # 0.96 ± 0.02; overall 0.95 ± 0.02
    assert est.users == pytest.approx([0.88, 0.73, 0.93, 0.96], abs=0.005)
    assert est.users_ci == pytest.approx([0.07, 0.10, 0.04, 0.02], abs=0.005)
    assert est.producers == pytest.approx([0.75, 0.85, 0.93, 0.96], abs=0.005)
    assert est.producers_ci == pytest.approx([0.21, 0.25, 0.03, 0.02], abs=0.005)
    assert est.oa == pytest.approx(0.95, abs=0.005) and est.oa_ci == pytest.approx(0.02, abs=0.005)
    assert est.area.sum() == pytest.approx(sum(MAPPED) * 0.09)  # the estimate moves area, it makes none
    # quantity and allocation disagreement on the estimated proportions: together 1 − the area-adjusted OA
    assert est.quantity_disagreement + est.allocation_disagreement == pytest.approx(1 - est.oa)
    assert est.quantity_disagreement == pytest.approx(0.5 * np.abs(est.area - np.array(MAPPED) * 0.09).sum()
                                                      / (sum(MAPPED) * 0.09))
    md = est.to_markdown()
    # producer's before user's, as in the per-class table; the finite population correction of a 0.006 % sample
    # moves the interval by 0.2 ha (6,157.5 without it)
    assert "| 1 | deforestation | 18,000.0 | 21,157.8 ± 6,157.3 | 74.9 ± 21.3 | 88.0 ± 7.4 |" in md
    assert "random sample of the map" in md and "0.0 % of the map's pixels" in md
    # the error matrix in estimated area proportions, the paper's table 9 (rows: map class), which it advises reporting
    table9 = [[0.0176, 0.0000, 0.0013, 0.0011], [0.0000, 0.0110, 0.0016, 0.0024], [0.0019, 0.0000, 0.2967, 0.0213],
              [0.0040, 0.0020, 0.0179, 0.6212]]
    assert est.proportions == pytest.approx(np.array(table9), abs=5e-5)
    assert est.to_dict()["error_matrix_proportions"][0] == pytest.approx(table9[0], abs=5e-5)
    assert "| deforestation | 1.76 | 0.00 | 0.13 | 0.11 | 2.00 |" in md and "| total | 2.35 | 1.30 | 31.75 | 64.60 |" \
        in md


def test_evaluate_adds_the_area_figures_from_the_whole_maps_counts():
    classes = [ClassInfo(1, "water"), ClassInfo(2, "road"), ClassInfo(3, "crop")]
    class_map = np.array([[1, 1, 1, 1], [2, 2, 3, 3], [3, 3, 3, 0]])  # 0: unclassified, counted nowhere
    truth = np.array([1, 1, 2, 3, 3, 2])
    pred = np.array([1, 1, 2, 3, 3, 3])
    ev = evaluate(truth, pred, classes, mapped_pixels=pixel_counts(class_map), area_unit=("ha", 0.01))
    assert ev.area is not None and ev.area.mapped_pixels.tolist() == [4, 2, 5]
    assert ev.area.unsampled == []
    # crop maps 5 pixels, a third of its samples are road: 5/3 pixels of the crop map are road
    assert ev.area.area == pytest.approx(np.array([4, 2 + 5 / 3, 5 - 5 / 3]) * 0.01)
    data = json.loads(ev.to_json())["area_adjusted"]
    assert data["unit"] == "ha" and data["classes"][0]["estimated_area"] == pytest.approx(0.04)
    assert data["classes"][1]["users_accuracy_ci95"] is None  # one road sample: no variance, not a made-up one
    # 3 of crop's 5 mapped pixels sampled: the finite population correction 1 − 3/5 shrinks the variance
    assert data["classes"][2]["users_accuracy_ci95"] == pytest.approx(1.959964 * np.sqrt(0.4 * 2 / 3 * 1 / 3 / 2))
    assert data["sampled_share_of_map"] == pytest.approx(6 / 11) and data["finite_population_correction"]
    assert data["classes_validation_pixels"].startswith("those on what the map calls the class")  # not the reference's
    assert "Area-adjusted OA" in ev.to_markdown()


def test_a_mapped_class_without_validation_pixels_is_named():
    classes = [ClassInfo(1, "water"), ClassInfo(2, "road")]
    class_map = np.array([[1, 1, 2, 2]])
    ev = evaluate(np.array([1, 1]), np.array([1, 1]), classes, mapped_pixels=pixel_counts(class_map))
    assert ev.area.unsampled == ["road"] and ev.area.unit == "pixels"
    assert "No validation pixel lies on the map's road" in ev.area.to_markdown()


def test_a_map_class_with_one_validation_pixel_gives_no_interval_it_enters():
    """A map class with one validation pixel has no variance: its term was dropped, so the OA's interval was that of
    the other classes alone (68.0 ± 5.56 % here, while a fifth of the map, c, rests on one wrong pixel) and every
    producer's accuracy lost its interval without a word. Now the intervals it enters are not given, and why is said."""
    by_map = np.array([[40, 10, 0], [5, 45, 0], [0, 1, 0]])  # rows: map classes a, b, c; columns: the truth
    est = area_estimate(by_map.T, [1, 2, 3], ["a", "b", "c"], [4000, 4000, 2000])
    assert est.oa == pytest.approx(0.4 * 0.8 + 0.4 * 0.9) and np.isnan(est.oa_ci)
    assert np.isnan(est.area_ci).all() and np.isnan(est.producers_ci).all()
    assert np.isfinite(est.users_ci[:2]).all() and np.isnan(est.users_ci[2])  # a and b have their own samples
    assert est.single == ["c"]
    md = est.to_markdown()
    assert md.startswith("Area-adjusted OA 68.00 % (")  # no ± made up
    assert md.startswith("Area-adjusted OA 68.00 % (an indication only: these figures hold for a random sample of "
                         "the map, which nothing here says the validation pixels are")  # no interval named
    assert "Only one validation pixel lies on the map's c: a map class's variance needs at least two" in md
    data = est.to_dict()
    assert data["oa_ci95"] is None and data["map_classes_with_one_validation_pixel"] == ["c"]


def test_a_map_class_of_one_pixel_sampled_whole_is_a_census_not_an_unknown_variance():
    """The sampler gives a class mapped on one pixel its one point: every interval vanished and the report asked for
    more points where none can be drawn (review). That stratum is a census: its terms are 0."""
    by_map = np.array([[40, 10, 0], [5, 45, 0], [0, 0, 1]])  # rows: map classes a, b, c; c is one pixel, sampled
    est = area_estimate(by_map.T, [1, 2, 3], ["a", "b", "c"], [4000, 4000, 1])
    assert est.single == [] and np.isfinite(est.oa_ci) and np.isfinite(est.area_ci).all()
    weight = np.array([4000, 4000, 1]) / 8001
    users = np.array([0.8, 0.9])
    fpc = 1 - 50 / 4000
    expected = 1.959964 * np.sqrt((weight[:2] ** 2 * fpc * users * (1 - users) / 49).sum())  # c adds nothing
    assert est.oa_ci == pytest.approx(expected)
    assert est.users_ci[2] == 0.0  # its one pixel is known


def test_a_mapped_class_without_points_has_no_producers_accuracy_not_a_certain_zero():
    """p_jj is 0 only because the class's own stratum was left out: 0.0 ± 0.0 claimed a certainty (review)."""
    by_map = np.array([[40, 5, 5], [5, 45, 0], [0, 0, 0]])  # rows: map classes a, b, c; c mapped but not sampled
    est = area_estimate(by_map.T, [1, 2, 3], ["a", "b", "c"], [4000, 4000, 500])
    assert est.unsampled == ["c"] and np.isnan(est.producers[2]) and np.isnan(est.producers_ci[2])
    assert np.isfinite(est.producers[:2]).all()
    assert "over the map classes with validation pixels, 94 % of the mapped area: c has none" in est.headline()
    from hypersynth.core.evaluation.area import sample_strata_estimate

    strata = np.array([1] * 6 + [2] * 6)  # another map's strata; no point lies on this map's c, yet two are truly c
    on_this_map, truth = np.array([1] * 6 + [2] * 6), np.array([1] * 4 + [3] * 2 + [2] * 6)
    stehman = sample_strata_estimate(strata, on_this_map, truth, {1: 100, 2: 100}, [1, 2, 3], ["a", "b", "c"],
                                     [90, 90, 20])
    assert np.isnan(stehman.producers[2]) and np.isnan(stehman.producers_ci[2])  # not 0.0 ± 0.0


def test_pixel_area_is_in_hectares_only_on_a_metric_grid():
    from rasterio.crs import CRS

    utm = CRS.from_epsg(32633).to_wkt()
    assert pixel_area_unit((500000.0, 30.0, 0.0, 5800000.0, 0.0, -30.0), utm) == ("ha", pytest.approx(0.09))
    assert pixel_area_unit((10.0, 0.001, 0.0, 50.0, 0.0, -0.001), CRS.from_epsg(4326).to_wkt()) == ("pixels", 1.0)
    assert pixel_area_unit((0.0, 1.0, 0.0, 0.0, 0.0, -1.0), None) == ("pixels", 1.0)


def test_a_zero_interval_from_a_sample_is_marked_and_an_unsampled_class_has_no_area():
    """Review: a rare class whose 5 points all agreed read "100.0 ± 0.0" as if certain (its 95 % Clopper–Pearson
    lower bound is 48 %), and a mapped class without a validation pixel read an area of "0.0 ± 0.0"."""
    from scipy.stats import beta

    confusion = np.array([[45, 3, 0, 0], [5, 47, 0, 0], [0, 0, 5, 0], [0, 0, 0, 0]])  # rows: reference
    est = area_estimate(confusion, [1, 2, 3, 4], ["a", "b", "rare", "unseen"], [50000, 40000, 1000, 2000])
    text = est.to_markdown()
    assert "| 3 | rare | 1,000 | 1,000 ± 0 * | 100.0 ± 0.0 * | 100.0 ± 0.0 * |" in text
    assert "| 1 | a | 50,000 | " in text and "| 1 | a | 50,000 | 47,400 ± 4,969 | 94.9 ± 5.3 | 90.0 ± 8.4 |" in text
    lower = 100 * beta.ppf(0.025, 5, 1)  # all 5 right
    assert f"lower bound of a user's accuracy is 0.025^(1/n): {lower:.0f} % for this sample's smallest class of 5" \
        in text
    assert "| 4 | unseen | 2,000 | – |" in text  # unknown, not 0 ± 0
    census = area_estimate(confusion, [1, 2, 3, 4], ["a", "b", "rare", "unseen"], [48, 50, 5, 0])
    assert " * " not in census.to_markdown() and "Clopper" not in census.to_markdown()  # a census's 0 is exact


def test_a_rotated_grid_keeps_its_pixel_area_and_a_crs_that_distorts_areas_gives_pixels(caplog):
    """Review: a grid rotated 45° gave half its pixels' area (a·e, not a·e − b·d), and Web Mercator 10 m pixels at
    52° N counted 100 m² where they cover 37 m² (every area 2.7× too large)."""
    import logging

    from rasterio.crs import CRS

    side = 10 / np.sqrt(2)  # 10 m pixels turned 45°
    rotated = (368000.0, side, side, 5810000.0, side, -side)
    assert pixel_area_unit(rotated, CRS.from_epsg(32633).to_wkt(), (96, 96)) == ("ha", pytest.approx(0.01))
    mercator = CRS.from_epsg(3857).to_wkt()
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        assert pixel_area_unit((1459000.0, 10.0, 0.0, 6870000.0, 0.0, -10.0), mercator, (500, 500)) == ("pixels",
                                                                                                        1.0)
    assert "CRS (EPSG:3857) does not keep areas: a pixel of 100 m² by its size covers 37.3 m²" in caplog.text
    assert "reproject" in caplog.text
    caplog.clear()  # a tall scene: the range over its rows
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        pixel_area_unit((1459000.0, 10.0, 0.0, 6870000.0, 0.0, -10.0), mercator, (50000, 500))
    assert "covers 37.3–42.1 m²" in caplog.text
    caplog.clear()  # UTM far from its central meridian is off by 0.3 %: hectares, no word
    with caplog.at_level(logging.WARNING, logger="hypersynth"):
        far = pixel_area_unit((900000.0, 30.0, 0.0, 5810000.0, 0.0, -30.0), CRS.from_epsg(32633).to_wkt(), (10, 10))
    assert far == ("ha", pytest.approx(0.09)) and not caplog.text
    assert pixel_area_unit((1459000.0, 10.0, 0.0, 6870000.0, 0.0, -10.0), mercator, warn=False) == ("pixels", 1.0)


def test_a_census_of_the_map_has_no_sampling_error():
    """Validation labels on every mapped pixel (the demo's full ground truth): the estimates are the true figures and
    their intervals 0, where the formulas without the finite population correction gave e.g. 93.39 ± 0.48 %."""
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 4, 500)
    pred = np.where(rng.random(500) < 0.8, truth, rng.integers(1, 4, 500))  # a map 80 % right
    classes = [ClassInfo(1, "water"), ClassInfo(2, "road"), ClassInfo(3, "crop")]
    ev = evaluate(truth, pred, classes, mapped_pixels=pixel_counts(pred))  # every mapped pixel validated
    assert ev.area.sampled_share == 1.0 and ev.area.oa == pytest.approx(ev.oa)
    assert ev.area.oa_ci == 0.0 and np.allclose(ev.area.area_ci, 0.0) and np.allclose(ev.area.users_ci, 0.0)
    assert np.allclose(ev.area.area, np.bincount(truth, minlength=4)[1:])  # the true areas, in pixels
    assert "100.0 % of the map's pixels" in ev.area.to_markdown()


def test_stehmans_estimators_give_olofssons_figures_where_the_strata_are_the_map_classes():
    """Stehman 2014's estimators for any strata, given the strata = the map's classes, reproduce the published
    example's figures (and the map-stratified estimators' intervals to the last digit)."""
    from hypersynth.core.evaluation.area import sample_strata_estimate

    mapped, truth = (np.repeat(np.repeat(np.arange(1, 5)[:, None], 4, 1).ravel() if k == 0 else
                               np.repeat(np.arange(1, 5)[None, :], 4, 0).ravel(), BY_MAP.ravel()) for k in (0, 1))
    olofsson = area_estimate(BY_MAP.T, [1, 2, 3, 4], NAMES, MAPPED, "ha", 0.09)
    stehman = sample_strata_estimate(mapped, mapped, truth, dict(zip([1, 2, 3, 4], MAPPED)), [1, 2, 3, 4], NAMES,
                                     MAPPED, "ha", 0.09)
    for name in ("oa", "oa_ci", "quantity_disagreement", "allocation_disagreement"):
        assert getattr(stehman, name) == pytest.approx(getattr(olofsson, name), rel=1e-9)
    for name in ("users", "users_ci", "producers", "producers_ci", "area", "area_ci"):
        assert getattr(stehman, name) == pytest.approx(getattr(olofsson, name), rel=1e-9)
    assert stehman.area == pytest.approx([21_158, 11_686, 285_770, 581_386], abs=1)


def test_a_sample_stratified_by_another_map_estimates_this_maps_accuracy_without_bias():
    """A population of 20,000 pixels, two maps of it and the truth: samples stratified by map A (60 points a class),
    scored on map B. Over 400 draws the estimates of B's OA, its rare class's user's accuracy and the area of the
    second class centre on their true values, and the 95 % intervals cover them about 95 % of the time (a rare
    class's area, a few points a stratum, is where the normal approximation covers less); B's own map-stratified
    formulas, applied to points not stratified by B, are biased here."""
    from hypersynth.core.evaluation.area import sample_strata_estimate

    rng = np.random.default_rng(0)
    truth = rng.choice([1, 2, 3], 20_000, p=[0.7, 0.25, 0.05])
    map_a = np.where(rng.random(20_000) < 0.8, truth, rng.choice([1, 2, 3], 20_000))
    map_b = np.where(rng.random(20_000) < 0.7, truth, rng.choice([1, 2, 3], 20_000))
    sizes = {c: int((map_a == c).sum()) for c in (1, 2, 3)}
    b_pixels = [int((map_b == c).sum()) for c in (1, 2, 3)]
    true_oa, true_area = float((map_b == truth).mean()), float((truth == 2).sum())
    true_ua = float(((map_b == 3) & (truth == 3)).sum() / (map_b == 3).sum())
    estimates, covered, naive = [], [], []
    for _ in range(400):
        points = np.concatenate([rng.choice(np.flatnonzero(map_a == c), 60, replace=False) for c in (1, 2, 3)])
        est = sample_strata_estimate(map_a[points], map_b[points], truth[points], sizes, [1, 2, 3], ["a", "b", "c"],
                                     b_pixels)
        estimates.append((est.oa, est.users[2], est.area[1]))
        covered.append((abs(est.oa - true_oa) <= est.oa_ci, abs(est.users[2] - true_ua) <= est.users_ci[2],
                        abs(est.area[1] - true_area) <= est.area_ci[1]))
        confusion = np.zeros((3, 3))
        np.add.at(confusion, (truth[points] - 1, map_b[points] - 1), 1)
        naive.append(area_estimate(confusion, [1, 2, 3], ["a", "b", "c"], b_pixels).oa)
    mean = np.mean(estimates, axis=0)
    assert mean == pytest.approx([true_oa, true_ua, true_area], rel=0.02)
    coverage = np.mean(covered, axis=0)
    assert np.all((coverage > 0.91) & (coverage < 0.99)), coverage
    assert abs(np.mean(naive) - true_oa) > 5 * abs(mean[0] - true_oa)
