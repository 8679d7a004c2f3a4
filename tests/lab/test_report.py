"""genlab.lab.report: task reports and the combined page, checked as text and in a real browser."""

from __future__ import annotations

import ast
import json
import struct
from pathlib import Path

import pytest
import torch
from browser import ARTIFACTS, check_in_browser
from helpers import unformatted_placeholders

import genlab.lab
from genlab.figures import plots
from genlab.lab.report import (
    Figure,
    Section,
    Table,
    TaskReport,
    figure_html,
    form,
    plural,
    table_html,
    write_combined_report,
)


def make_task(out: Path, task: str = "rbm") -> Path:
    directory = out / task
    fig = plots.grid_figure(torch.rand(16, 8, 8), directory / "figures" / "grid.png", nrow=4, title="random")
    report = TaskReport(task, f"Task {task}", "tiny", "cpu")
    report.add(Section("Comparison", text="what was run", configs={"reference": {"hidden": 100}},
                       figures=[Figure(fig, "a grid <of> images")],
                       tables=[Table("k", ["variant", "loglik"], [["CD-1", -100.5], ["CD-10", -95.25]], note="quick")],
                       observations=["CD-10 is 5.25 nats above CD-1"]))
    return report.write(directory)


def test_task_report_writes_json_markdown_and_html_linking_its_figures(tmp_path):
    d = make_task(tmp_path)
    results = json.loads((d / "results.json").read_text())
    assert results["sections"][0]["figures"][0]["path"] == "figures/grid.png"
    md = (d / "report.md").read_text()
    assert "| CD-10 | -95.25 |" in md and "![a grid <of> images](figures/grid.png)" in md
    page = (d / "report.html").read_text()
    assert '<a href="figures/grid.png"><img src="figures/grid.png"' in page and "a grid &lt;of&gt; images" in page
    assert "base64" not in page


def test_table_html_escapes_and_formats():
    html = table_html(Table("t", ["a<b", "x"], [["<i>", 0.123456789], ["n", None]]))
    assert "a&lt;b" in html and "&lt;i&gt;" in html and "0.1235" in html and "n/a" in html


def test_a_column_of_nats_prints_two_decimals_and_the_others_four_below_ten():
    table = Table("t", ["gap (nats)", "recon error"], [[-1.56, 0.0123456], [12.345, 1.5]])
    assert table.cells(table.rows[0]) == ["-1.56", "0.0123"] and table.cells(table.rows[1]) == ["12.35", "1.5000"]
    assert "<td>-1.56</td>" in table_html(table) and "| -1.56 | 0.0123 |" in table.markdown()


def test_combined_report_puts_the_summary_first(tmp_path):
    d = make_task(tmp_path)
    fig = plots.grid_figure(torch.rand(4, 8, 8), tmp_path / "figures" / "side.png", nrow=4)
    html_path, md_path = write_combined_report(tmp_path, "All", "intro", [d], [Table("summary", ["model"], [["RBM"]])],
                                               [(fig, "side by side")])
    page = html_path.read_text()
    assert page.index("summary") < page.index("Task rbm") and page.count("<img") == 2
    assert "](rbm/figures/grid.png)" in md_path.read_text()


def png_header(path: Path, width: int, height: int) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I4sII", 13, b"IHDR", width, height) + bytes(5))
    return path


def test_figures_are_shown_at_half_their_pixel_size_at_most_520_wide_and_link_to_the_file(tmp_path):
    shown = figure_html(png_header(tmp_path / "f.png", 300, 201), "figures/f.png", "a <caption>")
    assert 'width="150" height="100"' in shown and '<a href="figures/f.png">' in shown and "a &lt;caption&gt;" in shown
    assert 'width="520" height="260"' in figure_html(png_header(tmp_path / "g.png", 1500, 750), "g.png", "wide")


def test_task_page_has_a_table_of_contents_linking_every_section_and_print_rules(tmp_path):
    d = make_task(tmp_path)
    page = (d / "report.html").read_text()
    toc = page[page.index('<nav class="toc">'):page.index("</nav>")]
    assert '<a href="#rbm-comparison">Comparison</a>' in toc and '<h2 id="rbm-comparison">' in page
    assert "@media print" in page and "break-inside: avoid" in page


def test_combined_report_has_a_table_of_contents_of_tasks_and_their_sections(tmp_path):
    d = make_task(tmp_path)
    html_path, _ = write_combined_report(tmp_path, "All", "intro", [d], [Table("summary", ["model"], [["RBM"]])], [])
    page = html_path.read_text()
    toc = page[page.index('<nav class="toc">'):page.index("</nav>")]
    assert ['#summary', '#rbm', '#rbm-comparison'] == [part.split('"')[0] for part in toc.split('href="')[1:]]
    assert '<img src="rbm/figures/grid.png"' in page and page.index("</nav>") < page.index("All models side by side</h2>")


def test_plural_and_form_agree_with_the_count():
    assert [plural(n, "thread") for n in (0, 1, 2)] == ["0 threads", "1 thread", "2 threads"]
    assert plural(10_000, "image") == "10,000 images" and plural(1, "class", "classes") == "1 class"
    assert [form(n, "is", "are") for n in (1, 3)] == ["is", "are"]


@pytest.mark.browser
def test_task_report_renders_in_chromium(tmp_path):
    d = make_task(tmp_path)
    seen = check_in_browser(d / "report.html", ARTIFACTS / "task-report.png")
    assert seen["widths"] and all(w > 0 for w in seen["widths"])
    assert seen["tables"] == 1 and seen["errors"] == []


def test_the_placeholder_pattern_finds_unformatted_fields_and_not_json_or_css():
    assert unformatted_placeholders("with the same {results['dbn'].get('bound_samples')} samples") == ["{results["]
    assert unformatted_placeholders("{n:,} and {p.note} and {x}") == ["{n:", "{p.", "{x}"]
    assert unformatted_placeholders('{"epochs": 2, "lr": {}} body { margin: 0 }') == []


def test_no_string_of_the_lab_holds_a_placeholder_outside_an_f_string():
    """A literal beside an f-string without its own f prefix (the DBN table note once printed
    '{results['dbn'].get('bound_samples')}') is an ast.Constant holding the braces."""
    found = []
    for path in sorted(Path(genlab.lab.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and unformatted_placeholders(node.value):
                found.append(f"{path.name}:{node.lineno}: {node.value[:60]!r}")
    assert found == []
