"""scripts/synthesis_quality.py and scripts/preset_timings.py on the embedded demo scene with the tiny preset: the
sweep and ablation rows are measured (not copied), and the per-epoch clock splits a run into its epochs."""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_script(name: str) -> ModuleType:
    """A file of scripts/, imported by path: scripts/ is not a package."""
    spec = importlib.util.spec_from_file_location(f"hypersynth_script_{name}", REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _ticks(times) -> Callable[[], float]:
    """A fake clock: each reading is the next of ``times`` (no wall time enters the test)."""
    readings = iter(times)
    return lambda: float(next(readings))


def test_stage_clock_splits_epochs_at_the_next_stage() -> None:
    clock = load_script("preset_timings").StageClock(_ticks((0, 2, 5, 6, 10)))  # read once per new stage
    for stage in ("VAE 1/2", "VAE 1/2", "VAE 2/2", "latents", "diffusion 1/2", "diffusion 2/2", "diffusion 2/2"):
        clock(0.5, stage)
    assert [s for s, _ in clock.starts] == ["VAE 1/2", "VAE 2/2", "latents", "diffusion 1/2", "diffusion 2/2"]
    assert clock.epoch_seconds("VAE", end=20.0) == [2.0, 3.0]
    assert clock.epoch_seconds("diffusion", end=20.0) == [4.0, 10.0]


@pytest.mark.parametrize("cap, run", [("tiny=1", (1, 1)), ("tiny=1/2", (1, 2))])
def test_preset_timings_projects_a_capped_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cap: str,
                                              run: tuple[int, int]) -> None:
    script = load_script("preset_timings")
    monkeypatch.setattr(script, "now", _ticks(itertools.count()))  # every reading 1 s after the last
    out = tmp_path / "timings.json"
    monkeypatch.setattr(sys, "argv", ["preset_timings.py", "--dataset", "demo", "--presets", "tiny",
                                      "--max-epochs", cap, "--per-class", "3", "--json", str(out)])
    assert script.main() == 0
    row = json.loads(out.read_text())["presets"][0]
    assert row["epochs_run"] == {"vae": run[0], "diffusion": run[1]}
    assert row["epochs_configured"] == {"vae": 2, "diffusion": 2}
    # one reading per stage start: each epoch lasts one tick, and the projection adds the epochs the cap skipped
    assert row["seconds_per_vae_epoch"] == row["seconds_per_diffusion_epoch"] == 1.0
    assert row["vae_epoch_seconds"] == [1.0] * run[0] and row["diffusion_epoch_seconds"] == [1.0] * run[1]
    assert row["projected"] and row["seconds_training_projected"] == row["seconds_training_measured"] + 4 - sum(run)
    assert row["n_synthetic"] == 3 * 6


def test_preset_timings_refuses_a_bad_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    script = load_script("preset_timings")
    monkeypatch.setattr(sys, "argv", ["preset_timings.py", "--dataset", "demo", "--max-epochs", "full=3/0"])
    with pytest.raises(SystemExit):
        script.main()


@pytest.mark.slow  # three tiny trainings and ~20 RF/SVM fits: about a minute on 2 idle cores
def test_synthesis_quality_sweep_and_ablations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = load_script("synthesis_quality")
    monkeypatch.setattr(sys, "argv", ["synthesis_quality.py", "--dataset", "demo", "--preset", "tiny", "--per-class",
                                      "6", "--sweep", "--ablate", "--out", str(tmp_path)])
    assert script.main() == 0
    result = json.loads((tmp_path / "demo_quality.json").read_text())
    for name in ("pca", "spectra", "attention"):
        assert (tmp_path / f"demo_{name}.png").stat().st_size > 0
    sweep = result["sweep"]
    # every ω of the grid, prompt alone and anchored, plus the strengths at the tiny preset's ω = 2 (not in the grid)
    assert {(r["guidance"], r["strength"]) for r in sweep} >= {(w, s) for w in script.GUIDANCE_GRID for s in (1.0, 0.5)}
    assert {r["strength"] for r in sweep if r["guidance"] == 2.0} == set(script.STRENGTH_GRID)
    for r in sweep:
        assert 0 <= r["tstr_rf"] <= 2 and 0 <= r["tstr_svm"] <= 2 and 0 <= r["sam_mean_deg"] <= r["sam_max_deg"] < 90
    # the ablation table starts with the model measured above, then the two retrained variants
    first = result["ablations"][0]
    assert first["variant"].startswith("both on") and first["tstr_rf"] == round(result["tstr"]["rf"]["ratio"], 3)
    assert [r["variant"] for r in result["ablations"][2:]] == ["RPSC off"] * 2 + ["LF-UE off"] * 2
