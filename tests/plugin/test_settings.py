"""Settings round-trip through QgsSettings and refuse values the engine would not understand."""

from __future__ import annotations

import pytest
from qgis.core import QgsSettings
from qgis.PyQt.QtCore import QSettings

from hypersynth.plugin.settings import HyperSynthSettings


@pytest.fixture
def store(tmp_path):
    settings = QgsSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    yield settings
    settings.clear()


def test_defaults_when_nothing_is_stored(store):
    assert HyperSynthSettings.load(store) == HyperSynthSettings()
    assert HyperSynthSettings().device == "auto" and HyperSynthSettings().preset == "fast"


def test_save_then_load_round_trip(store, tmp_path):
    chosen = HyperSynthSettings(device="cuda", clip_weights=str(tmp_path / "clip.safetensors"), preset="full",
                                output_dir=str(tmp_path / "out"))
    chosen.save(store)
    assert store.value("hypersynth/device") == "cuda"
    assert HyperSynthSettings.load(store) == chosen


def test_invalid_values_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        HyperSynthSettings(device="tpu")
    with pytest.raises(ValueError, match="tiny, fast, full"):
        HyperSynthSettings(preset="huge")


def test_invalid_stored_values_fall_back_to_defaults(store):
    store.setValue("hypersynth/device", "tpu")
    store.setValue("hypersynth/preset", "huge")
    store.setValue("hypersynth/output_dir", "/data/results")
    loaded = HyperSynthSettings.load(store)
    assert loaded.device == "auto" and loaded.preset == "fast" and loaded.output_dir == "/data/results"


def test_save_validates_changed_fields(store):
    settings = HyperSynthSettings()
    settings.device = "gpu"
    with pytest.raises(ValueError, match="device"):
        settings.save(store)
