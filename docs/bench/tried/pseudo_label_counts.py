"""How many pseudo-labels the session 11 design draws, with and without synthesis (a diagnosis; no test pixel
is used: the counts come from the fitted method's report notes).

    PYTHONPATH=<parent of the checkout> HYPERSYNTH_DATA_DIR=../shared/data .venv/bin/python \
        docs/bench/tried/pseudo_label_counts.py salinasA 2 0 [cnn-pseudo,augment] [threshold|rank]

The rule defaults to threshold, the session 11-12 design the stored output was made with.
"""

import sys
from dataclasses import replace

import numpy as np
import torch

from hypersynth.core.bench import load_bench_dataset
from hypersynth.core.evaluation.protocol import few_label_split
from hypersynth.core.methods import MethodSettings, fit_method, preset_patch_size, scene_model

torch.set_num_threads(2)
dataset, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
methods = (sys.argv[4] if len(sys.argv) > 4 else "cnn-pseudo").split(",")
rule = sys.argv[5] if len(sys.argv) > 5 else "threshold"
data = load_bench_dataset(dataset)
scene = data.scene
cube = scene.usable_cube()
labels = np.where(scene.valid, data.labels, 0)
settings = MethodSettings(preset="fast", seed=seed, pseudo_rule=rule)
split = few_label_split(labels, n, seed, kind="random", patch_size=preset_patch_size(settings), valid=scene.valid)
train = np.where(split.train_mask, labels, 0)
model = scene_model(cube, scene.valid, train, data.classes, settings, wavelengths=scene.usable_wavelengths())
for method in methods:
    fitted = fit_method(method, cube, scene.valid, train, data.classes, replace(settings, synthesis_model=model))
    print(f"## {dataset} N={n} seed {seed} {method} ({rule})")
    for note in fitted.notes:
        if "pseudo" in note or "classifier blend" in note:
            print("-", note[:400])
    sys.stdout.flush()
