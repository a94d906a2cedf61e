"""What the analyst typed (class names, prompts, file names), made safe to put into the reports' Markdown."""

from __future__ import annotations

import re

# Markdown reads these as markup anywhere in a line: code spans, emphasis, links and images, raw HTML, table cells,
# GitHub's strikethrough, a heading's closing hashes
_MARKUP = re.compile(r"([\\`*\[\]<|~#])")
_EDGE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")  # an intraword one is never emphasis
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")  # "&amp;" would show as "&"


def md_text(text: object) -> str:
    """``text`` as literal Markdown on one line: markup characters backslash-escaped (CommonMark lets any ASCII
    punctuation be), line breaks as spaces, so "asphalt | road" stays one table cell and "**bare** soil" or
    "<lake>" read as typed in a Markdown viewer and in the report's HTML."""
    one_line = " ".join(str(text).splitlines())
    return _ENTITY.sub(r"\\&", _EDGE_UNDERSCORE.sub(r"\\_", _MARKUP.sub(r"\\\1", one_line)))


# A backslash escape in the report's Markdown: what _inline shows as the character itself
ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
# A table row's cell separators: the pipes not escaped
CELL_SEPARATOR = re.compile(r"(?<!\\)\|")
