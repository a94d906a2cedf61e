"""Evidence that synthetic patches are class-faithful: VAE fidelity, per-class SAM, train-on-synthetic-test-on-real.

Usage: .venv/bin/python scripts/synthesis_quality.py --dataset salinasA --labels-per-class 5 --preset fast \
           --out docs/quality
Writes <out>/<dataset>_quality.json, <dataset>_pca.png, <dataset>_spectra.png, <dataset>_attention.png and prints
a Markdown summary (pasted into BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="salinasA")
    parser.add_argument("--labels-per-class", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--per-class", type=int, default=100, help="synthetic patches per class")
    parser.add_argument("--anchor-strength", type=float, default=0.5, help="strength of the anchored variant")
    parser.add_argument("--out", default="docs/quality")
    args = parser.parse_args()

    from hypersynth.core.bench import load_bench_dataset, machine_description
    from hypersynth.core.classify.base import centre_spectra
    from hypersynth.core.classify.baselines import make_baseline
    from hypersynth.core.evaluation.metrics import evaluate
    from hypersynth.core.evaluation.protocol import few_label_split
    from hypersynth.core.ldm.config import preset
    from hypersynth.core.ldm.synthesize import synthesize, synthesize_rpsc
    from hypersynth.core.ldm.training import train_synthesis_model
    from hypersynth.core.report import attention_figure, pca_figure, spectra_figure, spectral_angle_deg

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_bench_dataset(args.dataset)
    scene, classes = data.scene, data.classes
    cube = scene.usable_cube()
    labels = np.where(scene.valid, data.labels, 0)
    split = few_label_split(labels, args.labels_per_class, args.seed, valid=scene.valid)
    train = np.where(split.train_mask, labels, 0)
    cfg = preset(args.preset, seed=args.seed)

    t0 = time.perf_counter()
    model = train_synthesis_model(cube, scene.valid, train, classes, cfg, wavelengths=scene.usable_wavelengths())
    t_train = time.perf_counter() - t0
    vae_hist = model.history["vae"]
    t0 = time.perf_counter()
    syn = synthesize(model, {c.id: c.text for c in classes}, args.per_class, seed=args.seed)
    t_syn = time.perf_counter() - t0
    # Anchored synthesis (what Augment & Classify uses): variations of the labelled patches, strength 0.5.
    from hypersynth.core.patches import extract_patches

    tr_rows, tr_cols, tr_ids = split.train_pixels()
    p = model.patch_size
    anchor_patches = extract_patches(cube, tr_rows, tr_cols, p)
    anchors = {c.id: anchor_patches[tr_ids == c.id] for c in classes}
    anchored = synthesize(model, {c.id: c.text for c in classes}, args.per_class, seed=args.seed,
                          anchors=anchors, strength=args.anchor_strength)

    real_all = {c.id: cube[:, labels == c.id].T for c in classes}
    rows, cols, ids = split.test_pixels()
    test_spec = cube[:, rows, cols].T
    real_train = cube[:, tr_rows, tr_cols].T
    ids_sorted = np.array(sorted(c.id for c in classes))

    def quality(synthetic):
        """Per-class SAM of mean spectra (synthetic vs all real pixels of the class) and train-on-synthetic."""
        spec = centre_spectra(synthetic.patches)
        per_class = []
        for c in classes:
            s = spec[synthetic.labels == c.id]
            sam = spectral_angle_deg(s.mean(0), real_all[c.id].mean(0))
            # the reference a class's own spread gives: mean SAM of real pixels to their class mean
            spread = float(np.mean([spectral_angle_deg(x, real_all[c.id].mean(0)) for x in real_all[c.id][:500]]))
            per_class.append({"id": c.id, "name": c.name, "sam_mean_deg": round(sam, 3),
                              "real_within_class_sam_deg": round(spread, 3)})
        tstr = {}
        for name in ("rf", "svm"):
            res = {}
            for source, x, y in (("real", real_train, tr_ids), ("synthetic", spec, synthetic.labels)):
                clf = make_baseline(name, seed=args.seed).fit(x, np.searchsorted(ids_sorted, y))
                pred = ids_sorted[np.argmax(clf.predict_proba(test_spec), axis=1)]
                res[source] = evaluate(ids, pred, classes).oa
            res["ratio"] = res["synthetic"] / res["real"]
            tstr[name] = res
        return per_class, tstr

    per_class, tstr = quality(syn)
    per_class_anchored, tstr_anchored = quality(anchored)

    real_train_by_class = {c.id: real_all[c.id] for c in classes}
    pca_figure(out / f"{args.dataset}_pca.png", real_train_by_class, syn, classes)
    spectra_figure(out / f"{args.dataset}_spectra.png", real_train_by_class, syn, classes, scene.usable_wavelengths())
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
    (out / f"{args.dataset}_quality.json").write_text(json.dumps(result, indent=2))
    print(f"### Synthesis quality: {args.dataset}, {args.labels_per_class} labels/class, preset {args.preset}, "
          f"seed {args.seed}\n")
    print(f"- VAE held-out reconstruction: RMSE {result['vae_holdout_rmse']:.4f} (standardised units), "
          f"SAM {result['vae_holdout_sam_deg']:.2f}° (physical units)")
    print(f"- Training {t_train:.0f} s, synthesis of {len(syn)} patches {t_syn:.0f} s ({result['machine']})")
    print(f"- Text encoder: {model.text_source}")
    for label, t in (("from the prompt alone", tstr), (f"anchored, strength {args.anchor_strength}", tstr_anchored)):
        for name, r in t.items():
            print(f"- Train-on-synthetic ({label}) / test-on-real, {name.upper()}: OA {r['synthetic'] * 100:.1f} % "
                  f"vs train-on-real {r['real'] * 100:.1f} % (ratio {r['ratio']:.2f})")
    print("\n| class | SAM(mean synthetic, mean real) °, prompt alone | anchored | real within-class SAM ° |\n"
          "|---|---|---|---|")
    for r, a in zip(per_class, per_class_anchored):
        print(f"| {r['name']} | {r['sam_mean_deg']:.2f} | {a['sam_mean_deg']:.2f} | "
              f"{r['real_within_class_sam_deg']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
