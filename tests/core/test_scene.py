"""A scene's usable cube and its layout: the run holds the usable bands' pixels once, the layout stays."""

import weakref

import numpy as np
import pytest

from hypersynth.core.scene import Scene


def _scene(good):
    bands = len(good)
    cube = np.empty((bands, 3, 4), dtype=np.float32)  # owns its memory, as a read scene's cube does
    cube[:] = np.arange(bands * 12, dtype=np.float32).reshape(bands, 3, 4)
    return Scene(cube=cube, valid=np.ones((3, 4), bool), wavelengths=np.linspace(400, 900, bands),
                 good_bands=np.array(good), name="field")


def _check_layout(layout, scene):
    assert layout.bands == 5 and layout.shape == (3, 4) and layout.name == "field"
    np.testing.assert_array_equal(layout.good_bands, scene.good_bands)
    np.testing.assert_array_equal(layout.usable_wavelengths(), scene.usable_wavelengths())
    for placeholder in (layout.cube, scene.cube):  # the scene gave its pixels up: no memory, no pixels
        assert placeholder.shape == (5, 3, 4) and placeholder.strides == (0, 0, 0) and np.isnan(placeholder).all()
        with pytest.raises(ValueError, match="read-only"):
            placeholder[0, 0, 0] = 1.0


def test_split_usable_turns_a_cube_nothing_else_holds_into_the_usable_cube_without_a_copy():
    scene = _scene([True, False, True, True, False])
    expected = scene.cube[[0, 2, 3]].copy()
    layout, cube = scene.split_usable()
    np.testing.assert_array_equal(cube, expected)
    assert cube.flags.owndata and cube.flags.c_contiguous and cube.nbytes == expected.nbytes  # the tail went back
    _check_layout(layout, scene)


def test_split_usable_when_numpy_cannot_shorten_the_cube_gives_its_front():
    scene = _scene([True, False, True, True, False])
    expected = scene.cube[[0, 2, 3]].copy()
    watched = weakref.ref(scene.cube)  # a weak reference: no holder of the pixels, but numpy will not resize
    layout, cube = scene.split_usable()
    np.testing.assert_array_equal(cube, expected)
    assert cube.base is watched()  # the front of the whole buffer
    _check_layout(layout, scene)


def test_split_usable_copies_the_good_bands_of_a_cube_held_elsewhere_and_leaves_it_whole():
    scene = _scene([True, False, True, True, False])
    held = scene.cube
    before = held.copy()
    layout, cube = scene.split_usable()
    np.testing.assert_array_equal(cube, before[[0, 2, 3]])
    np.testing.assert_array_equal(held, before)  # the other holder's pixels are untouched
    _check_layout(layout, scene)


def test_split_usable_copies_the_good_bands_of_a_view():
    scene = _scene([True, False, True, True, False])
    base = np.concatenate([scene.cube, scene.cube])
    scene.cube = base[:5]  # a view into a larger array
    layout, cube = scene.split_usable()
    np.testing.assert_array_equal(cube, base[[0, 2, 3]])
    np.testing.assert_array_equal(base[:5], base[5:])  # the array it views is untouched
    _check_layout(layout, scene)


def test_split_usable_of_a_scene_whose_bands_are_all_good_is_the_scene_itself():
    scene = _scene([True] * 4)
    layout, cube = scene.split_usable()
    assert layout is scene and cube is scene.cube
