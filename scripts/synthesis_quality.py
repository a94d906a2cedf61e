"""Evidence that synthetic patches are class-faithful: VAE fidelity, per-class SAM, train-on-synthetic-test-on-real.

Usage: .venv/bin/python scripts/synthesis_quality.py --dataset salinasA --labels-per-class 5 --preset fast \
           --out docs/quality [--sweep] [--ablate]
Writes <out>/<dataset>_quality.json, <dataset>_pca.png, <dataset>_spectra.png, <dataset>_attention.png and prints
a Markdown summary (pasted into BENCHMARKS.md).

--sweep also samples the trained model at several guidance weights ω (prompt alone and anchored) and anchor
strengths (at the preset's ω); --ablate retrains with RPSC off and with LF-UE off (same seed, same labels) and
measures both variants the same way. Every figure is train-on-synthetic/test-on-real on the test pixels of the
few-label split and per-class mean-spectrum SAM: evidence about the synthesis, not a choice for the product
(Augment & Classify's settings were fixed before these were run and are not tuned on them).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

GUIDANCE_GRID = (0.0, 1.0, 3.0, 6.0)  # ω: unconditional, conditional, the presets' default, strong
STRENGTH_GRID = (0.25, 0.5, 0.75, 1.0)  # anchored: how far a labelled patch is noised (1 = pure noise)


class Judge:
    """Measures a synthetic set against the real labels of one few-label split (SAM per class, TSTR)."""

    def __init__(self, cube: np.ndarray, labels: np.ndarray, split: Any, classes: list, seed: int) -> None:
        from hypersynth.core.report import spectral_angle_deg

        self.classes, self.seed = classes, seed
        self.real_all = {c.id: cube[:, labels == c.id].T for c in classes}
        self.real_mean = {k: v.mean(0) for k, v in self.real_all.items()}
        # the reference a class's own spread gives: mean SAM of (up to 500) real pixels to their class mean
        self.real_spread = {k: float(np.mean([spectral_angle_deg(x, self.real_mean[k]) for x in v[:500]]))
                            for k, v in self.real_all.items()}
        rows, cols, self.test_ids = split.test_pixels()
        self.test_spec = cube[:, rows, cols].T
        tr_rows, tr_cols, self.train_ids = split.train_pixels()
        self.train_spec = cube[:, tr_rows, tr_cols].T
        self.ids_sorted = np.array(sorted(c.id for c in classes))
        self.real_oa = {name: self._oa(name, self.train_spec, self.train_ids) for name in ("rf", "svm")}

    def _oa(self, name: str, x: np.ndarray, y: np.ndarray) -> float:
        from hypersynth.core.classify.baselines import make_baseline
        from hypersynth.core.evaluation.metrics import evaluate

        clf = make_baseline(name, seed=self.seed).fit(x, np.searchsorted(self.ids_sorted, y))
        pred = self.ids_sorted[np.argmax(clf.predict_proba(self.test_spec), axis=1)]
        return evaluate(self.test_ids, pred, self.classes).oa

    def __call__(self, synthetic: Any) -> tuple[list[dict], dict]:
        """Per-class SAM of mean spectra (synthetic vs all real pixels of the class) and train-on-synthetic."""
        from hypersynth.core.classify.base import centre_spectra
        from hypersynth.core.report import spectral_angle_deg

        spec = centre_spectra(synthetic.patches)
        per_class = []
        for c in self.classes:
            sam = spectral_angle_deg(spec[synthetic.labels == c.id].mean(0), self.real_mean[c.id])
            per_class.append({"id": c.id, "name": c.name, "sam_mean_deg": round(sam, 3),
                              "real_within_class_sam_deg": round(self.real_spread[c.id], 3)})
        tstr = {}
        for name, real_oa in self.real_oa.items():
            syn_oa = self._oa(name, spec, synthetic.labels)
            tstr[name] = {"real": real_oa, "synthetic": syn_oa, "ratio": syn_oa / real_oa}
        return per_class, tstr


def summary(per_class: list[dict], tstr: dict) -> dict:
    """One row of a sweep table: TSTR ratios and the mean/largest per-class SAM."""
    sams = [r["sam_mean_deg"] for r in per_class]
    return {"tstr_rf": round(tstr["rf"]["ratio"], 3), "tstr_svm": round(tstr["svm"]["ratio"], 3),
            "sam_mean_deg": round(float(np.mean(sams)), 3), "sam_max_deg": round(float(np.max(sams)), 3),
            "classes_below_5deg": int(sum(s < 5 for s in sams))}


def sample(model: Any, classes: list, n: int, seed: int, guidance: float | None = None,
           anchors: dict | None = None, strength: float = 1.0) -> Any:
    from hypersynth.core.ldm.synthesize import synthesize

    return synthesize(model, {c.id: c.text for c in classes}, n, seed=seed, guidance=guidance,
                      anchors=anchors if strength < 1 else None, strength=strength)


def sweep(model: Any, classes: list, judge: Judge, anchors: dict, n: int, seed: int, anchor_strength: float,
          known: dict[tuple[float, float], tuple[list[dict], dict]]) -> list[dict]:
    """TSTR and SAM over guidance weights (prompt alone and anchored) and anchor strengths (at the model's ω).
    ``known`` holds what was already measured, by (ω, strength): the same seed gives the same samples."""
    default = model.config.diffusion.guidance
    points = [(omega, strength) for omega in GUIDANCE_GRID for strength in (1.0, anchor_strength)]
    points += [(default, strength) for strength in STRENGTH_GRID if (default, strength) not in points]
    rows = []
    for omega, strength in points:
        measured = known.get((omega, strength)) or judge(sample(model, classes, n, seed, omega, anchors, strength))
        rows.append({"guidance": omega, "strength": strength, **summary(*measured)})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="salinasA")
    parser.add_argument("--labels-per-class", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--per-class", type=int, default=100, help="synthetic patches per class")
    parser.add_argument("--anchor-strength", type=float, default=0.5, help="strength of the anchored variant")
    parser.add_argument("--sweep", action="store_true", help="also sample at several ω and anchor strengths")
    parser.add_argument("--ablate", action="store_true", help="also retrain with RPSC off and with LF-UE off")
    parser.add_argument("--out", default="docs/quality")
    parser.add_argument("--summarize", nargs="+", metavar="JSON",
                        help="print one table over earlier results (<dataset>_quality.json files) and stop")
    args = parser.parse_args()
    if args.summarize:
        print_cross_scene([json.loads(Path(f).read_text()) for f in args.summarize])
        return 0

    from hypersynth.core.attention import attention_figure
    from hypersynth.core.bench import load_bench_dataset
    from hypersynth.core.bench_tables import machine_description
    from hypersynth.core.evaluation.protocol import few_label_split
    from hypersynth.core.ldm.config import preset
    from hypersynth.core.ldm.synthesize import synthesize_rpsc
    from hypersynth.core.ldm.training import train_synthesis_model
    from hypersynth.core.patches import extract_patches
    from hypersynth.core.report import pca_figure, spectra_figure

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_bench_dataset(args.dataset)
    scene, classes = data.scene, data.classes
    cube = scene.usable_cube()
    labels = np.where(scene.valid, data.labels, 0)
    split = few_label_split(labels, args.labels_per_class, args.seed, valid=scene.valid)
    train = np.where(split.train_mask, labels, 0)
    judge = Judge(cube, labels, split, classes, args.seed)

    def train_model(**overrides: Any) -> tuple[Any, float]:
        t0 = time.perf_counter()
        model = train_synthesis_model(cube, scene.valid, train, classes, preset(args.preset, seed=args.seed, **overrides),
                                      wavelengths=scene.usable_wavelengths())
        return model, time.perf_counter() - t0

    model, t_train = train_model()
    vae_hist = model.history["vae"]
    t0 = time.perf_counter()
    syn = sample(model, classes, args.per_class, args.seed)
    t_syn = time.perf_counter() - t0
    # Anchored synthesis (what Augment & Classify uses): variations of the labelled patches.
    tr_rows, tr_cols, tr_ids = split.train_pixels()
    anchor_patches = extract_patches(cube, tr_rows, tr_cols, model.patch_size)
    anchors = {c.id: anchor_patches[tr_ids == c.id] for c in classes}
    anchored = sample(model, classes, args.per_class, args.seed, anchors=anchors, strength=args.anchor_strength)
    per_class, tstr = judge(syn)
    per_class_anchored, tstr_anchored = judge(anchored)

    pca_figure(out / f"{args.dataset}_pca.png", judge.real_all, syn, classes)
    spectra_figure(out / f"{args.dataset}_spectra.png", judge.real_all, syn, classes, scene.usable_wavelengths())
    a, b = classes[0].id, classes[-1].id
    mixed = synthesize_rpsc(model, a, b, 4, seed=args.seed, return_attention=True)
    tokens = mixed.tokens[0] if mixed.tokens else []
    h = model.latent_shape[1]
    attention_figure(out / f"{args.dataset}_attention.png", mixed.attention[0][:, :, :len(tokens)], tokens, (h, h),
                     mixed.prompts[0])

    result = {
        "dataset": args.dataset, "preset": args.preset, "labels_per_class": args.labels_per_class, "seed": args.seed,
        "machine": machine_description(), "text_source": model.text_source,
        "vae_holdout_rmse": float(vae_hist["holdout_rmse"][-1]),
        "vae_holdout_sam_deg": float(vae_hist["holdout_sam_degrees"][-1]),
        "per_class": per_class, "tstr": tstr, "anchor_strength": args.anchor_strength,
        "per_class_anchored": per_class_anchored, "tstr_anchored": tstr_anchored, "seconds_train": round(t_train, 1),
        "seconds_synthesis": round(t_syn, 1), "n_synthetic": int(len(syn)),
    }
    if args.sweep:
        known = {(model.config.diffusion.guidance, 1.0): (per_class, tstr),
                 (model.config.diffusion.guidance, args.anchor_strength): (per_class_anchored, tstr_anchored)}
        result["sweep"] = sweep(model, classes, judge, anchors, args.per_class, args.seed, args.anchor_strength, known)
    if args.ablate:
        result["ablations"] = [{"variant": "both on (as trained above)", "strength": strength,
                                "seconds_train": round(t_train, 1), **summary(pc, t)}
                               for strength, pc, t in ((1.0, per_class, tstr),
                                                       (args.anchor_strength, per_class_anchored, tstr_anchored))]
        for name, overrides in (("RPSC off", {"diffusion__rpsc_probability": 0.0}),
                                ("LF-UE off", {"diffusion__lfue_strength": 0.0})):
            variant, seconds = train_model(**overrides)
            for strength in (1.0, args.anchor_strength):
                row = summary(*judge(sample(variant, classes, args.per_class, args.seed, anchors=anchors,
                                            strength=strength)))
                result["ablations"].append({"variant": name, "strength": strength, "seconds_train": round(seconds, 1),
                                            **row})
    (out / f"{args.dataset}_quality.json").write_text(json.dumps(result, indent=2))
    print_markdown(result)
    return 0


def print_markdown(result: dict) -> None:
    """The summary pasted into BENCHMARKS.md."""
    print(f"### Synthesis quality: {result['dataset']}, {result['labels_per_class']} labels/class, "
          f"preset {result['preset']}, seed {result['seed']}\n")
    print(f"- VAE held-out reconstruction: RMSE {result['vae_holdout_rmse']:.4f} (standardised units), "
          f"SAM {result['vae_holdout_sam_deg']:.2f}° (physical units)")
    print(f"- Training {result['seconds_train']:.0f} s, synthesis of {result['n_synthetic']} patches "
          f"{result['seconds_synthesis']:.0f} s ({result['machine']})")
    print(f"- Text encoder: {result['text_source']}")
    for label, t in (("from the prompt alone", result["tstr"]),
                     (f"anchored, strength {result['anchor_strength']}", result["tstr_anchored"])):
        for name, r in t.items():
            print(f"- Train-on-synthetic ({label}) / test-on-real, {name.upper()}: OA {r['synthetic'] * 100:.1f} % "
                  f"vs train-on-real {r['real'] * 100:.1f} % (ratio {r['ratio']:.2f})")
    print("\n| class | SAM(mean synthetic, mean real) °, prompt alone | anchored | real within-class SAM ° |\n"
          "|---|---|---|---|")
    for r, a in zip(result["per_class"], result["per_class_anchored"]):
        print(f"| {r['name']} | {r['sam_mean_deg']:.2f} | {a['sam_mean_deg']:.2f} | "
              f"{r['real_within_class_sam_deg']:.2f} |")
    columns = "TSTR RF | TSTR SVM | mean SAM ° | largest SAM ° | classes < 5° |"
    if "sweep" in result:
        print(f"\n| ω | start | {columns}\n|---|---|---|---|---|---|---|")
        for r in result["sweep"]:
            start = "prompt alone" if r["strength"] >= 1 else f"anchored {r['strength']}"
            print(f"| {r['guidance']:g} | {start} | {_cells(r)}")
    if "ablations" in result:
        print(f"\n| training | start | train s | {columns}\n|---|---|---|---|---|---|---|---|")
        for r in result["ablations"]:
            start = "prompt alone" if r["strength"] >= 1 else f"anchored {r['strength']}"
            print(f"| {r['variant']} | {start} | {r['seconds_train']:.0f} | {_cells(r)}")


def print_cross_scene(results: list[dict]) -> None:
    """One row per scene: VAE fidelity, then TSTR and SAM for prompt-only and anchored synthesis."""
    print("| scene | VAE held-out SAM ° | start | TSTR RF | TSTR SVM | mean SAM ° | largest SAM ° | classes < 5° | "
          "train s |\n|---|---|---|---|---|---|---|---|---|")
    for r in results:
        for start, pc, t in (("prompt alone", r["per_class"], r["tstr"]),
                             (f"anchored {r['anchor_strength']}", r["per_class_anchored"], r["tstr_anchored"])):
            row = summary(pc, t)
            print(f"| {r['dataset']} ({len(pc)} classes) | {r['vae_holdout_sam_deg']:.2f} | {start} | {_cells(row)} "
                  f"{r['seconds_train']:.0f} |")
    swept = [r for r in results if "sweep" in r]
    if not swept:
        return
    print(f"\nTrain-on-synthetic / train-on-real (RF / SVM) and the largest class SAM (°), by guidance ω:\n\n"
          f"| scene | start | {' | '.join(f'ω = {w:g}' for w in GUIDANCE_GRID)} |\n|---|---|{'---|' * len(GUIDANCE_GRID)}")
    for r in swept:
        for strength in (1.0, r["anchor_strength"]):
            cells = {row["guidance"]: row for row in r["sweep"] if row["strength"] == strength}
            start = "prompt alone" if strength >= 1 else f"anchored {strength}"
            print(f"| {r['dataset']} | {start} | " + " | ".join(
                f"{cells[w]['tstr_rf']:.2f} / {cells[w]['tstr_svm']:.2f} · {cells[w]['sam_max_deg']:.1f}°"
                for w in GUIDANCE_GRID if w in cells) + " |")
    print(f"\nThe same by anchor strength (1 = pure noise, the prompt alone), at each model's ω:\n\n"
          f"| scene | {' | '.join(f'{s:g}' for s in STRENGTH_GRID)} |\n|---|{'---|' * len(STRENGTH_GRID)}")
    for r in swept:
        omega = max((row["guidance"] for row in r["sweep"] if row["strength"] not in (1.0, r["anchor_strength"])),
                    default=None)
        cells = {row["strength"]: row for row in r["sweep"] if row["guidance"] == omega}
        print(f"| {r['dataset']} | " + " | ".join(
            f"{cells[s]['tstr_rf']:.2f} / {cells[s]['tstr_svm']:.2f} · {cells[s]['sam_max_deg']:.1f}°"
            if s in cells else "" for s in STRENGTH_GRID) + " |")


def _cells(r: dict) -> str:
    return (f"{r['tstr_rf']:.2f} | {r['tstr_svm']:.2f} | {r['sam_mean_deg']:.2f} | {r['sam_max_deg']:.2f} | "
            f"{r['classes_below_5deg']} |")


if __name__ == "__main__":
    raise SystemExit(main())
