"""genlab.lab.pdf and ``genlab lab --pdf``: the report printed by headless Chromium, or a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import need_browser, pdf_pages

from genlab.cli import main
from genlab.errors import ConfigError, GenlabError
from genlab.lab.pdf import ENV, find_browser, print_pdf
from genlab.lab.report import Section, TaskReport, write_combined_report


def two_task_page(out: Path) -> Path:
    tasks = []
    for name in ("rbm", "vae"):
        report = TaskReport(name, f"Task {name}", "tiny", "cpu")
        report.add(Section("1.1 Weights", "text", question="What?", answer=["Because 3 units."]))
        tasks.append(report.write(_mkdir(out / name)))
    html, _ = write_combined_report(out, "The lab", "intro", tasks, [], [])
    return html


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def test_a_combined_report_prints_to_a_pdf_with_its_contents_and_each_task_on_a_new_page(tmp_path):
    need_browser()
    page = two_task_page(tmp_path)
    pdf = print_pdf(page, tmp_path / "report.pdf")
    assert pdf_pages(pdf) >= 3  # contents, then each of the two tasks from a new page
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial file left


def test_without_a_browser_lab_pdf_exits_2_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(ConfigError, match=r"^--pdf: needs Chromium or Google Chrome"):
        find_browser()
    out = tmp_path / "lab"
    assert main(["lab", "rbm", "--preset", "tiny", "--out", str(out), "--pdf", "--quiet"]) == 2
    assert "--pdf: needs Chromium" in capsys.readouterr().err
    assert not out.exists()


def test_a_browser_that_fails_leaves_no_pdf_and_says_so_in_one_line(tmp_path, monkeypatch):
    broken = tmp_path / "broken-chrome"
    broken.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setenv(ENV, str(broken))
    page = tmp_path / "report.html"
    page.write_text("<html></html>")
    with pytest.raises(GenlabError, match=r"failed to print .* \(exit 3: cannot open display\)$"):
        print_pdf(page, tmp_path / "report.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken-chrome", "report.html"]
