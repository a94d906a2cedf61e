"""HyperSynth's Processing algorithms, one per file; ALGORITHMS lists the classes the provider loads."""

from .augment_and_classify import AugmentAndClassifyAlgorithm
from .benchmark import BenchmarkAlgorithm
from .classify_baseline import ClassifyBaselineAlgorithm
from .classify_with_bundle import ClassifyWithBundleAlgorithm
from .synthesize import SynthesizeAlgorithm

ALGORITHMS = (ClassifyBaselineAlgorithm, AugmentAndClassifyAlgorithm, ClassifyWithBundleAlgorithm,
              SynthesizeAlgorithm, BenchmarkAlgorithm)

__all__ = ["ALGORITHMS", "AugmentAndClassifyAlgorithm", "BenchmarkAlgorithm", "ClassifyBaselineAlgorithm",
           "ClassifyWithBundleAlgorithm", "SynthesizeAlgorithm"]
