"""Evaluation: the few-label split protocol and the accuracy metrics every method is judged by."""

from .metrics import Evaluation, SeedSummary, confusion_figure, evaluate, format_mean_std, summarize
from .protocol import Split, block_split, class_ids, few_label_split, ids_to_index, index_to_ids

__all__ = [
    "Evaluation", "SeedSummary", "Split", "block_split", "class_ids", "confusion_figure", "evaluate",
    "few_label_split", "format_mean_std", "ids_to_index", "index_to_ids", "summarize",
]
