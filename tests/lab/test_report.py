"""genlab.lab.report: task reports and the combined page, checked as text and in a real browser."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import torch
from browser import ARTIFACTS, check_in_browser

from genlab.figures import plots
from genlab.lab.report import (
    Figure,
    Section,
    Table,
    TaskReport,
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


def test_task_report_writes_json_markdown_and_self_contained_html(tmp_path):
    d = make_task(tmp_path)
    results = json.loads((d / "results.json").read_text())
    assert results["sections"][0]["figures"][0]["path"] == "figures/grid.png"
    md = (d / "report.md").read_text()
    assert "| CD-10 | -95.25 |" in md and "![a grid <of> images](figures/grid.png)" in md
    page = (d / "report.html").read_text()
    png = base64.b64encode((d / "figures" / "grid.png").read_bytes()).decode()
    assert f"data:image/png;base64,{png}" in page and "a grid &lt;of&gt; images" in page


def test_table_html_escapes_and_formats():
    html = table_html(Table("t", ["a<b", "x"], [["<i>", 0.123456789], ["n", None]]))
    assert "a&lt;b" in html and "&lt;i&gt;" in html and "0.1235" in html and "n/a" in html


def test_combined_report_puts_the_summary_first(tmp_path):
    d = make_task(tmp_path)
    fig = plots.grid_figure(torch.rand(4, 8, 8), tmp_path / "figures" / "side.png", nrow=4)
    html_path, md_path = write_combined_report(tmp_path, "All", "intro", [d], [Table("summary", ["model"], [["RBM"]])],
                                               [(fig, "side by side")])
    page = html_path.read_text()
    assert page.index("summary") < page.index("Task rbm") and page.count("<img") == 2
    assert "](rbm/figures/grid.png)" in md_path.read_text()


@pytest.mark.browser
def test_task_report_renders_in_chromium(tmp_path):
    d = make_task(tmp_path)
    seen = check_in_browser(d / "report.html", ARTIFACTS / "task-report.png")
    assert seen["widths"] and all(w > 0 for w in seen["widths"])
    assert seen["tables"] == 1 and seen["errors"] == []
