"""How patches a synthesis model sampled for a class compare with that class's labelled mean spectrum."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np

if TYPE_CHECKING:
    from .ldm.model import SynthesisModel

# Patches are said not to look like their class when more than this share lies nearer another class's labelled mean
# (a run's filter drops those), or when their mean is this many times as bright as the class's, or this share of it.
UNLIKE_SHARE = 0.5
BRIGHTNESS_LIMIT = 2.0


@dataclass
class SyntheticCheck:
    """Synthetic patches of one class against the class's labelled mean spectrum (the model's ``class_spectra``)."""

    class_name: str  # the class the patches are labelled with
    patches: int  # how many were compared
    angle: float  # degrees between the patches' mean centre spectrum and the class's labelled mean
    brightness: float  # the patches' mean centre value over the class's labelled mean value
    nearer_other: dict[str, int]  # patches whose centre spectrum is nearest another class's labelled mean, by class
    anchored: bool = False  # they started from labelled patches of the class (else from noise with the prompt alone)
    starts_unlike: int = 0  # of the labelled patches they started from, how many lie nearer another class already

    @property
    def unlike(self) -> bool:
        """Whether the patches do not look like their class: most lie nearer another class, or far brighter or
        darker."""
        others = sum(self.nearer_other.values())
        return (others > UNLIKE_SHARE * self.patches
                or (math.isfinite(self.brightness) and not 1 / BRIGHTNESS_LIMIT <= self.brightness <= BRIGHTNESS_LIMIT))

    def sentence(self) -> str:
        """What the comparison found, and what it means for patches used as training data."""
        others = sum(self.nearer_other.values())
        where = (f" ({', '.join(f'{name}: {k}' for name, k in Counter(self.nearer_other).most_common())})"
                 if others else "")
        text = (f"the {self.patches} patches' mean centre spectrum is {self.angle:.1f}° from {self.class_name}'s "
                f"labelled mean and {self.brightness:.2f} × as bright; {others} of {self.patches} lie nearer "
                f"another class's labelled mean (spectral angle){where}")
        if self.unlike and self.anchored and self.starts_unlike:
            text += (f": they do not look like {self.class_name}, and {self.starts_unlike} of the labelled patches "
                     "they started from already lie nearer another class's labelled mean (mixed or edge pixels), so "
                     "do not take these as training data as they are (a run starts from all your labels and drops "
                     "those nearer another class)")
        elif self.unlike and self.anchored:
            text += (f": they do not look like {self.class_name}, though they started from its labelled patches: the "
                     "prompt took them away, so do not take these as training data as they are (a prompt nearer what "
                     "the labels show, or a lower anchor strength, keeps them nearer; a run also drops those nearer "
                     "another class)")
        elif self.unlike:
            text += (f": they do not look like {self.class_name}. They were sampled from noise with the prompt alone; "
                     "a run starts its patches from the labelled ones and drops those nearer another class, so do "
                     "not take these as training data as they are (a longer-trained model, the fast or full preset, "
                     "samples nearer the labels)")
        return text

    def reason(self) -> str:
        """Why they do not look like their class, in a few words ("3 of 4 lie nearer another class's labelled mean",
        "6.8 × as bright as your labels"); "" where they do."""
        if not self.unlike:
            return ""
        others = sum(self.nearer_other.values())
        if others > UNLIKE_SHARE * self.patches:
            return f"{others} of {self.patches} lie nearer another class's labelled mean"
        return f"{self.brightness:.2g} × as bright as your labels"


def compare_to_labelled(model: "SynthesisModel", patches: np.ndarray, class_id: int,
                        starts: Optional[np.ndarray] = None) -> Optional[SyntheticCheck]:
    """Compare ``(N, B, p, p)`` patches labelled ``class_id`` with the labelled class means ``model`` (a
    :class:`~.ldm.model.SynthesisModel`) learnt; ``starts``: the labelled patches they started from (None: from
    noise), counted too where they lie nearer another class. None for a class the model was not trained on, or no
    patches."""
    from .classify.base import centre_spectra
    from .pseudo_labels import nearest_mean_index
    from .report import brightness_ratio, spectral_angle_deg

    ids = [c.id for c in model.classes]
    if int(class_id) not in ids or len(patches) == 0:
        return None
    names = [c.name for c in model.classes]
    means = np.asarray(model.class_spectra, dtype=np.float64)  # (K, B) the labelled mean per class
    own = ids.index(int(class_id))
    centres = np.asarray(centre_spectra(patches), dtype=np.float64)  # (N, B)
    mean = np.nanmean(centres, axis=0)  # (B,)
    nearest = nearest_mean_index(np.nan_to_num(centres), means)  # (N,)
    nearer = Counter(names[k] for k in nearest if k != own)
    brightness = brightness_ratio(mean, means[own])  # the synthetic summary's measures, as a run's report gives them
    return SyntheticCheck(class_name=names[own], patches=len(centres), angle=spectral_angle_deg(mean, means[own]),
                          brightness=math.nan if brightness is None else brightness, nearer_other=dict(nearer),
                          anchored=starts is not None, starts_unlike=0 if starts is None else int(
                              (nearest_mean_index(np.nan_to_num(centre_spectra(starts)), means) != own).sum()))
