"""What a prompt does to a synthesis model's patches: drawn as a run draws them, against no prompt, and from noise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np

from .progress import NULL_REPORTER, Reporter
from .report import spectral_angle_deg
from .classify.base import centre_spectra
from .synthetic_check import compare_to_labelled

if TYPE_CHECKING:  # the model module imports torch; this one is imported by the plugin's preview job
    from .ldm.model import SynthesisModel
    from .ldm.synthesize import SyntheticSet


@dataclass
class PromptPreview:
    """A few patches of one class's prompt and what the prompt does to them (angles in degrees, centre spectra)."""

    synthetic: "SyntheticSet"  # the patches shown, as a run makes them where it can (attention of the first kept)
    examples: int  # labelled patches of the class they started from; 0: from noise with the prompt alone
    strength: float  # how far those were noised (1: pure noise)
    prompt_effect_deg: Optional[float]  # mean angle between each patch and the same start denoised without the
    # prompt (guidance 0); None where the patches came from noise (the noise effect says it then)
    noise_effect_deg: float  # the same from noise: the prompt's patches against the model's patches of no prompt
    without_prompt_mean: Optional[np.ndarray]  # (B,) mean centre spectrum of the same start without the prompt
    from_noise_mean: Optional[np.ndarray]  # (B,) mean centre spectrum of patches from noise with the prompt; None
    # where the patches shown are those
    unlike: str  # why the patches do not look like their class ("3 of 4 lie nearer roof's labelled mean"); "" they do


def preview_prompt(model: "SynthesisModel", class_id: int, prompt: str, *, n: int = 4, seed: int = 0,
                   guidance: Optional[float] = None, anchor_strength: float = 1.0,
                   reporter: Reporter = NULL_REPORTER) -> PromptPreview:
    """Draw ``n`` patches of ``prompt`` labelled ``class_id`` as a run draws its training patches, and measure what
    the prompt does.

    The patches start from the class's labelled patches the model keeps (``SynthesisModel.examples_of``), noised to
    ``anchor_strength``, where it keeps some and the strength is below 1; else from noise. Each draw is repeated with
    guidance 0 (no prompt: the model's unconditional pass), with the same seed and start, so the angle between the
    two is what the prompt adds; from noise too, where a random-init text tower that learnt to ignore the prompt
    shows as under a degree. ``guidance``: None is the model's.
    """
    from .ldm.synthesize import synthesize

    examples = model.examples_of(class_id) if anchor_strength < 1 else None
    anchors = {int(class_id): examples} if examples is not None else None
    draw = {"prompts_by_class": {int(class_id): prompt}, "n_per_class": n, "seed": seed}
    parts = (0.0, 0.3, 0.45, 0.85, 1.0) if anchors else (0.0, 0.5, 1.0)
    shown = synthesize(model, **draw, guidance=guidance, return_attention=True, anchors=anchors,
                       strength=anchor_strength if anchors else 1.0, reporter=reporter.sub(parts[0], parts[1]))
    effect, without, from_noise = None, None, None
    if anchors:
        bare = synthesize(model, **draw, guidance=0.0, anchors=anchors, strength=anchor_strength,
                          reporter=reporter.sub(parts[1], parts[2], "without the prompt: "))
        effect, without = _turn(shown.patches, bare.patches), _centre_mean(bare.patches)
        noise = synthesize(model, **draw, guidance=guidance,
                           reporter=reporter.sub(parts[2], parts[3], "from noise: ")).patches
        from_noise = _centre_mean(noise)
    else:
        noise = shown.patches
    unprompted = synthesize(model, **draw, guidance=0.0, reporter=reporter.sub(parts[-2], parts[-1], "no prompt: "))
    check = compare_to_labelled(model, shown.patches, class_id, starts=examples)
    unlike = check.reason() if check is not None else ""
    return PromptPreview(shown, 0 if examples is None else len(examples), anchor_strength if anchors else 1.0,
                         effect, _turn(noise, unprompted.patches), without, from_noise, unlike)


def _centre_mean(patches: np.ndarray) -> np.ndarray:
    """``(B,)`` the mean centre spectrum of ``(N, B, p, p)`` patches."""
    return np.nanmean(centre_spectra(patches), axis=0)


def _turn(patches: np.ndarray, others: np.ndarray) -> float:
    """Mean spectral angle between the centre spectra of two draws of as many patches, patch by patch."""
    return float(np.nanmean([spectral_angle_deg(a, b) for a, b in zip(centre_spectra(patches),
                                                                      centre_spectra(others))]))
