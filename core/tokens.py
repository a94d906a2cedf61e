"""Which of a prompt's text tokens are words: the panels of the attention dock and of the report's figures."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

MAX_WORDS = 12  # panels shown at most (CLIP prompts are short; more would be unreadable)
START, END = "<start>", "<end>"  # how the text encoder's tokens() names the start/end-of-text tokens
SPECIAL_TOKENS = {START, END, "<start_of_text>", "<end_of_text>", "<|startoftext|>", "<|endoftext|>", "<pad>",
                  "[PAD]", "[CLS]", "[SEP]", "!"}  # "!" is token 0, open_clip's padding
# Articles, prepositions, conjunctions and auxiliaries: their maps say little, so the dock and the report's figures
# show them after the content words (the dock on request). Not "near" ("near infrared") or "open" and the like,
# which describe the class.
FUNCTION_WORDS = frozenset({
    "a", "an", "the", "of", "in", "on", "at", "to", "for", "with", "by", "from", "into", "onto", "over", "under",
    "and", "or", "nor", "but", "as", "than", "that", "which", "this", "these", "those", "its", "it", "is", "are",
    "was", "were", "be", "been", "has", "have"})


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


def is_function_word(word: str) -> bool:
    """Whether ``word`` (a decoded token) is a function word (:data:`FUNCTION_WORDS`), whose map says little."""
    return word.lower() in FUNCTION_WORDS


def panel_words(tokens: Sequence[str], function_words: bool = False,
                limit: Optional[int] = MAX_WORDS) -> list[tuple[int, str]]:
    """``(index, word)`` of the words given a panel: the content words in prompt order, then the function words when
    ``function_words`` (or when the prompt has nothing else); the first ``limit`` of those (None: all)."""
    words = word_tokens(tokens, limit=None)
    content = [(i, w) for i, w in words if not is_function_word(w)]
    if function_words or not content:
        content += [(i, w) for i, w in words if is_function_word(w)]
    return content[:limit]


def hidden_function_words(tokens: Sequence[str], shown: Sequence[tuple[int, str]]) -> list[str]:
    """The prompt's function words that have no panel among ``shown`` (as :func:`panel_words` gives them), each once."""
    indices = {i for i, _ in shown}
    hidden = (w for i, w in word_tokens(tokens, limit=None) if is_function_word(w) and i not in indices)
    return list(dict.fromkeys(hidden))
