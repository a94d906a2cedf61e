"""A scene's usable cube and its layout: the run holds the usable bands' pixels once, the layout stays."""

import weakref

import numpy as np
import pytest

from hypersynth.core.scene import Scene


def _scene(good):
    cube = np.arange(len(good) * 12, dtype=np.float32).reshape(len(good), 3, 4)
    return Scene(cube=cube, valid=np.ones((3, 4), bool), wavelengths=np.linspace(400, 900, len(good)),
                 good_bands=np.array(good), name="field")


def test_split_usable_keeps_the_layout_and_lets_the_full_cube_go():
    scene = _scene([True, False, True, True, False])
    expected = scene.cube[[0, 2, 3]].copy()
    full = weakref.ref(scene.cube)
    layout, cube = scene.split_usable()
    np.testing.assert_array_equal(cube, expected)
    assert layout.bands == 5 and layout.shape == (3, 4) and layout.name == "field"
    np.testing.assert_array_equal(layout.good_bands, scene.good_bands)
    np.testing.assert_array_equal(layout.usable_wavelengths(), scene.usable_wavelengths())
    assert layout.cube.strides == (0, 0, 0) and np.isnan(layout.cube).all()  # a placeholder: no memory, no pixels
    with pytest.raises(ValueError, match="read-only"):
        layout.cube[0, 0, 0] = 1.0
    del scene
    assert full() is None  # nothing else held the full cube: it is freed


def test_split_usable_of_a_scene_whose_bands_are_all_good_is_the_scene_itself():
    scene = _scene([True] * 4)
    layout, cube = scene.split_usable()
    assert layout is scene and cube is scene.cube
