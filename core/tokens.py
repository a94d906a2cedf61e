"""Which of a prompt's text tokens are words: the panels of the attention dock and of the report's figures."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

MAX_WORDS = 12  # panels shown at most (CLIP prompts are short; more would be unreadable)
START, END = "<start>", "<end>"  # how the text encoder's tokens() names the start/end-of-text tokens
SPECIAL_TOKENS = {START, END, "<start_of_text>", "<end_of_text>", "<|startoftext|>", "<|endoftext|>", "<pad>",
                  "[PAD]", "[CLS]", "[SEP]", "!"}  # "!" is token 0, open_clip's padding


def word_tokens(tokens: Sequence[str], limit: Optional[int] = MAX_WORDS) -> list[tuple[int, str]]:
    """``(index, word)`` of the tokens worth a panel: not start/end/padding, not pure punctuation; the first
    ``limit`` (None: all)."""
    words = []
    for index, token in enumerate(tokens):
        text = token.replace("</w>", "").strip()
        if not text or token in SPECIAL_TOKENS or text in SPECIAL_TOKENS or text.startswith("<|"):
            continue
        if not any(ch.isalnum() for ch in text):
            continue
        words.append((index, text))
    return words[:limit]


def token_table(tokens: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Each prompt's tokens as a ``(N, longest)`` text array padded with "" and ``(N,)`` their counts: how the
    attention files (a run's ``attention.npz``, ``synthesize --attention``'s) keep them."""
    width = max((len(t) for t in tokens), default=0)
    table = np.full((len(tokens), width), "", dtype="U64")
    for i, pieces in enumerate(tokens):
        table[i, :len(pieces)] = list(pieces)
    return table, np.array([len(t) for t in tokens], np.int32)
