"""The scale check of a scene a saved classifier maps: other units refused, a darker scene of the same units not."""

from __future__ import annotations

import numpy as np
import pytest

from hypersynth.core.band_screen import screen_scene
from hypersynth.core.scale_check import (OtherUnitsError, refuse_other_units, scale_warning, typical_levels,
                                         typical_value)
from hypersynth.core.scene import Scene

BANDS, SIDE = 40, 48
WAVELENGTHS = np.linspace(400, 2500, BANDS)


def _scene(cube: np.ndarray, name: str) -> Scene:
    return Scene(cube=cube.astype(np.float32), valid=np.ones(cube.shape[1:], bool), wavelengths=WAVELENGTHS,
                 name=name)


def _reflectance(water_share: float, seed: int = 0) -> np.ndarray:
    """``(B, H, W)`` reflectance 0–1: vegetation (a red edge, bright in the infrared) with the given share of rows
    open water (dark, next to nothing beyond 750 nm)."""
    rng = np.random.default_rng(seed)
    land = np.interp(WAVELENGTHS, [400, 680, 750, 1300, 2500], [0.04, 0.05, 0.4, 0.35, 0.15])
    water = np.interp(WAVELENGTHS, [400, 550, 750, 2500], [0.05, 0.04, 0.002, 0.0005])
    cube = np.repeat(land[:, None, None], SIDE, axis=1).repeat(SIDE, axis=2)
    cube[:, : int(round(water_share * SIDE))] = water[:, None, None]
    return cube * (1 + rng.normal(0, 0.03, cube.shape))


def test_the_screens_median_is_the_typical_value_from_its_pixels():
    scene = _scene(_reflectance(0.3), "land")
    assert screen_scene(scene).median == pytest.approx(typical_value(scene.cube, scene.valid), rel=0.05)


def test_a_scene_in_other_units_is_refused_and_a_mostly_dark_one_in_the_same_units_is_not():
    """A review found a scene four-fifths lake (reflectance 0–1, as the land scene the classifier learnt) refused as
    "other units" when the refusal stood at 100 times; a scene of offset values, as "0.00x times"."""
    learnt = typical_value(_reflectance(0.0), np.ones((SIDE, SIDE), bool))
    scaled = _scene(_reflectance(0.3, seed=1) * 10_000, "scaled")
    with pytest.raises(OtherUnitsError, match=r"^scaled's values are about (\d[\d.]*e\+0[34]) times") as refused:
        refuse_other_units(scaled, screen_scene(scaled).median, learnt, "give --accept-other-units")
    ratio = float(refused.value.args[0].split("about ")[1].split(" times")[0])
    assert ratio == pytest.approx(10_000 * typical_value(scaled.cube / 10_000, scaled.valid) / learnt, rel=0.1)
    for share in (0.8, 0.9):  # a lake scene in reflectance: darker, not other units; warned of, not refused
        lake = _scene(_reflectance(share, seed=2), "lake")
        median = screen_scene(lake).median
        refuse_other_units(lake, median, learnt, "give --accept-other-units")
        assert "times those of the scene the classifier learnt from" in scale_warning(lake, median, learnt)
    offset = _scene(_reflectance(0.3, seed=3) - 0.3, "offset")  # values centred near zero: the ratio says nothing
    median = screen_scene(offset).median
    assert median < 0
    refuse_other_units(offset, median, learnt, "give --accept-other-units")
    assert scale_warning(offset, median, learnt) is None
    refuse_other_units(scaled, screen_scene(scaled).median, None, "…")  # an older bundle: nothing to compare with


def test_percent_reflectance_is_refused_by_its_median_and_bright_values_together():
    """Review: reflectance × 100 (percent) against 0–1 was only warned of (the median alone cannot tell it from a
    dark scene, so it refuses at 1000 times); its bright values are a hundred times too, a lake scene's are not."""
    learnt, learnt_high = typical_levels(_reflectance(0.0), np.ones((SIDE, SIDE), bool))
    percent = _scene(_reflectance(0.3, seed=1) * 100, "percent")
    screen = screen_scene(percent)
    assert screen.high == pytest.approx(typical_levels(percent.cube, percent.valid)[1], rel=0.05)
    refuse_other_units(percent, screen.median, learnt, "…")  # the median alone: 100 times is not refused
    with pytest.raises(OtherUnitsError, match=r"^percent's values are about \d+(\.\d+)? times"):
        refuse_other_units(percent, screen.median, learnt, "…", screen.high, learnt_high)
    for share in (0.8, 0.9):  # a lake scene in reflectance: its median a hundredth, its bright values not
        lake = _scene(_reflectance(share, seed=2), "lake")
        lake_screen = screen_scene(lake)
        refuse_other_units(lake, lake_screen.median, learnt, "…", lake_screen.high, learnt_high)
    dim = _scene(_reflectance(0.3, seed=4) / 100, "dim")  # and the other way
    with pytest.raises(OtherUnitsError, match=r"^dim's values are about 0\.0\d+ times"):
        refuse_other_units(dim, screen_scene(dim).median, learnt, "…", screen_scene(dim).high, learnt_high)
