"""metadata.txt has what the QGIS plugin repository and Plugin Manager need."""

import configparser
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _general() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO / "metadata.txt", encoding="utf-8")
    return parser["general"]


def test_required_keys_present_and_filled():
    meta = _general()
    for key in ("name", "qgisMinimumVersion", "description", "about", "version", "author", "email", "tracker",
                "repository", "homepage", "hasProcessingProvider", "category", "tags", "icon", "experimental"):
        assert meta.get(key, "").strip(), f"metadata.txt lacks {key}"
    assert meta["name"] == "HyperSynth"
    assert meta["qgisMinimumVersion"] == "3.22"
    assert meta["hasProcessingProvider"] == "yes"
    assert meta["experimental"].lower() in ("true", "false")
    assert "@" in meta["email"]
    for key in ("tracker", "repository", "homepage"):
        assert meta[key].startswith("https://")


def test_version_matches_engine():
    from hypersynth.core.version import ENGINE_VERSION

    assert _general()["version"] == ENGINE_VERSION


def test_about_says_how_to_install_the_python_dependencies():
    about = _general()["about"]
    assert "PyTorch" in about and "open_clip" in about
    assert "pip install" in about and "open_clip_torch" in about and "torch==" in about


def test_icon_file_exists():
    icon = REPO / _general()["icon"]
    assert icon.is_file()
    assert icon.read_text(encoding="utf-8").lstrip().startswith("<svg")
