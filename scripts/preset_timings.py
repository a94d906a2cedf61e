"""How long each synthesis preset takes to train and sample on this machine, measured (or projected per epoch).

Usage: .venv/bin/python scripts/preset_timings.py --dataset salinasA --presets tiny fast full \
           --max-epochs full=2 --json docs/quality/preset_timings.json
A preset runs its configured epochs unless --max-epochs caps them (``full=2``: two VAE and two denoiser epochs;
``full=25/5``: 25 VAE and 5 denoiser epochs);
a capped run reports the measured seconds per epoch and projects the configured length from them. The
projection leaves out what the short run never reaches (the discriminator joins the full preset's VAE after
epoch 20), so it is a lower bound, and says so.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

now: Callable[[], float] = time.perf_counter  # the clock every figure is read from (tests put a fake one here)


class StageClock:
    """A progress callback that notes when each stage ("VAE 3/12", "latents", "diffusion 7/30") starts."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.starts: list[tuple[str, float]] = []

    def __call__(self, fraction: float, stage: str) -> None:
        if not self.starts or self.starts[-1][0] != stage:
            self.starts.append((stage, self.clock()))

    def epoch_seconds(self, prefix: str, end: float) -> list[float]:
        """Seconds of each epoch of the stages named ``prefix e/E``, the last one ending at the next stage."""
        marks = self.starts
        out = []
        for i, (stage, t) in enumerate(marks):
            if stage.startswith(prefix + " "):
                nxt = marks[i + 1][1] if i + 1 < len(marks) else end
                out.append(nxt - t)
        return out


def time_preset(name: str, data: Any, cap: tuple[int, int] | None, seed: int, per_class: int) -> dict:
    from hypersynth.core.evaluation.protocol import few_label_split
    from hypersynth.core.ldm.config import preset
    from hypersynth.core.ldm.synthesize import synthesize
    from hypersynth.core.ldm.training import train_synthesis_model
    from hypersynth.core.progress import CallbackReporter

    scene, classes = data.scene, data.classes
    configured = preset(name, seed=seed)
    overrides = {}
    if cap:
        overrides = {"vae__epochs": min(cap[0], configured.vae.epochs),
                     "diffusion__epochs": min(cap[1], configured.diffusion.epochs)}
    cfg = preset(name, seed=seed, **overrides)
    labels = np.where(scene.valid, data.labels, 0)
    split = few_label_split(labels, 5, seed, valid=scene.valid)  # 5 labels per class, as in the benchmark
    train = np.where(split.train_mask, labels, 0)
    clock = StageClock(now)
    t0 = now()
    model = train_synthesis_model(scene.usable_cube(), scene.valid, train, classes, cfg,
                                  reporter=CallbackReporter(clock), wavelengths=scene.usable_wavelengths())
    end = now()
    vae_epochs, diffusion_epochs = clock.epoch_seconds("VAE", end), clock.epoch_seconds("diffusion", end)
    measured = end - t0
    # The first epoch carries set-up (workers, allocator); the per-epoch rate is the later epochs' when there are any.
    def rate(seconds: list[float]) -> float:
        return float(np.mean(seconds[1:] if len(seconds) > 1 else seconds)) if seconds else 0.0

    rest = measured - sum(vae_epochs) - sum(diffusion_epochs)
    projected = rest + rate(vae_epochs) * configured.vae.epochs + rate(diffusion_epochs) * configured.diffusion.epochs
    t0 = now()
    synthetic = synthesize(model, {c.id: c.text for c in classes}, per_class, seed=seed)
    seconds_synthesis = now() - t0
    return {
        "preset": name, "device": str(model.device), "text_source": model.text_source,
        "epochs_run": {"vae": cfg.vae.epochs, "diffusion": cfg.diffusion.epochs},
        "epochs_configured": {"vae": configured.vae.epochs, "diffusion": configured.diffusion.epochs},
        "vae_epoch_seconds": [round(x, 2) for x in vae_epochs],
        "diffusion_epoch_seconds": [round(x, 2) for x in diffusion_epochs],
        "seconds_per_vae_epoch": round(rate(vae_epochs), 2), "seconds_per_diffusion_epoch": round(rate(diffusion_epochs), 2),
        "seconds_other": round(rest, 1), "seconds_training_measured": round(measured, 1),
        "seconds_training_projected": round(projected, 1), "projected": (cfg.vae.epochs, cfg.diffusion.epochs) != (configured.vae.epochs, configured.diffusion.epochs),
        "n_synthetic": int(len(synthetic)), "sample_steps": cfg.diffusion.sample_steps,
        "seconds_synthesis": round(seconds_synthesis, 2),
        "n_scene_patches": int(model.history.get("n_scene_patches", 0)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="salinasA")
    parser.add_argument("--presets", nargs="+", default=["tiny", "fast", "full"])
    parser.add_argument("--max-epochs", nargs="*", default=["full=2"], metavar="PRESET=N[/M]",
                        help="cap a preset's VAE and denoiser epochs (N for both, or N VAE and M denoiser epochs) "
                             "and project the rest (default: full=2)")
    parser.add_argument("--per-class", type=int, default=100, help="patches per class in the synthesis timing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="docs/quality/preset_timings.json")
    args = parser.parse_args()

    from hypersynth.core.bench import load_bench_dataset
    from hypersynth.core.bench_tables import machine_description

    caps = {}
    for item in args.max_epochs:
        key, _, value = item.partition("=")
        vae, _, denoiser = value.partition("/")
        denoiser = denoiser or vae
        if not (vae.isdigit() and denoiser.isdigit()) or min(int(vae), int(denoiser)) < 1:
            parser.error(f"--max-epochs takes PRESET=N or PRESET=N/M with N, M >= 1, got {item!r}")
        caps[key] = (int(vae), int(denoiser))
    data = load_bench_dataset(args.dataset)
    rows = [time_preset(name, data, caps.get(name), args.seed, args.per_class) for name in args.presets]
    result = {"dataset": args.dataset, "machine": machine_description(), "presets": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"Machine: {result['machine']}; scene {args.dataset}\n")
    print("| preset | device | epochs VAE / denoiser | s per VAE epoch | s per denoiser epoch | training s | "
          "synthesis |\n|---|---|---|---|---|---|---|")
    for r in rows:
        ep = r["epochs_configured"]
        training = (f"{r['seconds_training_projected']:.0f} projected from {r['epochs_run']['vae']} + "
                    f"{r['epochs_run']['diffusion']} epochs ({r['seconds_training_measured']:.0f} measured)"
                    if r["projected"] else f"{r['seconds_training_measured']:.0f}")
        print(f"| {r['preset']} | {r['device']} | {ep['vae']} / {ep['diffusion']} | {r['seconds_per_vae_epoch']:.2f} | "
              f"{r['seconds_per_diffusion_epoch']:.2f} | {training} | {r['n_synthetic']} patches, "
              f"{r['sample_steps']} steps: {r['seconds_synthesis']:.1f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
