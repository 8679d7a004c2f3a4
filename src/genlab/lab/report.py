"""Lab reports: what a task found, rendered as Markdown and as an HTML page.

A task collects :class:`Section` s (the exact configs, figures, tables of numbers and
observations) into a :class:`TaskReport`, which writes ``OUT/TASK/results.json``,
``report.md`` and ``report.html``. :func:`write_combined_report` puts several tasks and a
cross-model summary on one page.

The HTML pages open with a table of contents and print cleanly (``@media print``: no figure
or table cut across pages, each task of the combined page on a new page). Figures are not
embedded: each is shown at half its pixel size, at most :data:`DISPLAY_WIDTH` pixels wide (two
side by side), and links to its PNG file under ``figures/`` beside the page, so a page stays
small (the combined page of every task held 16 MB of embedded PNGs) and keeps working while the
lab directory is kept together.
"""

from __future__ import annotations

import html
import json
import os
import re
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.files import write_bytes, write_json


@dataclass
class Figure:
    path: Path
    caption: str


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""

    def markdown(self) -> str:
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(self.cells(row)) + " |" for row in self.rows]
        if self.note:
            lines += ["", f"_{self.note}_"]
        return "\n".join(lines)

    def cells(self, row: list[Any]) -> list[str]:
        """A row's values as the table prints them: :func:`fmt`, nats (a column named so) to 2 decimals."""
        return [fmt(v, 2 if "nats" in column else None) for column, v in zip(self.columns, row, strict=True)]

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows, "note": self.note}


def form(n: int, one: str, many: str | None = None) -> str:
    """The word for ``n`` things: ``one`` when n is 1, else ``many`` (default: ``one`` + 's').

    >>> form(1, "is", "are"), form(3, "unit")
    ('is', 'units')
    """
    return one if n == 1 else (many or one + "s")


def plural(n: int, one: str, many: str | None = None) -> str:
    """``n`` with its word: '1 dimension', '20 dimensions', '10,000 images'."""
    return f"{n:,} {form(n, one, many)}"


def fmt(value: Any, decimals: int | None = None) -> str:
    """Numbers as a reader wants them in a table; a float with ``decimals`` below 1,000 to that many decimals."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return "n/a"
        if abs(value) >= 1000 or value == int(value) and abs(value) >= 100:
            return f"{value:,.0f}"
        if decimals is not None:
            return f"{value:.{decimals}f}"
        if abs(value) >= 10:
            return f"{value:.2f}"
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@dataclass
class Section:
    """One experiment: what was run, what it drew, what it measured, what that shows."""

    title: str
    text: str = ""
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    observations: list[str] = field(default_factory=list)
    # the lab's question this experiment answers, and the answer in prose from this run's measurements
    question: str = ""
    answer: list[str] = field(default_factory=list)


@dataclass
class TaskReport:
    task: str
    title: str
    preset: str
    device: str
    sections: list[Section] = field(default_factory=list)
    # the task's headline models for the cross-model table: row name -> run directory
    models: dict[str, Path] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def add(self, section: Section) -> Section:
        self.sections.append(section)
        return section

    def to_dict(self, base: Path) -> dict[str, Any]:
        return {
            "task": self.task,
            "title": self.title,
            "preset": self.preset,
            "device": self.device,
            "time_s": round(time.perf_counter() - self.started, 1),
            "models": {name: _rel(path, base) for name, path in self.models.items()},
            "sections": [
                {
                    "title": s.title,
                    "text": s.text,
                    "configs": s.configs,
                    "figures": [{"path": _rel(f.path, base), "caption": f.caption} for f in s.figures],
                    "tables": [t.to_dict() for t in s.tables],
                    "observations": s.observations,
                    "question": s.question,
                    "answer": s.answer,
                }
                for s in self.sections
            ],
        }

    def write(self, directory: Path) -> Path:
        """Write ``results.json``, ``report.md`` and ``report.html`` into the task's directory."""
        results = self.to_dict(directory)
        write_json(directory / "results.json", results)
        write_bytes(directory / "report.md", task_markdown(results, level=1).encode())
        write_bytes(directory / "report.html", page(results["title"], task_html(results, directory, level=1)).encode())
        return directory


def _rel(path: Path, base: Path) -> str:
    return os.path.relpath(Path(path).resolve(), base.resolve())


CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: .8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: right; }
th { background: #f2f2f2; }
td:first-child, th:first-child { text-align: left; }
caption { caption-side: top; font-weight: 600; text-align: left; padding-bottom: .3em; }
.note { color: #555; font-size: 0.88em; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 1em 0; max-width: 100%; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #444; font-size: 0.9em; max-width: 34em; }
nav.toc { background: #f7f7f7; padding: .5em 1.2em; margin: 1em 0; }
nav.toc ol { margin: .2em 0; padding-left: 1.4em; }
nav.toc > ol > li { margin: .3em 0; }
details { margin: .4em 0; font-size: 0.88em; }
pre { background: #f7f7f7; padding: .6em; overflow-x: auto; }
.observations li { margin: .2em 0; }
.answer { border-left: 3px solid #88a; padding: .1em 1em; background: #f8f8fc; }
.meta { color: #555; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  nav.toc { break-after: page; background: none; }
  .task { break-before: page; }
  h1, h2, h3, caption { break-after: avoid; page-break-after: avoid; }
  figure, table, tr, pre, .observations li, .answer p { break-inside: avoid; page-break-inside: avoid; }
  figure img { max-height: 22cm; width: auto; border: none; }
  a { color: inherit; text-decoration: none; }
}
"""

# Figures are shown at half their pixel size, at most this wide (linked to the full-size file).
DISPLAY_WIDTH = 520


def load_results(task_dir: Path) -> dict[str, Any]:
    return json.loads((task_dir / "results.json").read_text())


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels from a PNG file's header."""
    with open(path, "rb") as f:
        header = f.read(24)
    return struct.unpack(">II", header[16:24])


def figure_html(path: Path, src: str, caption: str) -> str:
    """A figure shown at half its size, at most DISPLAY_WIDTH wide, linked to the file; ``src`` is its path
    relative to the page."""
    pixels_wide, pixels_high = png_size(path)
    scale = min(0.5, DISPLAY_WIDTH / pixels_wide)
    width, height = round(pixels_wide * scale), round(pixels_high * scale)
    src, caption = html.escape(src), html.escape(caption)
    return (f'<figure><a href="{src}"><img src="{src}" width="{width}" height="{height}" alt="{caption}"></a>'
            f"<figcaption>{caption}</figcaption></figure>")


def anchor(*parts: str) -> str:
    """An HTML id from words: ('dbn', '2.1 Top-level weights W2') -> 'dbn-2.1-top-level-weights-w2'."""
    return "-".join(re.sub(r"[^a-z0-9.]+", "-", p.lower()).strip("-") for p in parts)


def toc_html(entries: list[tuple[str, str, list[tuple[str, str]]]]) -> str:
    """A table of contents: (id, title, [(id, title) of its sub-entries]) per entry."""
    items = []
    for target, title, subs in entries:
        inner = "".join(f'<li><a href="#{t}">{html.escape(s)}</a></li>' for t, s in subs)
        items.append(f'<li><a href="#{target}">{html.escape(title)}</a>' + (f"<ol>{inner}</ol>" if inner else "") + "</li>")
    return f'<nav class="toc"><strong>Contents</strong><ol>{"".join(items)}</ol></nav>'


def section_entries(results: dict[str, Any]) -> list[tuple[str, str]]:
    """(id, title) of each section of a task's results."""
    return [(anchor(results["task"], s["title"]), s["title"]) for s in results["sections"]]


def table_html(table: Table | dict[str, Any]) -> str:
    t = table if isinstance(table, Table) else Table(**table)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in t.columns)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in t.cells(row)) + "</tr>" for row in t.rows)
    note = f'<p class="note">{html.escape(t.note)}</p>' if t.note else ""
    return f"<table><caption>{html.escape(t.title)}</caption><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{note}"


def task_html(results: dict[str, Any], task_dir: Path, prefix: str = "", level: int = 2) -> str:
    """One task's sections: configs, figures (linked: their paths with ``prefix``, the task directory's
    path from the page), tables and observations; a table of contents on a page of its own (level 1)."""
    h, hs = f"h{level}", f"h{level + 1}"
    heading = f'<{h} id="{anchor(results["task"])}" class="task">{html.escape(results["title"])}</{h}>'
    parts = [heading, f'<p class="meta">Preset <code>{html.escape(results["preset"])}</code>, '
                      f'device {html.escape(results["device"])}, {results.get("time_s", 0):.0f} s.</p>']
    if level == 1:
        parts.append(toc_html([(target, title, []) for target, title in section_entries(results)]))
    for s, (target, _) in zip(results["sections"], section_entries(results)):
        parts.append(f'<{hs} id="{target}">{html.escape(s["title"])}</{hs}>')
        if s.get("text"):
            parts.append(f"<p>{html.escape(s['text'])}</p>")
        for name, cfg in s.get("configs", {}).items():
            parts.append(f"<details><summary>config: {html.escape(name)}</summary><pre>{html.escape(json.dumps(cfg, indent=1))}</pre></details>")
        if s.get("figures"):
            figures = "".join(figure_html(task_dir / f["path"], prefix + f["path"], f["caption"]) for f in s["figures"])
            parts.append(f'<div class="figures">{figures}</div>')
        parts.extend(table_html(t) for t in s.get("tables", []))
        if s.get("observations"):
            items = "".join(f"<li>{html.escape(o)}</li>" for o in s["observations"])
            parts.append(f'<ul class="observations">{items}</ul>')
        if s.get("answer"):
            paragraphs = [f"<strong>Question.</strong> {html.escape(s['question'])}"] + [
                ("<strong>Answer.</strong> " if i == 0 else "") + html.escape(a) for i, a in enumerate(s["answer"])]
            parts.append('<div class="answer">' + "".join(f"<p>{p}</p>" for p in paragraphs) + "</div>")
    return "\n".join(parts)


def task_markdown(results: dict[str, Any], prefix: str = "", level: int = 2) -> str:
    h, hs = "#" * level, "#" * (level + 1)
    out = [f"{h} {results['title']}", "", f"Preset `{results['preset']}`, device {results['device']}, {results.get('time_s', 0):.0f} s.", ""]
    for s in results["sections"]:
        out += [f"{hs} {s['title']}", ""]
        if s.get("text"):
            out += [s["text"], ""]
        for name, cfg in s.get("configs", {}).items():
            out += [f"<details><summary>config: {name}</summary>", "", "```json", json.dumps(cfg, indent=1), "```", "", "</details>", ""]
        for f in s.get("figures", []):
            out += [f"![{f['caption']}]({prefix}{f['path']})", "", f"*{f['caption']}*", ""]
        for t in s.get("tables", []):
            out += [Table(**t).markdown(), ""]
        out += [f"- {o}" for o in s.get("observations", [])]
        if s.get("answer"):
            out += ([""] if out[-1] else []) + [f"**Question.** {s['question']}", ""]
            for i, a in enumerate(s["answer"]):
                out += [("**Answer.** " if i == 0 else "") + a, ""]
        out.append("")
    return "\n".join(out)


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def write_combined_report(
    out: Path,
    title: str,
    intro: str,
    task_dirs: list[Path],
    summary_tables: list[Table],
    summary_figures: list[tuple[Path, str]],
) -> tuple[Path, Path]:
    """``OUT/report.html`` and ``OUT/report.md``: the summary first, then every task;
    ``OUT/results.json``: the summary tables and where each task's results are."""
    results = [(d, load_results(d)) for d in task_dirs]
    write_json(out / "results.json", {"title": title, "intro": intro, "summary": [t.to_dict() for t in summary_tables],
                                      "tasks": [_rel(d, out) for d in task_dirs]})
    summary = "All models side by side"
    toc = [(anchor("summary"), summary, [])] + [(anchor(r["task"]), r["title"], section_entries(r)) for _, r in results]
    body = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(intro)}</p>", toc_html(toc)]
    md = [f"# {title}", "", intro, ""]
    body.append(f'<h2 id="{anchor("summary")}">{summary}</h2>')
    md += [f"## {summary}", ""]
    for t in summary_tables:
        body.append(table_html(t))
        md += [t.markdown(), ""]
    for path, caption in summary_figures:
        body.append(figure_html(path, _rel(path, out), caption))
        md += [f"![{caption}]({path.relative_to(out)})", "", f"*{caption}*", ""]
    for d, r in results:
        body.append(task_html(r, d, prefix=_rel(d, out) + "/", level=2))
        md.append(task_markdown(r, prefix=f"{d.relative_to(out)}/", level=2))
    html_path = write_bytes(out / "report.html", page(title, "\n".join(body)).encode())
    md_path = write_bytes(out / "report.md", "\n".join(md).encode())
    return html_path, md_path
