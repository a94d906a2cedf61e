"""What each class's prompt, and an unrelated one, does to a trained synthesis model's patches, as the dock's prompt
preview measures it (``core.prompt_preview``): run after ``make demo`` (its model is ``out/demo/model_bundle``).

For each class and prompt it prints, in degrees (spectral angles of centre spectra, 4 patches, seed 0): how far the
prompt turns patches started from the class's kept labelled patches at anchor strength 0.5 against the same start
without the prompt, the same from noise, and how far patches from noise with the prompt lie from the class's
labelled mean. Run from the repository root (about 20 s on 2 CPU cores):

    .venv/bin/python scripts/prompt_effect.py [--model out/demo/model_bundle] [--other "fresh snow on a glacier"]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from hypersynth.core.ldm.model import SynthesisModel
from hypersynth.core.prompt_preview import preview_prompt
from hypersynth.core.report import spectral_angle_deg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="out/demo/model_bundle", help="a trained synthesis model's folder")
    parser.add_argument("--other", default="fresh snow on a glacier", help="an unrelated prompt to compare with")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = SynthesisModel.load(args.model, device="cpu")
    print(f"text encoder: {model.text_source}")
    print("| class | prompt | turn from the labelled start (°) | turn from noise (°) | from noise to the labels (°) |")
    print("|---|---|---:|---:|---:|")
    for k, info in enumerate(model.classes):
        for prompt in (info.text, args.other):
            preview = preview_prompt(model, info.id, prompt, anchor_strength=0.5)
            noise = spectral_angle_deg(preview.from_noise_mean, np.asarray(model.class_spectra[k], np.float64))
            print(f"| {info.name} | {prompt} | {preview.prompt_effect_deg:.2f} | {preview.noise_effect_deg:.2f} | "
                  f"{noise:.1f} |")


if __name__ == "__main__":
    main()
