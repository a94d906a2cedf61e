"""The analyst's words in the reports' Markdown: escaped so a name stays one table cell and reads as typed, in the
Markdown file, in its HTML twin, and on a machine whose default encoding is not UTF-8."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hypersynth.core.markdown_text import md_text
from hypersynth.core.report import write_markdown_and_html

NAMES = ["asphalt | road", "**bare** soil", "<img src=x onerror=alert(1)>", "water <lake> & \"pond\" &amp;",
         "Corn_senesced_green_weeds", "_edge_ [link](x) `code`", "back\\slash \\| pipe", "grün κ 绿", "~~old~~ field #2"]


@pytest.mark.parametrize("name", NAMES)
def test_a_name_in_a_table_cell_stays_one_cell_and_reads_as_typed(tmp_path, name):
    write_markdown_and_html(tmp_path, ["| id | class | pixels |", "|---:|---|---:|", f"| 1 | {md_text(name)} | 7 |"])
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    cells = re.findall(r"<td>(.*?)</td>", page)
    assert len(cells) == 3 and cells[0] == "1" and cells[2] == "7", cells
    assert html.unescape(cells[1]) == name  # no <b>, no <code>, no lost character
    assert "<img" not in page and "<lake>" not in page  # escaped in the HTML
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "<img" not in md.replace("\\<img", "")  # a Markdown viewer passing HTML through shows it as text


def test_a_line_break_in_a_name_keeps_the_row_on_one_line():
    assert md_text("open\nwater") == "open water"
    assert md_text("Corn_senesced") == "Corn_senesced"  # an underscore inside a word is never emphasis
    assert md_text("_x_") == "\\_x\\_"


def test_the_report_writes_utf8_whatever_the_systems_default_encoding(tmp_path):
    """The report was written in the locale's encoding: on a system without UTF-8 (Windows' cp1252 has no κ) the
    run failed at its last stage, after all the training (review)."""
    lines = ["# κ σ − grün", "", "| a |", "|---|", "| 绿 |"]
    script = ("import locale, sys; from pathlib import Path; "  # ASCII: such a system's command line holds no more
              "from hypersynth.core.report import write_markdown_and_html; "
              "encoding = locale.getpreferredencoding(False); "
              "assert encoding.lower() not in ('utf-8', 'utf8'), encoding; "
              f"write_markdown_and_html(Path(sys.argv[1]), {ascii(lines)})")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    done = subprocess.run([sys.executable, "-X", "utf8=0", "-c", script, str(tmp_path)], env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "κ σ − grün" in Path(tmp_path / "report.md").read_text(encoding="utf-8")
    assert "<td>绿</td>" in Path(tmp_path / "report.html").read_text(encoding="utf-8")
