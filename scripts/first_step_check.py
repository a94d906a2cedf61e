"""Patches synthesised from pure noise with the sampler's first step as it was (the clean-latent estimate clipped to
±5) and as it is (the latents' mean, ``sampling.FIRST_STEP_ALPHA``): how near their class's mean their centre pixels
land (BENCHMARKS §3, session 47). Run from the repository root after a demo run (about 30 s on 2 CPU cores):

    .venv/bin/python scripts/first_step_check.py [out/demo]
"""

from __future__ import annotations

import sys

import numpy as np

from hypersynth.core.ldm.model import SynthesisModel
from hypersynth.core.ldm import sampling
from hypersynth.core.ldm.synthesize import synthesize
from hypersynth.core.io.read import read_scene
from hypersynth.core.io.labels import read_labels
from hypersynth.core.io.classes import read_classes
out = sys.argv[1] if len(sys.argv) > 1 else "out/demo"  # a demo run's folder (its model_bundle and scene/)
model = SynthesisModel.load(f"{out}/model_bundle", device="cpu")
classes = read_classes(f"{out}/run_classes.json")
scene = read_scene(f"{out}/scene/demo_scene.tif")
truth, _ = read_labels(f"{out}/scene/demo_ground_truth.tif", scene, classes=classes)
cube = scene.cube[scene.good_bands]
means = {c.id: cube[:, truth == c.id].mean(axis=1) for c in classes if (truth == c.id).any()}
prompts = {c.id: c.text for c in classes if c.id in means}
def sam(a, b): return np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))
for label, alpha in (("clipped first step (before)", 0.0), ("mean first step (session 47)", sampling.FIRST_STEP_ALPHA)):
    sampling.FIRST_STEP_ALPHA = alpha
    syn = synthesize(model, prompts, 16, seed=0, guidance=2.0)
    p = syn.patches.shape[-1] // 2
    centre = syn.patches[:, :, p, p]  # (N, B)
    right, sams = 0, []
    for spec, lab in zip(centre, syn.labels):
        nearest = min(means, key=lambda k: sam(spec, means[k]))
        right += nearest == lab
        sams.append(sam(spec, means[int(lab)]))
    print(f"{label}: nearest class mean right for {right / len(centre):.2f} of the patches' centres, SAM to their "
          f"class's mean {np.mean(sams):.1f} deg, values clipped to the learnt range per patch {np.mean(syn.clipped):.1f}")
