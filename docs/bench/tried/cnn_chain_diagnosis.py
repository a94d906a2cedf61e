"""Diagnosis (test pixels used: not a tuning run): where the synthesis -> pseudo-label -> CNN chain breaks.

Run from the folder above the repository (import name hypersynth), session 9's code (commit e242b5f):
PYTHONPATH=.. HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python docs/bench/tried/cnn_chain_diagnosis.py salinasA 5 4
"""
import sys, time, json
from dataclasses import replace
import numpy as np
from hypersynth.core import methods as M
from hypersynth.core.bench import load_bench_dataset
from hypersynth.core.evaluation.protocol import few_label_split
from hypersynth.core.classify.predict import pixel_patches, predict_pixels
from hypersynth.core.pseudo_labels import select_pseudo_labels

ds, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = load_bench_dataset(ds); scene = data.scene
cube = scene.usable_cube(); valid = scene.valid
labels = np.where(valid, data.labels, 0)
settings = M.MethodSettings(seed=seed)
split = few_label_split(labels, n, seed, kind="random", patch_size=M.preset_patch_size(settings), valid=valid)
tl = np.where(split.train_mask, labels, 0)
rows, cols = np.nonzero((tl > 0) & valid); ids = tl[rows, cols]; class_ids = np.unique(ids); y = np.searchsorted(class_ids, ids)
p = M.resolve_patch_size(settings, cube, valid)
real = pixel_patches(cube, valid, rows, cols, p)
tr, tc = np.nonzero(split.test_mask); truth = labels[tr, tc]
def oa(clf):
    pr = predict_pixels(clf, cube, tr, tc, batch_size=1024, valid=valid)
    return float((class_ids[pr.argmax(1)] == truth).mean())
t=time.time()
model = M.scene_model(cube, valid, tl, data.classes, settings, wavelengths=scene.usable_wavelengths())
print("model", time.time()-t, flush=True)
used = M._used_classes(data.classes, class_ids)
out = {}
def prec(part):
    pp, pi, _ = part
    return None
def pseudo(clf):
    ps = select_pseudo_labels(clf, cube, valid, tl > 0, M.real_class_means(real, y), 40, seed=seed, rule="threshold")
    pr = float((class_ids[ps.index] == labels[ps.rows, ps.cols]).mean())
    return (pixel_patches(cube, valid, ps.rows, ps.cols, p), ps.index, settings.pseudo_weight), pr
syn1, _ = M._synthesize_for(model, used, class_ids, real, y, real, y, settings, M.NULL_REPORTER)
S1 = M._synthetic_part(syn1, class_ids, settings)
cA = M._fit_weighted(settings, p, [(real, y, 1.0), S1], M.NULL_REPORTER); out["cnn real+syn1"] = oa(cA)
cB = M._cnn_for(settings, p); cB.fit(real, y); out["cnn real"] = oa(cB)
PA, out["pseudoA precision"] = pseudo(cA)
PB, out["pseudoB precision"] = pseudo(cB)
print(out, flush=True)
def syn_from(part):
    anchors = np.concatenate([real, part[0]]); ay = np.concatenate([y, part[1]])
    s, _ = M._synthesize_for(model, used, class_ids, anchors, ay, real, y, settings, M.NULL_REPORTER, seed_offset=1)
    return M._synthetic_part(s, class_ids, settings)
S2A = syn_from(PA)
for label, kw in [("seed", {}), ("no early stop", {"val_fraction": 0.0})]:
    for sd in (seed, seed + 100):
        st = replace(settings, seed=sd)
        samples, lab, w = M._weighted_parts([(real, y, 1.0), PA, S2A])
        from hypersynth.core.classify.cnn import SpectralSpatialCNN, cnn_preset
        c = SpectralSpatialCNN(patch_size=p, seed=sd, **{**cnn_preset("fast"), **kw}).fit(samples, lab, sample_weight=w)
        h = c.history
        print(label, sd, "OA", round(oa(c), 4), "best_epoch", c.best_epoch, "ran", len(h),
              "val", [round(x["val_loss"], 3) for x in h[:25]], flush=True)
